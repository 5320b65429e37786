"""The k-mer SVM reference on the demo rotations."""
import json

import figures
import svm_baseline


def test_svm_baseline_writes_json_that_figures_read(demo_dir, tmp_path):
    out = tmp_path / 'svm_baseline.json'
    assert svm_baseline.main(['--dataset', demo_dir, '--version', 'T', '--rotations', '0', '2',
                              '--out', str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result['per_rotation']) == 2 and result['name'] == '3-mer linear SVM'
    assert 0.8 < result['mean'] <= 1.0                     # the demo families are learnable
    assert figures.load_baseline(str(tmp_path))['mean'] == result['mean']


def test_svm_baseline_missing_dataset_exits_2(tmp_path, capsys):
    assert svm_baseline.main(['--dataset', str(tmp_path), '--out', str(tmp_path / 'x.json')]) == 2
    assert 'no dataset' in capsys.readouterr().err

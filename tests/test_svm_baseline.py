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
    table = figures.summary_table({}, figures.load_baseline(str(tmp_path)))
    assert list(table.columns[:2]) == ['rotation 0', 'rotation 2']  # the rotations that ran


def test_svm_baseline_keeps_each_rotation_and_resumes(demo_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'svm_baseline.json'
    real = svm_baseline.evaluate_rotation

    def fail_on_rotation_1(dat, k):
        if dat['rotation'] == 1:
            raise OSError('killed')                       # as if the job died there
        return real(dat, k)
    monkeypatch.setattr(svm_baseline, 'evaluate_rotation', fail_on_rotation_1)
    argv = ['--dataset', demo_dir, '--version', 'T', '--rotations', '0', '1', '--out', str(out)]
    assert svm_baseline.main(argv) == 2
    assert json.loads(out.read_text())['rotations'] == [0]          # rotation 0 kept
    monkeypatch.setattr(svm_baseline, 'evaluate_rotation', real)
    assert svm_baseline.main(argv) == 0
    result = json.loads(out.read_text())
    assert result['rotations'] == [0, 1] and len(result['per_rotation']) == 2
    assert 'rotation 0: done before' in capsys.readouterr().err


def test_svm_baseline_missing_dataset_exits_2(tmp_path, capsys):
    assert svm_baseline.main(['--dataset', str(tmp_path), '--out', str(tmp_path / 'x.json')]) == 2
    assert 'no dataset' in capsys.readouterr().err

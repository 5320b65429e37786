"""The k-mer SVM reference on the demo rotations."""
import json

import pytest

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

    def fail_on_rotation_1(dat, k, jobs):
        if dat['rotation'] == 1:
            raise OSError('killed')                       # as if the job died there
        return real(dat, k, jobs)
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


@pytest.mark.slow
def test_svm_baseline_jobs_solve_the_same_problems(demo_dir):
    import pfam_loader
    dat = pfam_loader.load_rotation(demo_dir, 0, 'T')
    one, _ = svm_baseline.evaluate_rotation(dat, 3, jobs=1)
    two, _ = svm_baseline.evaluate_rotation(dat, 3, jobs=2)
    assert two == pytest.approx(one, abs=0.01)       # one-vs-rest either way; liblinear shuffles
    assert 0.8 < two <= 1.0


def test_svm_baseline_bad_jobs_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        svm_baseline.main(['--jobs', '0', '--out', str(tmp_path / 'x.json')])
    assert stop.value.code == 2 and 'must be a positive integer' in capsys.readouterr().err

"""bench.py: the quick mode's report (the real figures come from `python bench.py`)."""
import json

import pytest

import bench


@pytest.mark.slow
def test_bench_quick_mode_reports_the_types_asked_for(tmp_path):
    out = tmp_path / 'bench.json'
    assert bench.main(['--quick', '--types', 'mha', '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert [m['model_type'] for m in report['models']] == ['mha']
    for row in report['models']:
        assert row['train_bucketed_samples_per_s'] > 0 and row['train_padded_samples_per_s'] > 0
        assert row['inference_sequences_per_s'] > 0 and row['inference_sequences'] == 100
    assert '| mha |' in (tmp_path / 'bench.md').read_text()


def test_course_scale_needs_its_source_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, 'COURSE_SOURCE', str(tmp_path / 'absent.csv.gz'))
    assert bench.main(['--scale', 'course', '--out', str(tmp_path / 'c.json')]) == 2
    assert 'make_course_scale.py' in capsys.readouterr().err


@pytest.mark.slow
def test_course_scale_reports_the_padded_baseline_beside_the_bucketed_rate(tmp_path,
                                                                            monkeypatch):
    import pfam_build
    source = tmp_path / 'course.csv'
    pfam_build.make_demo_records(n_families=6, seed=2, min_count=40, max_count=50).to_csv(
        source, index=False)
    monkeypatch.setattr(bench, 'COURSE_SOURCE', str(source))
    monkeypatch.setattr(bench, 'COURSE_DIR', str(tmp_path / 'course'))
    out = tmp_path / 'c.json'
    assert bench.main(['--scale', 'course', '--quick', '--types', 'rnn', '--steps', '4',
                       '--warmup', '1', '--out', str(out)]) == 0
    [row] = json.loads(out.read_text())['models']
    assert row['padded_steps'] == 2 and row['train_padded_samples_per_s'] > 0
    assert row['bucketed_over_padded'] == pytest.approx(
        row['train_samples_per_s'] / row['train_padded_samples_per_s'], abs=0.1)
    assert f'{row["bucketed_over_padded"]}×' in (tmp_path / 'c.md').read_text()

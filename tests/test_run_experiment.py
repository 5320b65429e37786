"""./run_experiment.sh: the whole experiment in one command (dataset, runs, figures)."""
import os
import subprocess

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, 'run_experiment.sh')
FIGURES = ['figure0a_rnn.png', 'figure0b_gru.png', 'figure0c_mha.png',
           'figure1a_train_accuracy.png', 'figure1b_valid_accuracy.png',
           'figure2_gru_vs_mha.png', 'figure3_test_accuracy.png', 'figure4_contingency.png',
           'test_accuracy.md']


def _run(*argv, timeout=60):
    return subprocess.run([SCRIPT, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})


def test_help_and_bad_arguments():
    assert os.access(SCRIPT, os.X_OK)
    shown = _run('-h')
    assert shown.returncode == 0 and '--demo' in shown.stdout and '--results_path' in shown.stdout
    for bad in (['--bogus'], ['--jobs', '0'], ['--rotations', '5'], ['--results_path']):
        run = _run(*bad)
        assert run.returncode == 2 and 'run_experiment: error:' in run.stderr, bad


@pytest.mark.slow
def test_demo_builds_the_dataset_trains_every_type_and_makes_every_figure(tmp_path):
    """--demo on rotation 0, into tmp_path, with small models (the reference models' shapes,
    few units, a stride of 8: short sequences for attention) on 1 epoch of 2 batches and few
    length buckets (few traced shapes)."""
    results, dataset = tmp_path / 'results', tmp_path / 'pfam'
    run = _run('--demo', '--rotations', '0', '--jobs', '1', '--results_path', str(results),
               '--dataset', str(dataset), '--', '--epochs', '1', '--steps_per_epoch', '2',
               '--conv_filters', '8', '--conv_kernel', '8', '--conv_stride', '8',
               '--rnn_units', '8', '8', '--key_dim', '4',
               '--dense_units', '8', '--bucket_growth', '4', timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (dataset / 'pfamB_metadata.json').is_file()
    for model_type in ('rnn', 'gru', 'mha'):
        assert (results / f'{model_type}_rot0_results.pkl').is_file()
        assert (results / 'stdout' / f'{model_type}_rot0.out').is_file()
    missing = [name for name in FIGURES if not (results / 'figures' / name).is_file()]
    assert not missing, missing
    assert '| GRU |' in (results / 'figures' / 'test_accuracy.md').read_text()

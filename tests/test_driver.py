"""Experiment driver, argument parser and job control: end to end on a tiny demo dataset."""
import glob
import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

import hw6_base
import job_control
import network
import settings
import parser as arguments
from conftest import REPEATED, ROOT, complete_result, driver_args, run_cli

# ---------------------------------------------------------------- end to end
@pytest.mark.parametrize('model_type, rotation, epochs', [('gru', 0, 3), ('mha', 1, 2)])
@pytest.mark.slow
def test_run_writes_a_complete_result_and_model(trained, demo_dir, tmp_path, model_type,
                                                rotation, epochs):
    """The GRU: a copy of the finished run the tests share (`REPEATED`); the MHA trained here."""
    if model_type == 'gru':
        tmp_path = trained(REPEATED, None, tmp_path / 'results')
    else:
        assert hw6_base.main(driver_args(
            demo_dir, tmp_path, '--model_type', model_type, '--rotation', str(rotation),
            '--epochs', str(epochs), '--steps_per_epoch', '4')) == 0
    name = f'{model_type}_rot{rotation}'
    with open(tmp_path / f'{name}_results.pkl', 'rb') as f:
        result = pickle.load(f)
    assert set(hw6_base.RESULT_KEYS) <= set(result)
    assert result['n_epochs'] == epochs == len(result['history']['loss']) == \
        len(result['epoch_times'])
    assert {'sparse_categorical_accuracy', 'val_sparse_categorical_accuracy'} <= \
        set(result['history'])
    assert result['args']['model_type'] == model_type and result['rotation'] == rotation
    probabilities, labels = result['predict_test'], result['outs_test'][:, 0]
    assert probabilities.shape == (len(labels), 6) and result['class_names'][0] == 'DEMO00'
    assert result['test_accuracy'] == pytest.approx(np.mean(probabilities.argmax(1) == labels))
    model = keras.models.load_model(tmp_path / result['model_path'])
    assert model.count_params() == result['n_params']
    import pfam_loader
    dat = pfam_loader.load_rotation(demo_dir, rotation, 'T')
    np.testing.assert_allclose(network.predict_probabilities(model, dat['ins_test']),
                               probabilities, atol=1e-5)
    assert not os.path.exists(tmp_path / f'{name}_run')                   # resume state removed
    log = open(tmp_path / f'{name}_log.csv').read().splitlines()
    assert len(log) == epochs + 1 and 'epoch_time' in log[0]


def test_existing_result_is_not_overwritten(demo_dir, tmp_path, capsys):
    """A result of the requested configuration is skipped; one of another configuration (or
    one that records none) is an error naming the differing settings, and stays untouched."""
    argv = driver_args(demo_dir, tmp_path, '--epochs', '1')
    path = tmp_path / 'gru_rot0_results.pkl'
    config = settings.identity(arguments.parse_args(argv))
    path.write_bytes(pickle.dumps(complete_result(name='keep me', config=config)))
    before = path.read_bytes()
    assert hw6_base.main(argv) == 0
    assert 'exists with this configuration; skipping' in capsys.readouterr().out
    assert path.read_bytes() == before
    assert hw6_base.main(driver_args(demo_dir, tmp_path, '--epochs', '1',
                                     '--conv_filters', '8')) == 2
    assert 'another configuration (conv_filters 16 -> 8)' in capsys.readouterr().err
    path.write_bytes(pickle.dumps(complete_result(name='no record')))
    assert hw6_base.main(argv) == 2
    assert 'records no configuration' in capsys.readouterr().err
    assert pickle.loads(path.read_bytes())['name'] == 'no record'


def test_nogo_trains_nothing(demo_dir, tmp_path, capsys):
    assert hw6_base.main(driver_args(demo_dir, tmp_path / 'out', '--nogo', '--exp_type', 'reference',
                               '--exp_index', '14')) == 0
    out = capsys.readouterr().out
    assert 'mha_rot4' in out and 'rotation = 4' in out
    assert not os.path.exists(tmp_path / 'out')


@pytest.mark.parametrize('argv, message', [
    (['--model_type', 'cnn'], "invalid choice: 'cnn'"),
    (['--rotation', '7', '--demo'], 'rotation must be an integer in 0..4, got 7'),
    (['--dataset', '/nonexistent/pfam'], 'pfamB_rotation_0.pkl'),
    (['--exp_type', 'rotations', '--exp_index', '5'], 'out of range'),
    (['--n_embeddings', '30'], '--n_embeddings must be < 26'),
    (['--exp_type', 'nosuch', '--exp_index', '0'], "unknown --exp_type 'nosuch'"),
    (['--lr', 'nan'], 'argument --lr: must be a finite number > 0, got nan'),
    (['--positional_min_wavelength', '500', '--positional_max_wavelength', '400'],
     '--positional_min_wavelength must be below --positional_max_wavelength (400), got 500'),
])
@pytest.mark.slow
def test_bad_arguments_exit_2_with_one_line(tmp_path, argv, message):
    result = run_cli('hw6_base.py', '--results_path', str(tmp_path), *argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.slow
def test_a_bad_rotation_of_the_demo_is_refused_before_the_demo_is_built(tmp_path):
    """Run where no demo dataset exists yet (it is built under the working directory)."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'hw6_base.py'), '--demo',
                             '--rotation', '7', '--results_path', 'out'],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    assert result.returncode == 2
    assert result.stderr.splitlines() == ['hw6_base.py: error: rotation must be an integer in '
                                          '0..4, got 7']
    assert not os.path.exists(tmp_path / 'data')                   # no demo dataset built


# ---------------------------------------------------------------- job control
def test_index_maps_onto_the_ordered_product(monkeypatch):
    assert job_control.experiment_size('reference') == 15
    assert job_control.combination('reference', 0) == {'preset': 'rnn', 'rotation': 0}
    assert job_control.combination('reference', 7) == {'preset': 'gru', 'rotation': 2}
    assert job_control.combination('tune_conv', 5) == {'rotation': 0, 'conv_filters': 256,
                                                       'conv_kernel': 9}
    with pytest.raises(ValueError, match='out of range.*0..14'):
        job_control.combination('reference', 15)
    monkeypatch.setenv('SLURM_ARRAY_TASK_ID', '3')
    args = job_control.augment_args(arguments.parse_args(['--exp_type', 'rotations']))
    assert (args.rotation, args.exp_index) == (3, 3)
    args = job_control.augment_args(arguments.parse_args(['--exp_type', 'tune_lr',
                                                          '--exp_index', '2']))
    assert args.lr == 3e-3 and job_control.experiment_name(args) == 'gru_rot0_lr0.003'


@pytest.mark.parametrize('content, problem', [
    (None, 'no such file'),
    (b'', 'unreadable (EOFError'),
    (pickle.dumps(complete_result())[:-9], 'unreadable'),
    (pickle.dumps([1, 2]), 'not a result dict but list'),
    (pickle.dumps({'test_accuracy': 0.5}), 'incomplete (no args, name'),
    (pickle.dumps(complete_result(test_accuracy=float('nan'))), 'test accuracy is nan'),
])
def test_read_result_says_why_a_pickle_is_not_a_result(tmp_path, content, problem):
    path = tmp_path / 'gru_rot0_results.pkl'
    if content is not None:
        path.write_bytes(content)
    result, why = job_control.read_result(str(path))
    assert result is None and why.startswith(problem)
    assert job_control.result_problem(str(path)) == why
    path.write_bytes(pickle.dumps(complete_result(test_accuracy=0.75)))
    result, why = job_control.read_result(str(path))
    assert why is None and result['test_accuracy'] == 0.75
    assert job_control.result_is_complete(str(path))


@pytest.mark.slow
def test_missing_lists_indices_without_results(tmp_path, idle_scheduler):
    for rotation in (1, 3, 4):
        config = settings.identity(arguments.parse_args(['--rotation', str(rotation)]))
        if rotation == 3:
            config['lr'] = 0.1                    # a result of another configuration: listed
        (tmp_path / f'gru_rot{rotation}_results.pkl').write_bytes(
            pickle.dumps(complete_result(config=config)))
    (tmp_path / 'gru_rot2_results.pkl').write_bytes(b'')               # not done: listed
    result = run_cli('job_control.py', '--results_path', str(tmp_path), '--model_type', 'gru',
                      '--exp_type', 'rotations', '--missing', env=idle_scheduler)
    assert result.returncode == 0 and result.stdout.strip() == '0,2,3'
    assert 'gru_rot3_results.pkl is a result of another configuration (lr 0.1 -> 0.003)' \
        in result.stderr
    listing = run_cli('job_control.py', '--exp_type', 'reference')
    assert 'sbatch --array=0-14' in listing.stdout and 'mha_rot4' in listing.stdout


@pytest.mark.parametrize('args_file', sorted(glob.glob(os.path.join(ROOT, 'args_*.txt'))))
@pytest.mark.slow
def test_every_committed_configuration_builds(args_file):
    """Each args file x each index of its batch script's experiment builds a model: a broken
    configuration fails here, not on the cluster."""
    parser = arguments.create_parser()
    for index in range(job_control.experiment_size('rotations')):
        args = job_control.resolve_args(
            [f'@{args_file}', '--exp_type', 'rotations', '--exp_index', str(index)], parser)
        assert args.rotation == index and args.preset in settings.PRESETS
        model = network.build_model(args.model_type, 26, 46, **settings.model_kwargs(args))
        assert model.output_shape == (None, 46)


def test_every_preset_passes_its_checks_and_builds():
    for name, values in settings.PRESETS.items():
        settings.check_preset(name, values)
        args = arguments.parse_args(['--preset', name])
        model = network.build_model(args.model_type, 26, 46, **settings.model_kwargs(args))
        assert model.output_shape == (None, 46), name


def test_every_experiment_index_resolves():
    parser = arguments.create_parser()
    for exp_type in job_control.EXPERIMENTS:
        names = set()
        for index in range(job_control.experiment_size(exp_type)):
            args = job_control.resolve_args(['--exp_type', exp_type, '--exp_index', str(index)],
                                            parser)
            names.add(job_control.experiment_name(args))
        assert len(names) == job_control.experiment_size(exp_type)      # no two share a file


@pytest.mark.parametrize('args_file', ['args_gru.txt', 'args_mha.txt', 'args_rnn_course.txt'])
def test_a_task_runs_the_configuration_its_experiment_lists_whatever_the_script(args_file):
    """Task i of the reference experiment runs preset i's configuration, whichever batch
    script (args file) submitted it; arguments given on the command line still apply."""
    parser = arguments.create_parser()
    for index, preset in ((0, 'rnn'), (7, 'gru'), (14, 'mha')):
        args = job_control.resolve_args([f'@{args_file}', '--exp_type', 'reference',
                                         '--exp_index', str(index), '--epochs', '3'], parser)
        expected = arguments.parse_args(['--preset', preset, '--epochs', '3',
                                         '--rotation', str(index % 5)])
        assert settings.identity(args) == settings.identity(expected), (args_file, index)
    with pytest.raises(SystemExit):
        job_control.resolve_args(['--model_type', 'gru', '--exp_type', 'reference',
                                  '--exp_index', '0'], parser)


def test_args_file_allows_comments_and_several_values_per_line(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text('# a comment\n--model_type mha   # trailing comment\n--attention_heads 2 2 2\n')
    args = arguments.parse_args([f'@{path}', '--epochs', '7'])
    assert (args.model_type, args.attention_heads, args.epochs) == ('mha', [2, 2, 2], 7)


@pytest.mark.parametrize('backend', ['tensorflow', 'jax'])
@pytest.mark.slow
def test_substitution_augments_tokens_only_and_a_resumed_run_sees_the_same_batches(
        demo_dir, monkeypatch, backend):
    import pfam_loader
    monkeypatch.setattr(keras.backend, 'backend', lambda: backend)   # the JAX path is NumPy only
    dat = pfam_loader.load_rotation(demo_dir, 0, 'T')

    def batches(substitution, done, count):
        args = arguments.parse_args(['--dataset', demo_dir, '--version', 'T',
                                     '--substitution', str(substitution)])
        train, _, steps = hw6_base.training_data(args, dat, done)
        stream = iter(train)
        return [tuple(np.asarray(part) for part in next(stream)) for _ in range(count)], steps

    plain, steps = batches(0, 0, 2)
    augmented, _ = batches(0.25, 0, steps + 1)
    for (tokens, labels, *_), (changed, same_labels, *_) in zip(plain, augmented):
        np.testing.assert_array_equal(labels, same_labels)
        np.testing.assert_array_equal(changed == 0, tokens == 0)             # padding kept
        residues = tokens != 0
        assert np.mean(changed[residues] != tokens[residues]) == pytest.approx(0.25 * 0.95,
                                                                               abs=0.04)
    resumed, _ = batches(0.25, 1, 1)                 # after epoch 1: batch number `steps` on
    for part, expected in zip(resumed[0], augmented[steps]):
        np.testing.assert_array_equal(part, expected)


@pytest.mark.parametrize('model_type', ['rnn', 'gru', 'mha'])
def test_committed_reference_results_ran_the_committed_args_files(model_type):
    """Every committed result of results/pfam46 was trained with the model and training knobs
    of today's args_{type}.txt (and results/pfam46/args/ holds that file): a configuration
    changed without re-running the reference, or results copied in from another run, fail here."""
    args_file = os.path.join(ROOT, f'args_{model_type}.txt')
    reference = os.path.join(ROOT, 'results', 'pfam46')
    paths = sorted(glob.glob(os.path.join(reference, f'{model_type}_rot*_results.pkl')))
    assert len(paths) == 5
    for rotation, path in enumerate(paths):
        result, problem = job_control.read_result(path)
        assert problem is None, (path, problem)
        configured = arguments.parse_args([f'@{args_file}', '--rotation', str(rotation)])
        # the configuration the run recorded, or (older results) the one its args give
        ran = result.get('config') or settings.identity(result['args'])
        assert settings.differences(ran, settings.identity(configured)) == [], path


def test_the_committed_default_network_ran_its_preset():
    """results/pfam46_small (predict.py's default network, numpy_model.DEFAULT_SOURCE) was
    trained with today's mha_small preset on rotation 0."""
    import numpy_model
    path = os.path.splitext(numpy_model.DEFAULT_SOURCE)[0] + '_results.pkl'
    result, problem = job_control.read_result(path)
    assert problem is None, (path, problem)
    configured = arguments.parse_args(['--preset', 'mha_small', '--rotation', '0'])
    assert settings.differences(result['config'], settings.identity(configured)) == []


@pytest.mark.slow
def test_resume_state_of_another_configuration_is_refused_or_discarded_with_force(
        trained, demo_dir, tmp_path, capsys):
    """Checkpoints record their configuration: a rerun with other settings never resumes them
    (exit 2 naming the settings); with --force it discards them and trains from the start."""
    results = trained(REPEATED, 1, tmp_path / 'results')      # stopped after its first epoch
    assert os.path.isdir(results / 'gru_rot0_run')
    changed = driver_args(demo_dir, results, *REPEATED, '--epochs', '2', '--lr', '0.01')
    capsys.readouterr()
    assert hw6_base.main(changed) == 2
    err = capsys.readouterr().err
    assert 'holds 1 epoch(s) of another configuration (epochs 3 -> 2, lr 0.003 -> 0.01)' in err
    assert hw6_base.main([*changed, '--force']) == 0
    assert 'discarding' in capsys.readouterr().err
    result = pickle.loads((results / 'gru_rot0_results.pkl').read_bytes())
    assert result['n_epochs'] == 2 and result['config']['lr'] == 0.01
    assert result['config_fingerprint'] == settings.fingerprint(result['config'])
    meta = json.loads((results / 'gru_rot0_meta.json').read_text())
    assert meta['config'] == result['config']


@pytest.mark.slow
def test_test_fold_is_evaluated_with_the_best_epochs_weights(demo_dir, tmp_path):
    """The result's test predictions and accuracy, and the saved model, come from the epoch with
    the best validation accuracy, not from the weights the last epoch ended with."""
    class RuinTheLastEpoch(keras.callbacks.Callback):
        """Zeroes every weight after each batch of the last epoch (its validation accuracy is
        then that of uniform probabilities) and records each epoch's final weights."""

        def __init__(self, last):
            super().__init__()
            self.last, self.weights = last, []

        def on_train_batch_end(self, batch, logs=None):
            if len(self.weights) == self.last:
                self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    import pfam_loader
    ruin = RuinTheLastEpoch(last=2)
    argv = driver_args(demo_dir, tmp_path, '--epochs', '3', '--lr', '1e-2', '--patience', '0')
    assert hw6_base.main(argv, extra_callbacks=[ruin]) == 0
    result = pickle.loads((tmp_path / 'gru_rot0_results.pkl').read_bytes())
    validation = result['history']['val_sparse_categorical_accuracy']
    assert result['n_epochs'] == 3 and result['best_epoch'] < 2
    assert validation[result['best_epoch']] == max(validation) > validation[2]
    assert not any(w.any() for w in ruin.weights[2])                     # really ruined

    saved = network.load_model(str(tmp_path / result['model_path']))
    for ours, best in zip(saved.get_weights(), ruin.weights[result['best_epoch']], strict=True):
        np.testing.assert_array_equal(ours, best)
    dat = pfam_loader.load_rotation(demo_dir, 0, 'T')
    expected = network.predict_probabilities(saved, dat['ins_test'])
    np.testing.assert_allclose(result['predict_test'], expected, atol=1e-5)
    labels = dat['outs_test'][:, 0]
    assert result['test_accuracy'] == pytest.approx(np.mean(expected.argmax(1) == labels))
    uniform = np.full_like(expected, 1 / expected.shape[1])              # the ruined weights'
    assert np.abs(result['predict_test'] - uniform).max() > 0.05


def test_missing_leaves_out_tasks_queued_in_the_scheduler(tmp_path):
    """--missing asks squeue: tasks of this experiment that wait or run in the scheduler are not
    missing (resubmitting them would run them twice); those of other experiments or types are."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'squeue').write_text(
        '#!/bin/sh\nprintf "77_1|pfam_gru|PENDING\\n77_3|pfam_gru|RUNNING\\n'
        '78_0|pfam_mha|PENDING\\n79_2|pfam_gru|PENDING\\n80|other|RUNNING\\n"\n')
    (bin_dir / 'scontrol').write_text(
        '#!/bin/sh\ncase "$3" in 79) echo "   Command=/r/batch_gru.sh --exp_type reference";;\n'
        '*) echo "   Command=/r/batch_x.sh";; esac\n')
    for script in ('squeue', 'scontrol'):
        os.chmod(bin_dir / script, 0o755)
    result = run_cli('job_control.py', '--results_path', str(tmp_path / 'out'), '--preset', 'gru',
                     '--missing', env={'PATH': f'{bin_dir}:{os.environ["PATH"]}'})
    assert result.returncode == 0 and result.stdout.strip() == '0,2,4', result.stderr
    assert '1 is queued (77_1 PENDING)' in result.stderr
    assert '3 is queued (77_3 RUNNING)' in result.stderr

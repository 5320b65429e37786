"""The settings (settings.py) and the command line made from them (parser.py)."""
import os

import pytest

import parser as arguments
import settings
from conftest import run_cli


def test_the_command_line_has_one_option_per_setting_with_its_default():
    args = vars(arguments.parse_args([]))
    assert set(settings.FIELDS) <= set(args)
    for name, default in settings.DEFAULTS.items():
        if name not in ('cpus_per_task', 'compile_cache'):       # from the environment
            assert args[name] == (list(default) if isinstance(default, tuple) else default), name


def test_a_preset_replaces_defaults_and_arguments_override_it():
    args = arguments.parse_args(['--epochs', '3', '--preset', 'gru'])
    assert (args.epochs, args.patience, args.label_smoothing) == (3, 10, 0.1)
    assert arguments.parse_args(['--preset', 'rnn']).bidirectional is True
    # a parser reused for another preset forgets the first one's values
    parser = arguments.create_parser()
    assert arguments.parse_args(['--preset', 'gru'], parser).patience == 10
    assert arguments.parse_args(['--preset', 'mha'], parser).patience == 8


def test_identity_holds_what_changes_a_run_only():
    base = settings.identity(arguments.parse_args([]))
    assert 'results_path' not in base and 'verbose' not in base and 'label' not in base
    assert settings.identity(arguments.parse_args(['--results_path', 'x', '--verbose', '0',
                                                   '--cpus_per_task', '3'])) == base
    changed = settings.identity(arguments.parse_args(['--lr', '0.01', '--rnn_units', '8']))
    assert settings.differences(base, changed) == ['lr 0.003 -> 0.01', 'rnn_units [64, 64] -> [8]']
    assert settings.fingerprint(base) != settings.fingerprint(changed)
    assert settings.fingerprint(base) == settings.fingerprint(dict(base))
    # the demo dataset is the dataset of a --demo run, whatever --dataset says
    assert settings.identity({'demo': True, 'dataset': 'elsewhere'})['dataset'] == \
        os.path.normpath(settings.DEMO_BASEDIR)
    # a dict lacking a newer setting reads it at its default
    old = dict(base)
    del old['bidirectional']
    assert settings.differences(old, base) == []
    # a setting added after results were published is in a configuration only when changed
    assert 'rnn_activation' not in base
    relu = settings.identity(arguments.parse_args(['--rnn_activation', 'relu']))
    assert relu['rnn_activation'] == 'relu'
    assert settings.differences(base, relu) == ["rnn_activation 'tanh' -> 'relu'"]
    assert settings.fingerprint(relu) != settings.fingerprint(base)


def test_model_kwargs_are_the_builders_knobs():
    kwargs = settings.model_kwargs(arguments.parse_args(['--pool_sizes', '3', '--clipnorm', '0']))
    assert set(kwargs) == set(settings.MODEL_KNOBS)
    assert kwargs['pool_sizes'] == 3 and kwargs['clipnorm'] is None


@pytest.mark.parametrize('argv, message', [
    (['--seed', '-5'], 'argument --seed: must be in 0 .. 2**32 - 1, got -5'),
    (['--seed', str(2 ** 32)], 'must be in 0 .. 2**32 - 1'),
    (['--activation', 'bogus'], "argument --activation: invalid choice: 'bogus'"),
    (['--rnn_activation', 'sigmoid'], "argument --rnn_activation: invalid choice: 'sigmoid'"),
    (['--preset', 'nosuch'], "unknown preset 'nosuch'"),
    (['--label', '../../x_'], '--label may hold letters'),
    (['--label', '/abs_'], '--label may hold letters'),
])
@pytest.mark.slow
def test_bad_settings_are_one_line_errors(argv, message):
    result = run_cli('hw6_base.py', *argv, '--nogo')
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize('content, message', [
    ('@SELF\n', 'nest deeper than'),
    ('--label "open\n', 'No closing quotation'),
    (b'--label caf\xe9\n', 'not UTF-8 text'),
])
@pytest.mark.slow
def test_bad_args_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / 'args.txt'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content.replace('SELF', str(path)))
    for tool in ('hw6_base.py', 'job_control.py'):
        result = run_cli(tool, f'@{path}', '--nogo')
        assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
        assert message in result.stderr


@pytest.mark.parametrize('value', ['abc', '-3', '0'])
@pytest.mark.slow
def test_a_bad_slurm_cpu_count_is_a_one_line_error(value):
    result = run_cli('hw6_base.py', '--nogo', env={'SLURM_CPUS_PER_TASK': value})
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert f"SLURM_CPUS_PER_TASK={value!r}" in result.stderr

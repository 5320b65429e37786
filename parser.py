"""The command line of the experiment driver (`hw6_base.py`) and of `job_control.py`, made from
the declarations in `settings.py` (one option per setting, in the same groups).

Arguments may come from files (``@args_gru.txt``): one or more per line, ``#`` starting a
comment; a file may name another (``@args_gru.txt`` inside ``args_gru_course.txt``). A preset
(``--preset gru``) replaces the defaults; every argument given, wherever it stands, overrides
the preset:

    python hw6_base.py --preset gru --rotation 2 --epochs 5
    python hw6_base.py @args_gru.txt --rotation 2
"""
import argparse
import dataclasses
import os
import shlex
import sys

import settings

#: Settings whose default comes from the environment when it is set.
_ENVIRONMENT_DEFAULTS = {'cpus_per_task': 'SLURM_CPUS_PER_TASK',
                         'compile_cache': 'PFAM_COMPILE_CACHE'}
_MAX_FILE_DEPTH = 20                  # args files naming args files: deeper is a loop


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and args files that allow comments, several
    arguments per line (``--rnn_units 64 64``) and other args files; an args file that names
    itself (directly or not), an unclosed quote or a file that is not UTF-8 text is a one-line
    error too."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')

    def convert_arg_line_to_args(self, arg_line):
        try:
            return shlex.split(arg_line, comments=True)
        except ValueError as err:                         # "No closing quotation"
            self.error(f'args file line {arg_line.strip()!r}: {err}')

    def _read_args_from_files(self, arg_strings):
        depth = getattr(self, '_file_depth', 0)
        if depth > _MAX_FILE_DEPTH and any(a[:1] in self.fromfile_prefix_chars
                                           for a in arg_strings):
            self.error(f'args files nest deeper than {_MAX_FILE_DEPTH} levels: does one name '
                       'itself, directly or through another?')
        self._file_depth = depth + 1
        try:
            return super()._read_args_from_files(arg_strings)
        except UnicodeDecodeError as err:
            self.error(f'an args file is not UTF-8 text ({err.reason} at byte {err.start})')
        finally:
            self._file_depth = depth


def _argparse_type(check):
    """An argparse ``type`` from a settings check: its ValueError text becomes the message."""
    def convert(text):
        try:
            return check(text)
        except ValueError as err:
            message = str(err)
            if not message.startswith('must be'):
                message = f'invalid {check.__name__} value: {text!r}'
            raise argparse.ArgumentTypeError(message) from None
    convert.__name__ = check.__name__
    return convert


#: argparse types for the other tools' positive counts and bucket growth factors.
positive_int = _argparse_type(settings.POSITIVE)
growth_factor = _argparse_type(settings.GROWTH)


def add_rotation_arguments(parser):
    """``--dataset``, ``--version`` and ``--rotations`` (default: every rotation), as the
    baselines (svm_baseline.py, hmmer_baseline.py) take them."""
    parser.add_argument('--dataset', default=settings.DEFAULTS['dataset'])
    parser.add_argument('--version', default=settings.DEFAULTS['version'])
    parser.add_argument('--rotations', type=int, nargs='+', default=list(settings.ROTATIONS))
    return parser


def _environment_default(name, parser):
    """The default of setting ``name``, from its environment variable when that is set."""
    variable = _ENVIRONMENT_DEFAULTS.get(name)
    text = os.environ.get(variable, '') if variable else ''
    if name == 'compile_cache':
        return os.environ.get(variable, settings.DEFAULT_COMPILE_CACHE)
    if not text:
        return settings.DEFAULTS[name]
    try:
        return settings.FIELDS[name].metadata['check'](text)
    except ValueError as err:
        parser.error(f'environment variable {variable}={text!r}: {err}')


def _add_setting(group, parser, field):
    meta = field.metadata
    option = f'--{field.name}'
    default = _environment_default(field.name, parser)
    if isinstance(field.default, bool):
        if meta['negatable']:
            group.add_argument(option, action=argparse.BooleanOptionalAction, default=default,
                               help=meta['help'])
        else:
            group.add_argument(option, action='store_true', help=meta['help'])
        return
    kwargs = dict(default=list(default) if isinstance(default, tuple) else default,
                  help=meta['help'])
    if meta['choices'] is not None:
        kwargs['choices'] = meta['choices']
    if meta['check'] is not str:
        kwargs['type'] = _argparse_type(meta['check'])
    if meta['many']:
        kwargs['nargs'] = meta['many']
    if meta['metavar']:
        kwargs['metavar'] = meta['metavar']
    group.add_argument(option, **kwargs)


def create_parser(prog=None):
    """The driver's argument parser, one option per setting; `job_control.py` adds its own."""
    parser = ArgumentParser(
        prog=prog, fromfile_prefix_chars='@',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description='Train and evaluate one rotation of one Pfam family classifier (SimpleRNN, '
                    'GRU, LSTM or Multi-Head Attention). Results go to '
                    '{results_path}/{name}_results.pkl with the model as {name}.keras; rerunning '
                    'an interrupted command resumes it, a finished one is skipped (only when it '
                    'ran the same configuration). Arguments may come from files: @args.txt.')
    for group_class in settings.GROUPS:
        group = parser.add_argument_group(group_class.__name__.lower(),
                                          group_class.__doc__.splitlines()[0])
        exclusive = None
        for field in dataclasses.fields(group_class):
            target = group
            if field.name in ('cpu_only', 'gpu'):
                exclusive = exclusive or group.add_mutually_exclusive_group()
                target = exclusive
            _add_setting(target, parser, field)
    return parser


def _preset_values(parser, argv):
    """The preset named on the command line (the last ``--preset``), or None."""
    probe = argparse.ArgumentParser(add_help=False, fromfile_prefix_chars='@')
    probe.convert_arg_line_to_args = parser.convert_arg_line_to_args
    probe._read_args_from_files = parser._read_args_from_files
    probe.add_argument('--preset')
    known, _ = probe.parse_known_args(argv)
    return known.preset


def parse_args(argv=None, parser=None, preset=None):
    """Parse ``argv`` (default ``sys.argv[1:]``) over the defaults of ``preset`` (default: the
    one named by ``--preset``), and check combinations argparse cannot."""
    parser = parser or create_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    name = preset or _preset_values(parser, argv)
    if name == 'list':
        for known, values in settings.PRESETS.items():
            print(f'{known:12s} ' + ' '.join(f'--{k} {v}' for k, v in values.items()))
        parser.exit(0)
    values = {}
    if name is not None:
        try:
            values = settings.preset(name)
        except ValueError as err:
            parser.error(str(err))
    if not hasattr(parser, 'setting_defaults'):            # before any preset changed them
        parser.setting_defaults = {key: parser.get_default(key) for key in settings.FIELDS}
    parser.set_defaults(**{**parser.setting_defaults, 'preset': name,
                           **{key: list(value) if isinstance(value, tuple) else value
                              for key, value in values.items()}})
    args = parser.parse_args(argv)
    if preset is not None:
        args.preset = preset
    if args.n_embeddings >= settings.N_TOKENS:
        parser.error(f'--n_embeddings must be < {settings.N_TOKENS} (the number of tokens), '
                     f'got {args.n_embeddings}')
    if args.positional_min_wavelength >= args.positional_max_wavelength:
        parser.error('--positional_min_wavelength must be below --positional_max_wavelength '
                     f'({args.positional_max_wavelength:g}), '
                     f'got {args.positional_min_wavelength:g}')
    if args.label and not all(c.isalnum() or c in '-_.' for c in args.label) \
            or args.label.startswith('.'):
        parser.error(f'--label may hold letters, digits, "-", "_" and "." (not first), got '
                     f'{args.label!r}: it is part of file names inside --results_path')
    return args

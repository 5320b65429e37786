"""Experiments as Cartesian products of argument values, one product element per array task.

An experiment is an ordered dict ``{argument: [values]}``; its product is enumerated with
`itertools.product` (the last key varies fastest), and index ``i`` (``--exp_index`` or the
environment's ``SLURM_ARRAY_TASK_ID``) overrides the driver's arguments with element ``i``.
Append new values at the end of a list only, so that old indices keep their meaning.

    python job_control.py --exp_type rotations            # list the indices and the size
    python job_control.py @args_gru.txt --missing         # e.g. "0,3": sbatch --array=0,3 ...
"""
import argparse
import itertools
import os
import sys

import parser as arguments

ROTATIONS = list(range(5))

#: The experiments known to the suite. Each maps argument names (as in parser.py) to values.
EXPERIMENTS = {
    # one model type (from the args file) over the 5 rotations: the batch scripts' default
    'rotations': {'rotation': ROTATIONS},
    # the whole reference experiment in one array: 3 types x 5 rotations = 15 tasks
    'reference': {'model_type': ['rnn', 'gru', 'mha'], 'rotation': ROTATIONS},
    # small sweeps on rotation 0, judged on validation accuracy only
    'tune_dropout': {'rotation': [0], 'dropout': [0.1, 0.2, 0.3, 0.4]},
    'tune_lr': {'rotation': [0], 'lr': [3e-4, 1e-3, 3e-3]},
    'tune_conv': {'rotation': [0], 'conv_filters': [64, 128, 256], 'conv_kernel': [5, 9]},
    # a tiny configuration that CI trains for every model type
    'smoke': {'model_type': ['rnn', 'gru', 'lstm', 'mha'], 'rotation': [0]},
}


def experiment_values(exp_type):
    """The ordered dict of value lists of ``exp_type`` (ValueError for an unknown name)."""
    if exp_type not in EXPERIMENTS:
        raise ValueError(f'unknown --exp_type {exp_type!r}; known: {", ".join(EXPERIMENTS)}')
    return EXPERIMENTS[exp_type]


def experiment_size(exp_type):
    """Number of combinations: array indices run from 0 to size - 1."""
    size = 1
    for values in experiment_values(exp_type).values():
        size *= len(values)
    return size


def combination(exp_type, index):
    """The ``index``-th element of the product as a dict ``{argument: value}``."""
    size = experiment_size(exp_type)
    if not 0 <= index < size:
        raise ValueError(f'--exp_index {index} is out of range for --exp_type {exp_type!r}, '
                         f'which has {size} combination(s): 0..{size - 1}')
    values = experiment_values(exp_type)
    return dict(zip(values, next(itertools.islice(itertools.product(*values.values()), index,
                                                  None))))


def resolve_index(args):
    """``--exp_index``, else ``SLURM_ARRAY_TASK_ID``, else None."""
    if args.exp_index is not None:
        return args.exp_index
    task = os.environ.get('SLURM_ARRAY_TASK_ID')
    if task is None or task == '':
        return None
    if not task.isdigit():
        raise ValueError(f'SLURM_ARRAY_TASK_ID must be a non-negative integer, got {task!r}')
    return int(task)


def augment_args(args):
    """Apply the combination picked by the index to ``args`` (in place) and return it.

    Without ``--exp_type`` the arguments are used as given (an index is then an error, so a
    forgotten ``--exp_type`` cannot run the same configuration in every array task).
    """
    index = resolve_index(args)
    if args.exp_type is None:
        if args.exp_index is not None:
            raise ValueError('--exp_index needs --exp_type (which experiment to index)')
        return args
    if index is None:
        raise ValueError(f'--exp_type {args.exp_type} needs --exp_index or SLURM_ARRAY_TASK_ID '
                         f'(0..{experiment_size(args.exp_type) - 1})')
    for name, value in combination(args.exp_type, index).items():
        if not hasattr(args, name):
            raise ValueError(f'experiment {args.exp_type!r} sets unknown argument {name!r}')
        setattr(args, name, value)
    args.exp_index = index
    return args


def experiment_name(args):
    """The result name of a configuration: ``{label}{model_type}_rot{rotation}``, plus
    ``_{argument}{value}`` for each other argument the experiment sweeps."""
    name = f'{args.label}{args.model_type}_rot{args.rotation}'
    if args.exp_type is not None:
        for key in experiment_values(args.exp_type):
            if key not in ('model_type', 'rotation'):
                value = getattr(args, key)
                name += f'_{key}{"-".join(map(str, value)) if isinstance(value, list) else value}'
    return name


def result_path(args):
    return os.path.join(args.results_path, f'{experiment_name(args)}_results.pkl')


def args_for_index(args, index):
    """A copy of ``args`` with combination ``index`` of ``args.exp_type`` applied."""
    trial = argparse.Namespace(**vars(args))
    trial.exp_index = index
    return augment_args(trial)


def missing_indices(args):
    """Indices of ``args.exp_type`` whose result pickle does not exist yet."""
    return [index for index in range(experiment_size(args.exp_type))
            if not os.path.exists(result_path(args_for_index(args, index)))]


def create_parser():
    parser = arguments.create_parser(prog='job_control.py')
    parser.description = ('List the combinations of an experiment (--exp_type), or the indices '
                          'whose results are missing (--missing), for sbatch --array.')
    group = parser.add_argument_group('job control')
    group.add_argument('--missing', action='store_true',
                       help='print the comma-separated indices without a result, for '
                            'sbatch --array=... (nothing when all are done)')
    return parser


def main(argv=None):
    args = arguments.parse_args(argv, create_parser())
    try:
        if args.exp_type is None:
            args.exp_type = 'rotations'
        size = experiment_size(args.exp_type)
        if args.missing:
            print(','.join(map(str, missing_indices(args))))
            return 0
        print(f'experiment {args.exp_type!r}: {size} combination(s), sbatch --array=0-{size - 1}')
        for index in range(size):
            name = experiment_name(args_for_index(args, index))
            print(f'{index:4d}  {name:40s} {combination(args.exp_type, index)}')
    except ValueError as err:
        print(f'job_control.py: error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())

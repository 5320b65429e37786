"""Experiments as Cartesian products of argument values, one product element per array task.

An experiment is an ordered dict ``{argument: [values]}``; its product is enumerated with
`itertools.product` (the last key varies fastest), and index ``i`` (``--exp_index`` or the
environment's ``SLURM_ARRAY_TASK_ID``) overrides the driver's arguments with element ``i``.
Append new values at the end of a list only, so that old indices keep their meaning.

    python job_control.py --exp_type rotations            # list the indices and the size
    python job_control.py @args_gru.txt --missing         # e.g. "0,3": sbatch --array=0,3 ...

A run is *done* when its result pickle is complete (`result_is_complete`), and *running* while a
process holds the exclusive lock on ``{results_path}/{name}.lock`` (`acquire_run_lock`; flock
locks die with their process, so the lock of a killed run is free again at once). ``--missing``
lists the indices that are neither, so that resubmitting them cannot start a duplicate run; when
there are none it prints nothing, notes it on stderr and exits with status 1, which makes

    idx=$(python job_control.py @args_gru.txt --missing) && sbatch --array=$idx batch_gru.sh

safe (no submission at all when nothing is missing).
"""
import argparse
import errno
import fcntl
import itertools
import math
import numbers
import os
import pickle
import socket
import sys
import time

import fileio
import parser as arguments
import pfam_loader

ROTATIONS = list(range(pfam_loader.N_FOLDS))

#: The keys of a complete result pickle (written by hw6_base.py; here, so that checking a result
#: does not load TensorFlow).
RESULT_KEYS = ('args', 'name', 'model_type', 'rotation', 'history', 'test_accuracy', 'test_loss',
               'predict_test', 'outs_test', 'class_names', 'epoch_times', 'n_params',
               'n_epochs', 'best_epoch', 'valid_accuracy', 'model_path', 'wall_time', 'hostname',
               'device', 'dataset')

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
    # every model type, tiny and for a few steps: tests/test_driver.py trains and reloads each
    # (one-value lists set an argument without naming it in the result name)
    'smoke': {'model_type': list(arguments.MODEL_TYPES), 'rotation': [0], 'epochs': [1],
              'steps_per_epoch': [2], 'batch': [16], 'n_embeddings': [8], 'conv_filters': [16],
              'conv_kernel': [3], 'rnn_units': [[16, 16]], 'attention_heads': [[2]],
              'key_dim': [8], 'dense_units': [[16]], 'verbose': [0]},
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
    ``_{argument}{value}`` for each other argument the experiment sweeps (gives two or more
    values)."""
    name = f'{args.label}{args.model_type}_rot{args.rotation}'
    if args.exp_type is not None:
        for key, values in experiment_values(args.exp_type).items():
            if key not in ('model_type', 'rotation') and len(values) > 1:
                value = getattr(args, key)
                name += f'_{key}{"-".join(map(str, value)) if isinstance(value, list) else value}'
    return name


def result_path(args):
    return os.path.join(args.results_path, f'{experiment_name(args)}_results.pkl')


def lock_path(args):
    return os.path.join(args.results_path, f'{experiment_name(args)}.lock')


# ---------------------------------------------------------------- done and running
def read_result(path):
    """``(result, None)`` when ``path`` is a complete result, else ``(None, why)`` (a short text):
    a readable pickle of a dict with every key of `RESULT_KEYS` and a finite test accuracy.
    Unpickling runs code: read only results you trust."""
    try:
        with open(path, 'rb') as f:
            result = pickle.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None, 'no such file'
    except Exception as err:                   # empty, truncated, not a pickle, unreadable ...
        return None, f'unreadable ({type(err).__name__}: {err})'.replace('\n', ' ')
    if not isinstance(result, dict):
        return None, f'not a result dict but {type(result).__name__}'
    missing = [key for key in RESULT_KEYS if key not in result]
    if missing:
        return None, f'incomplete (no {", ".join(missing)})'
    accuracy = result['test_accuracy']
    if not isinstance(accuracy, numbers.Real) or not math.isfinite(accuracy):
        return None, f'test accuracy is {accuracy!r}'
    return result, None


def result_problem(path):
    """Why ``path`` is not a complete result (`read_result`), or None when it is one."""
    return read_result(path)[1]


def result_is_complete(path):
    """True when ``path`` holds a complete, readable result: what "done" means everywhere."""
    return result_problem(path) is None


class LockHeld(Exception):
    """Another live process holds the lock of this run; ``holder`` is what it wrote there."""

    def __init__(self, path, holder):
        super().__init__(f'{path} is held by {holder or "another process"}')
        self.path, self.holder = path, holder


def _flock_failed_because_held(err):
    return err.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


def acquire_run_lock(path, retries=10, wait=0.1):
    """Take the exclusive lock ``path`` (created when absent) and write "pid PID on HOST" into
    it. Returns the open file, which holds the lock until it is closed or the process dies;
    release it with `release_run_lock`. Raises `LockHeld` when a live process holds it (after a
    few retries over about a second: `lock_is_held` probes take it for an instant), OSError when
    the file cannot be created. On a file system without flock (e.g. Lustre without the flock
    mount option) it returns None and the run goes on unlocked."""
    for attempt in range(retries + 1):
        handle = open(path, 'a+')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            if not _flock_failed_because_held(err):
                print(f'warning: cannot lock {path} ({err}); running without a lock',
                      file=sys.stderr, flush=True)
                return None
            if attempt == retries:
                raise LockHeld(path, holder) from None
            time.sleep(wait)
            continue
        try:
            same_file = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:                # not unlinked by a holder that finished meanwhile
            handle.seek(0)
            handle.truncate()
            handle.write(f'pid {os.getpid()} on {socket.gethostname()}\n')
            handle.flush()
            return handle
        handle.close()
    raise LockHeld(path, 'processes that keep replacing it')


def release_run_lock(handle):
    """Remove and unlock a lock taken by `acquire_run_lock` (None: nothing to do)."""
    if handle is None:
        return
    try:
        os.remove(handle.name)           # while still holding it: no one else can be inside
    except OSError:
        pass
    handle.close()


def lock_is_held(path):
    """True while a live process holds the lock ``path`` (probed with a non-blocking flock)."""
    try:
        handle = open(path)
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            return _flock_failed_because_held(err)
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def args_for_index(args, index):
    """A copy of ``args`` with combination ``index`` of ``args.exp_type`` applied."""
    trial = argparse.Namespace(**vars(args))
    trial.exp_index = index
    return augment_args(trial)


def missing_indices(args):
    """Indices of ``args.exp_type`` that are neither done (complete result) nor running (live
    lock): the ones to submit again."""
    missing = []
    for index in range(experiment_size(args.exp_type)):
        trial = args_for_index(args, index)
        if not (result_is_complete(result_path(trial)) or lock_is_held(lock_path(trial))):
            missing.append(index)
    return missing


def create_parser():
    parser = arguments.create_parser(prog='job_control.py')
    parser.description = ('List the combinations of an experiment (--exp_type), or the indices '
                          'whose results are missing (--missing), for sbatch --array.')
    group = parser.add_argument_group('job control')
    group.add_argument('--missing', action='store_true',
                       help='print the comma-separated indices that are neither done (a '
                            'complete, readable result pickle) nor running (a live lock on '
                            '{results_path}/{name}.lock), for sbatch --array=...; when none '
                            'is missing, print nothing, note it on stderr and exit with status '
                            '1, so that idx=$(python job_control.py ... --missing) && sbatch '
                            '--array=$idx ... submits nothing')
    return parser


def main(argv=None):
    args = arguments.parse_args(argv, create_parser())
    try:
        if args.exp_type is None:
            args.exp_type = 'rotations'
        size = experiment_size(args.exp_type)
        if args.missing:
            missing = missing_indices(args)
            if not missing:
                print(f'job_control.py: nothing missing in {args.results_path}: all {size} '
                      f'run(s) of {args.exp_type!r} are done or running', file=sys.stderr)
                return 1
            print(','.join(map(str, missing)))
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
    fileio.run_main(main)

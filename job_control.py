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
import errno
import fcntl
import itertools
import math
import numbers
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import artefacts
import fileio
import parser as arguments
import settings

ROTATIONS = list(settings.ROTATIONS)

#: The keys of a complete result pickle (written by hw6_base.py; here, so that checking a result
#: does not load TensorFlow).
RESULT_KEYS = ('args', 'name', 'model_type', 'rotation', 'history', 'test_accuracy', 'test_loss',
               'predict_test', 'outs_test', 'class_names', 'epoch_times', 'n_params',
               'n_epochs', 'best_epoch', 'valid_accuracy', 'model_path', 'wall_time', 'hostname',
               'device', 'dataset')

#: The experiments known to the suite. Each maps settings (as in settings.py) to values; a
#: ``preset`` entry names the configuration of the task (`settings.PRESETS`), so that task i runs
#: exactly that configuration whichever batch script or args file submitted it (arguments given
#: on the command line still override the preset's values; the other entries override both).
EXPERIMENTS = {
    # one configuration (from the args file or --preset) over the 5 rotations: the batch
    # scripts' default
    'rotations': {'rotation': ROTATIONS},
    # the whole reference experiment in one array: 3 types x 5 rotations = 15 tasks
    'reference': {'preset': ['rnn', 'gru', 'mha'], 'rotation': ROTATIONS},
    # small sweeps on rotation 0, judged on validation accuracy only
    'tune_dropout': {'rotation': [0], 'dropout': [0.1, 0.2, 0.3, 0.4]},
    'tune_lr': {'rotation': [0], 'lr': [3e-4, 1e-3, 3e-3]},
    'tune_conv': {'rotation': [0], 'conv_filters': [64, 128, 256], 'conv_kernel': [5, 9]},
    # every model type, tiny and for a few steps: tests/test_driver.py trains and reloads each
    # (one-value lists set a setting without naming it in the result name)
    'smoke': {'preset': ['tiny'], 'model_type': list(settings.MODEL_TYPES), 'rotation': [0],
              'epochs': [1], 'steps_per_epoch': [2], 'batch': [16]},
}
#: The model types of the reference experiment, in its order.
REFERENCE_TYPES = tuple(settings.preset(name)['model_type']
                        for name in EXPERIMENTS['reference']['preset'])


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


def combination_preset(args):
    """The preset that the experiment's combination for ``args`` names, or None."""
    if args.exp_type is None:
        return None
    index = resolve_index(args)
    if index is None:
        return None
    return combination(args.exp_type, index).get('preset')


def augment_args(args):
    """Apply the combination picked by the index to ``args`` (in place) and return it; a preset
    the combination names must already be in force (`resolve_args` parses with it).

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
    chosen = combination(args.exp_type, index)
    if 'preset' in chosen:
        wanted = settings.preset(chosen['preset']).get('model_type')
        if args.preset != chosen['preset']:
            raise ValueError(f'task {index} of {args.exp_type!r} runs preset '
                             f'{chosen["preset"]!r}: parse with it (job_control.resolve_args)')
        if wanted is not None and 'model_type' not in chosen and args.model_type != wanted:
            raise ValueError(f'task {index} of {args.exp_type!r} runs preset {chosen["preset"]!r}'
                             f' (model type {wanted}), but --model_type {args.model_type} was '
                             'given: drop it (an args file may set it)')
    for name, value in chosen.items():
        if name == 'preset':
            continue
        if not hasattr(args, name):
            raise ValueError(f'experiment {args.exp_type!r} sets unknown argument {name!r}')
        setattr(args, name, value)
    args.exp_index = index
    return args


def resolve_args(argv, parser):
    """Parse a command line into the arguments of the run it selects: with ``--exp_type``, the
    preset that the chosen combination names replaces any other (`EXPERIMENTS`), then the
    combination's other values apply. Exits 2 with one line for bad arguments."""
    args = arguments.parse_args(argv, parser)
    try:
        chosen = combination_preset(args)
        if chosen is not None:
            args = arguments.parse_args(argv, parser, preset=chosen)
        return augment_args(args)
    except ValueError as err:
        parser.error(str(err))


def experiment_name(args):
    """The result name of a configuration: ``{label}{model_type}_rot{rotation}``, plus
    ``_{argument}{value}`` for each other argument the experiment sweeps (gives two or more
    values), and ``_{preset}`` for a swept preset not named after its model type."""
    name = artefacts.run_name(args.model_type, args.rotation, args.label)
    if args.exp_type is not None:
        for key, values in experiment_values(args.exp_type).items():
            if key == 'preset' and len(values) > 1 and args.preset != args.model_type:
                name += f'_{args.preset}'
            elif key not in ('model_type', 'rotation', 'preset') and len(values) > 1:
                value = getattr(args, key)
                name += f'_{key}{"-".join(map(str, value)) if isinstance(value, list) else value}'
    return name


def run_files(args):
    """`artefacts.paths` of the run that ``args`` select."""
    return artefacts.paths(args.results_path, experiment_name(args))


# ---------------------------------------------------------------- done and running
def read_result(path):
    """``(result, None)`` when ``path`` is a complete result, else ``(None, why)`` (a short text):
    a readable pickle of a dict with every key of `RESULT_KEYS` and a finite test accuracy.
    The pickle is read by `fileio.load_pickle`, which runs no code from it."""
    try:
        with open(path, 'rb') as f:
            result = fileio.load_pickle(f)
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


def run_state(files, config):
    """``(state, why)`` of a run (`artefacts.paths`) for the configuration ``config``
    (`settings.identity`): ``'done'`` (a complete result of this configuration), ``'other'`` (a
    complete result of another configuration, or of a version that recorded none), ``'broken'``
    (an empty, truncated or incomplete result: to be run again) or ``'absent'``. An interrupted
    publish is finished first (`artefacts.settle`)."""
    artefacts.settle(files)
    result, problem = read_result(files['result'])
    if result is None:
        return ('absent' if problem == 'no such file' else 'broken'), problem
    recorded = result.get('config')
    if not isinstance(recorded, dict):
        return 'other', 'a result that records no configuration (an older hw6_base.py wrote it)'
    changed = settings.differences(recorded, config)
    if changed:
        return 'other', 'a result of another configuration (' + ', '.join(changed) + ')'
    return 'done', None


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


def args_for_index(argv, parser, index):
    """The arguments of task ``index`` of the experiment a command line names."""
    return resolve_args([*argv, '--exp_index', str(index)], parser)


def queued_tasks(exp_type, model_type):
    """``{index: 'JOB_INDEX STATE'}`` of the array tasks of this user that the scheduler holds
    (pending, running, suspended ...) for experiment ``exp_type``: jobs of the batch scripts
    (named ``pfam_{type}``) whose command line names ``exp_type`` (``rotations`` when it names
    none; then the job's type must be ``model_type``). None when ``squeue`` is not there or
    fails (no controller)."""
    if shutil.which('squeue') is None:
        return None
    try:
        listing = subprocess.run(['squeue', '--me', '--array', '--noheader',
                                  '--format=%i|%j|%T'], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:                    # no controller answering: nothing queued
        return None
    queued, commands = {}, {}
    for line in listing.stdout.splitlines():
        task, job_name, state = (line.split('|') + ['', ''])[:3]
        match = re.fullmatch(r'(\d+)_(\d+)', task.strip())
        if not match or not job_name.startswith('pfam_'):
            continue
        job = match.group(1)
        if job not in commands:
            try:
                shown = subprocess.run(['scontrol', 'show', 'job', job], capture_output=True,
                                       text=True, timeout=60).stdout
            except (OSError, subprocess.TimeoutExpired):
                shown = ''                          # its command unknown: counted as not ours
            command = re.search(r'Command=(.*)', shown)
            commands[job] = command.group(1).split() if command else []
        words = commands[job]
        job_exp = words[words.index('--exp_type') + 1] if '--exp_type' in words[:-1] \
            else 'rotations'
        if job_exp != exp_type or (job_exp == 'rotations' and job_name != f'pfam_{model_type}'):
            continue
        queued[int(match.group(2))] = f'{task.strip()} {state.strip()}'
    return queued


def missing_indices(argv, parser, args, report=print):
    """Indices of the experiment that are neither done (a complete result of the configuration
    the task runs) nor running (a live lock) nor queued in the scheduler (`queued_tasks`): the
    ones to submit again. Says on stderr (``report``) why an index is left out or in."""
    queued = queued_tasks(args.exp_type, args.model_type)
    if queued is None:
        report('job_control.py: no squeue here (or no controller answers it): tasks waiting in a '
               'scheduler cannot be seen; only done and running (locked) runs are left out')
    missing = []
    for index in range(experiment_size(args.exp_type)):
        trial = args_for_index(argv, parser, index)
        files = run_files(trial)
        state, why = run_state(files, settings.identity(trial))
        if state == 'done':
            continue
        if lock_is_held(files['lock']):
            report(f'job_control.py: {index} is running (lock {files["lock"]})')
        elif queued and index in queued:
            report(f'job_control.py: {index} is queued ({queued[index]})')
        else:
            if state == 'other':
                report(f'job_control.py: {index}: {files["result"]} is {why}: its run will stop '
                       'with an error unless given --force or another --label')
            missing.append(index)
    return missing


def create_parser():
    parser = arguments.create_parser(prog='job_control.py')
    parser.description = ('List the combinations of an experiment (--exp_type), or the indices '
                          'whose results are missing (--missing), for sbatch --array.')
    group = parser.add_argument_group('job control')
    group.add_argument('--missing', action='store_true',
                       help='print the comma-separated indices that are neither done (a '
                            'complete result of the configuration the task runs) nor running (a '
                            'live lock on {results_path}/{name}.lock) nor waiting in the '
                            'scheduler (squeue), for sbatch --array=...; when none is missing, '
                            'print nothing, note it on stderr and exit with status 1, so that '
                            'idx=$(python job_control.py ... --missing) && sbatch '
                            '--array=$idx ... submits nothing')
    return parser


@fileio.command(errors=(ValueError, OSError))
def main(argv=None):
    parser = create_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = arguments.parse_args(argv, parser)
    if args.exp_type is None:
        argv, args.exp_type = [*argv, '--exp_type', 'rotations'], 'rotations'
    try:
        size = experiment_size(args.exp_type)
    except ValueError as err:
        parser.error(str(err))
    if args.missing:
        missing = missing_indices(argv, parser, args,
                                  lambda text: print(text, file=sys.stderr, flush=True))
        if not missing:
            print(f'job_control.py: nothing missing in {args.results_path}: all {size} '
                  f'run(s) of {args.exp_type!r} are done, running or queued', file=sys.stderr)
            return 1
        print(','.join(map(str, missing)))
        return 0
    print(f'experiment {args.exp_type!r}: {size} combination(s), sbatch --array=0-{size - 1}')
    for index in range(size):
        name = experiment_name(args_for_index(argv, parser, index))
        print(f'{index:4d}  {name:40s} {combination(args.exp_type, index)}')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

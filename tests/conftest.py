"""Shared fixtures: a small synthetic dataset built once per test run, and the real data."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
if os.environ.get('PYTEST_XDIST_WORKER'):
    # One TensorFlow thread pool of one thread per test worker (and its subprocesses): the
    # workers already fill the cores, and more threads than cores make each of them slower.
    for variable in ('TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS'):
        os.environ.setdefault(variable, '1')

import pfam_build  # noqa: E402
import pfam_formats  # noqa: E402
import pfam_loader  # noqa: E402

#: The longest tests (half a minute or more of one core each), started first: pytest-xdist hands each
#: worker a share of the tests in their order and idle workers take work from busy ones, so a
#: long test that starts last leaves the other cores idle at the end.
LONGEST_FIRST = ('test_run_experiment.py::test_demo_builds',
                 'test_dataset_publish.py::test_a_killed_replacement',
                 'test_faults.py::test_resumed_run_reproduces',
                 'test_bench.py::test_course_scale',
                 'test_faults.py::test_sigkill_while_a_checkpoint',
                 'test_sigterm.py::test_sigterm_in_the_last_epoch')


def pytest_collection_modifyitems(config, items):
    """`LONGEST_FIRST` in its order, then the other slow tests, then the fast ones; else in
    file order."""
    def rank(item):
        first = [k for k, name in enumerate(LONGEST_FIRST) if name in item.nodeid]
        return first[0] if first else len(LONGEST_FIRST) + (item.get_closest_marker('slow') is None)
    items.sort(key=rank)


#: The tiny preset (settings.PRESETS['tiny']): driver runs on the demo data in seconds.
TINY = ['--preset', 'tiny']


def driver_args(demo_dir, results, *extra):
    """hw6_base.py arguments: the shared demo dataset, ``results``, `TINY`, then ``extra``."""
    return ['--dataset', demo_dir, '--version', 'T', '--results_path', str(results), *TINY,
            *extra]


def run_cli(*argv, env=None):
    """Run ``python *argv`` in the repository; the CompletedProcess with text output."""
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3', **(env or {})})


def complete_result(rotation=None, **changes):
    """A result dict that `job_control.result_is_complete` accepts; with ``rotation``, one that
    also records the configuration of the default run of that rotation (so that it is *done*
    for ``hw6_base.py --rotation R`` and ``job_control.py --missing``)."""
    import job_control
    import parser as arguments
    import settings
    result = {**{key: None for key in job_control.RESULT_KEYS}, 'test_accuracy': 0.5}
    if rotation is not None:
        result['config'] = settings.identity(arguments.parse_args(['--rotation', str(rotation)]))
    return {**result, **changes}


@pytest.fixture(scope='package')   # the tests folder: the whole run
def idle_scheduler(tmp_path_factory):
    """Environment for `run_cli`: a stand-in ``squeue`` that lists nothing first on the PATH, so
    that ``job_control.py --missing`` sees an idle scheduler at once (a real squeue without a
    controller takes seconds to give up)."""
    fake = tmp_path_factory.mktemp('bin')
    (fake / 'squeue').write_text('#!/bin/sh\nexit 0\n')
    (fake / 'squeue').chmod(0o755)
    return {'PATH': f'{fake}{os.pathsep}{os.environ["PATH"]}'}


#: the run that `driver_args` runs (GRU, rotation 0)
RUN_NAME = 'gru_rot0'


def epochs_logged(results, name=RUN_NAME):
    """Epoch rows of the run's own log (a row appears once its checkpoint is on disk)."""
    try:
        with open(os.path.join(results, f'{name}_run', f'{name}_log.csv')) as f:
            return max(len(f.read().splitlines()) - 1, 0)
    except FileNotFoundError:
        return 0


def our_lines(stderr, name=RUN_NAME):
    """The driver's own stderr lines (TensorFlow may log a few of its own)."""
    return [line for line in stderr.splitlines() if line.startswith(('hw6_base.py:', f'{name}:'))]


def assert_full_history(result, epochs):
    """``result`` holds ``epochs`` epochs, in every history entry and in its epoch times."""
    assert result['n_epochs'] == epochs == len(result['epoch_times'])
    assert result['history']['epoch'] == list(range(epochs))
    assert {len(values) for values in result['history'].values()} == {epochs}


#: Training options of the tiny runs that `trained` shares: 3 epochs of 3 batches (a repeated
#: stream), no early stop; and 2 epochs of one pass over the training folds each.
REPEATED = ('--epochs', '3', '--steps_per_epoch', '3', '--patience', '0')
ONE_PASS = ('--epochs', '2', '--patience', '0', '--lr_schedule', 'plateau')


@pytest.fixture(scope='package')   # the tests folder: the whole run (of one test worker)
def trained(demo_dir, tmp_path_factory):
    """``copy(options, stop, into)``: a copy, at ``into``, of the results folder of a tiny
    `driver_args` run with ``options`` (a tuple), trained once: ``stop`` None for a finished
    run, E for one interrupted at the end of epoch E (a KeyboardInterrupt after that epoch's
    checkpoint: exit 143, the resume state left). Tests change and resume their own copies
    (each training run costs seconds of graph tracing)."""
    import shutil

    import keras

    import hw6_base

    class RaiseAtEpochEnd(keras.callbacks.Callback):
        def __init__(self, epoch):
            super().__init__()
            self.epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == self.epoch:
                raise KeyboardInterrupt

    root, folders = tmp_path_factory.mktemp('trained'), {}

    def copy(options, stop, into):
        if (options, stop) not in folders:
            folder = root / f'run{len(folders)}'
            callbacks = [] if stop is None else [RaiseAtEpochEnd(stop)]
            status = hw6_base.main(driver_args(demo_dir, folder, *options),
                                   extra_callbacks=callbacks)
            assert status == (0 if stop is None else 143), (options, stop)
            folders[options, stop] = folder
        shutil.copytree(folders[options, stop], into)
        return into
    return copy


#: The 46-family benchmark's records and family list, in the repository (data/pfam46/README.md)
REAL_DATA = os.path.join(ROOT, 'data', 'pfam46')
REAL_CSV = os.path.join(REAL_DATA, 'pfam46_seed.csv.gz')
REAL_FAMILIES = os.path.join(REAL_DATA, 'pfam46_families.txt')
needs_real_data = pytest.mark.skipif(
    not (os.path.isfile(REAL_CSV) and os.path.isfile(REAL_FAMILIES)),
    reason='real Pfam data not found at data/pfam46 (part of the repository)')


@pytest.fixture(scope='package')   # the tests folder: the whole run
def demo_dir(tmp_path_factory):
    """A 6-family synthetic dataset (about 400 sequences) with its 5 rotations."""
    out = tmp_path_factory.mktemp('demo')
    pfam_build.build_demo(str(out), version='T', n_families=6, seed=1)
    return str(out)


@pytest.fixture(scope='package')   # the tests folder: the whole run
def demo_rotation(demo_dir):
    return pfam_loader.load_rotation(demo_dir, 0, 'T')


@pytest.fixture(scope='package')   # the tests folder: the whole run
def real_dir(tmp_path_factory):
    """The standard 46-family benchmark built from data/pfam46 (skips when absent)."""
    if not (os.path.isfile(REAL_CSV) and os.path.isfile(REAL_FAMILIES)):
        pytest.skip('real Pfam data not found at data/pfam46')
    out = tmp_path_factory.mktemp('pfam46')
    pfam_build.build_dataset([REAL_CSV], str(out), 'B',
                              families=pfam_formats.read_family_list(REAL_FAMILIES))
    return str(out)


@pytest.fixture(scope='package')   # the tests folder: the whole run
def course_folds():
    """5 folds (DataFrames ``string``, ``label``) of 6 synthetic families with Pfam-style
    accessions; fold 4 (the test fold of rotation 0) holds a sequence longer than any of folds
    0-2, so the course's rotation 0 truncates it."""
    import numpy as np
    frame = pfam_build.make_demo_records(n_families=6, seed=4, min_count=20, max_count=30)
    frame['label'] = [f'PF{int(f[4:]) * 7 + 100:05d}.{f[-1]}' for f in frame['family_accession']]
    # random folds: family frequencies, hence the course's class order, differ per rotation
    frame['fold'] = np.random.default_rng(0).integers(0, 5, len(frame))
    long = frame['sequence'][0] * (2 + 400 // len(frame['sequence'][0]))
    frame.loc[len(frame)] = [long, 'x', frame['label'][0], 4]
    return [frame[frame['fold'] == k].rename(columns={'sequence': 'string'})[['string', 'label']]
            .reset_index(drop=True) for k in range(5)]


@pytest.fixture(scope='package')   # the tests folder: the whole run
def course_dir(course_folds, tmp_path_factory):
    """A course directory, version 'B': fold CSVs and rotation pickles."""
    from course_format import write_course_dir
    out = str(tmp_path_factory.mktemp('course'))
    write_course_dir(course_folds, out, 'B')
    return out


@pytest.fixture(scope='package')   # the tests folder: the whole run
def course_pickles_2022(course_folds, tmp_path_factory):
    """A 2022 course directory: pfam_rotation_{r}.pkl without n_classes, and no fold CSVs."""
    from course_format import write_course_dir
    out = str(tmp_path_factory.mktemp('course2022'))
    return out, write_course_dir(course_folds, out, '', vintage=2022, csvs=False)

"""The files of one run, and how they are published: every name a run's files have, in one place.

A run named ``name`` (`job_control.experiment_name`) in ``results_path`` owns:

* ``{name}_results.pkl``: the result (`RESULT_KEYS`), which records the run's configuration
  (`settings.identity`) and its fingerprint; a run is done when this file is complete *and* its
  configuration is the one requested;
* ``{name}.keras``, ``{name}_meta.json``, ``{name}_log.csv``: the best model, what `predict.py`
  needs beside it (class names, vocabulary, the configuration), the per-epoch log;
* ``{name}_model.png``: the diagram (``--render``);
* ``{name}.lock``: the exclusive lock of the process running it;
* ``{name}_run/``: the unfinished run (resume checkpoints, `checkpoints`), and inside it
  ``publish/``, the finished run's artefacts on their way out.

Publishing is one step: the new artefacts are written whole into ``{name}_run/publish/``, then
the marker ``publish/READY`` (atomically), then each is renamed into place, the result last, and
the run folder is deleted. A kill before the marker leaves the old artefacts untouched; a kill
after it leaves a publish that `settle` finishes (every reader of a results folder calls it
first: the driver, ``job_control.py --missing``, figures.py), so readers see the old run or the
new one, whole. `settle` with ``clean=True`` (under the run's lock) also removes what a killed
writer left: temporary files and a half-deleted run folder.
"""
import glob
import os
import shutil

from fileio import atomic_write

#: Suffix of each artefact after the run name.
SUFFIXES = {'result': '_results.pkl', 'model': '.keras', 'meta': '_meta.json',
            'log': '_log.csv', 'figure': '_model.png', 'lock': '.lock', 'run_dir': '_run'}
#: Published artefacts in the order they are renamed into place: the result, which marks the
#: run done, last.
PUBLISHED = ('model', 'meta', 'log', 'result')
_STAGE, _READY = 'publish', 'READY'


def run_name(model_type, rotation, label=''):
    """The name of a run: ``{label}{model_type}_rot{rotation}`` (an experiment that sweeps other
    settings appends them: `job_control.experiment_name`)."""
    return f'{label}{model_type}_rot{rotation}'


def paths(results_path, name):
    """``{kind: path}`` of every artefact of run ``name`` (`SUFFIXES`), plus ``run_log`` (the
    log of the unfinished run) and ``stage`` (its publish folder)."""
    found = {kind: os.path.join(results_path, name + suffix) for kind, suffix in SUFFIXES.items()}
    found['run_log'] = os.path.join(found['run_dir'], name + SUFFIXES['log'])
    found['stage'] = os.path.join(found['run_dir'], _STAGE)
    return found


def meta_of_model(model_path):
    """The meta JSON published beside a model: ``x.keras`` -> ``x_meta.json``."""
    stem = model_path[:-len(SUFFIXES['model'])] if model_path.endswith(SUFFIXES['model']) \
        else model_path
    return stem + SUFFIXES['meta']


def name_of_result(path):
    """The run name of a ``{name}_results.pkl`` path."""
    return os.path.basename(path)[:-len(SUFFIXES['result'])]


def publish(found, writers):
    """Publish a finished run's artefacts in one step (see the module docstring).

    Args:
        found: `paths` of the run.
        writers: ``{kind: (write, mode)}`` for each kind of `PUBLISHED`, as
            `fileio.atomic_write` takes them (``write(file)`` or, with mode ``'path'``,
            ``write(path)``).
    """
    stage = found['stage']
    shutil.rmtree(stage, ignore_errors=True)          # a partial publish of a killed attempt
    os.makedirs(stage)
    for kind in PUBLISHED:
        write, mode = writers[kind]
        atomic_write(os.path.join(stage, os.path.basename(found[kind])), write, mode)
    atomic_write(os.path.join(stage, _READY), lambda f: f.write('ready\n'), 'w')
    settle(found)


def settle(found, clean=False):
    """Finish a publish that a kill interrupted after its READY marker (rename the remaining
    artefacts into place, result last; delete the run folder). With ``clean`` (only under the
    run's lock) also delete a partial publish, temporary files of killed writers and a
    half-deleted run folder. Returns True when it finished a publish."""
    stage, finished = found['stage'], False
    if os.path.isfile(os.path.join(stage, _READY)):
        for kind in PUBLISHED:
            _move(os.path.join(stage, os.path.basename(found[kind])), found[kind])
        remove_run_dir(found['run_dir'])
        finished = True
    if clean:
        if os.path.isdir(stage) and not finished:
            shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(found['run_dir'] + '.deleting', ignore_errors=True)
        for kind in SUFFIXES:                 # atomic_write's '.{file name}.{random}...'
            folder, file_name = os.path.split(found[kind])
            for leftover in glob.glob(os.path.join(glob.escape(folder or '.'),
                                                   f'.{glob.escape(file_name)}.*')):
                if os.path.isfile(leftover):
                    os.remove(leftover)
    return finished


def settle_all(results_path):
    """`settle` every run under a results folder (its subfolders too) whose publish was
    interrupted after its marker: readers call it before they read."""
    pattern = os.path.join(glob.escape(results_path), '**', '*' + SUFFIXES['run_dir'], _STAGE,
                           _READY)
    for ready in glob.glob(pattern, recursive=True):
        run_dir = os.path.dirname(os.path.dirname(ready))
        name = os.path.basename(run_dir)[:-len(SUFFIXES['run_dir'])]
        settle(paths(os.path.dirname(run_dir), name))


def _move(source, destination):
    """Rename ``source`` over ``destination``; nothing when another settler moved it first."""
    try:
        os.replace(source, destination)
    except FileNotFoundError:
        pass


def remove_run_dir(run_dir):
    """Delete a run folder, renamed away first: a kill midway must not leave half a set of
    checkpoints where a later run of this name would resume from."""
    trash = run_dir + '.deleting'
    shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(run_dir, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def commit():
    """The short hash of the suite's checked-out commit (``'unknown'`` outside git): with the
    date and `fileio.machine`, what names a measurement."""
    import subprocess
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
                              cwd=os.path.dirname(os.path.abspath(__file__)), text=True,
                              timeout=10).stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'

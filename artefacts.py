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

A model's ``{name}_meta.json`` is checked by `load_meta` before any model is loaded (predict.py,
open_set.py): its class names, field types and its own content hash.
"""
import collections
import glob
import json
import os
import shutil

import fileio
import pfam_loader
from fileio import atomic_write
from pfam_loader import DataError

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


#: metadata fields (``{name}_meta.json``) predict.py reads or hw6_base.py writes, and the JSON
#: types each must have (int fields: not booleans, at least 1 for the lengths); a field of
#: another type is refused
META_TYPES = {'class_names': (list,), 'len_min': (int,), 'len_max': (int,),
              'vocabulary': (str, type(None)), 'padding_token': (int,), 'fingerprint': (str,),
              fileio.CONTENT_HASH_KEY: (str,), 'model_type': (str,), 'rotation': (int,),
              'test_accuracy': (int, float, type(None)), 'config': (dict,),
              'config_fingerprint': (str,)}
#: how to mend metadata that is refused
RECOPY = 're-copy the _meta.json that hw6_base.py wrote beside the model'


def load_meta(meta_file):
    """The metadata dict, checked before any model is loaded: a ``class_names`` list of distinct
    names; every field of `META_TYPES` of its type; a ``fingerprint`` (which `predict.check_meta`
    verifies once the model is loaded) and a ``meta_hash`` equal to `fileio.content_hash` of the
    rest (class names reordered, renamed or replaced, lengths or vocabulary changed ... are
    refused here, before TensorFlow loads); and the ``vocabulary`` (when recorded) that
    of `pfam_loader.encode`: None (a model trained on course pickles alone, whose letter map is
    unknown) or another letter map is refused, as its tokens would mean other residues."""
    try:
        with open(meta_file, 'rb') as f:
            meta = json.loads(f.read().decode('utf-8-sig'))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f'{meta_file}: not a JSON metadata file ({err})') from None
    return checked_meta(meta, meta_file)


def checked_meta(meta, meta_file, remedy=RECOPY):
    """`load_meta`'s checks of a metadata dict (read from ``meta_file``); ``remedy`` ends the
    message of an edited one."""
    names = meta.get('class_names') if isinstance(meta, dict) else None
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n.strip()
                                                      for n in names)):
        raise DataError(f'{meta_file}: no class_names list (not the metadata of a model)')
    repeated = sorted((name, count) for name, count in collections.Counter(names).items()
                      if count > 1)
    if repeated:
        raise DataError(f'{meta_file}: class_names repeats {len(repeated)} name(s) (e.g. '
                        f'{repeated[0][0]!r}, {repeated[0][1]} times): edited or damaged '
                        f'metadata; {remedy}')
    for field, types in META_TYPES.items():
        value = meta.get(field)
        if field in meta and (not isinstance(value, types) or isinstance(value, bool)
                              and bool not in types):
            expected = ' or '.join('null' if t is type(None) else
                                   {'str': 'a string', 'int': 'an integer', 'float': 'a number',
                                    'list': 'a list', 'dict': 'an object'}[t.__name__]
                                   for t in types)
            raise DataError(f'{meta_file}: {field} is {json.dumps(value)[:40]}, not {expected}; '
                            f'{remedy}')
    for field in ('len_min', 'len_max'):
        if field in meta and meta[field] < 1:
            raise DataError(f'{meta_file}: {field} is {meta[field]}, not a length; {remedy}')
    if meta.get('len_min', 1) > meta.get('len_max', meta.get('len_min', 1)):
        raise DataError(f'{meta_file}: len_min {meta["len_min"]} exceeds len_max '
                        f'{meta["len_max"]}; {remedy}')
    if 'vocabulary' in meta and meta['vocabulary'] != pfam_loader.VOCABULARY:
        raise DataError(f'{meta_file}: the model was trained on tokens of the letter map '
                        f'{meta["vocabulary"]!r} (None: unknown, course pickles alone), not '
                        f'{pfam_loader.VOCABULARY!r}; its predictions would be meaningless')
    missing = [field for field in ('fingerprint', fileio.CONTENT_HASH_KEY) if field not in meta]
    if missing:
        raise DataError(f'{meta_file}: no {" and no ".join(missing)}, so nothing ties its class '
                        'names to the model (metadata written before these were recorded, or '
                        f'edited); {remedy}, or retrain the model')
    if meta[fileio.CONTENT_HASH_KEY] != fileio.content_hash(meta):
        raise DataError(f'{meta_file}: its content does not match its {fileio.CONTENT_HASH_KEY} '
                        '(class names, lengths or other fields edited after it was written); '
                        f'{remedy}')
    return meta

"""Resume checkpoints of a training run: a folder ``{name}_run/`` of ``epoch{N}.weights.h5``
(weights and optimizer state after N finished epochs) + ``epoch{N}.json`` (the driver's state:
history, best epoch, dropout random state), each written through a temporary file and a rename,
the JSON last, the newest `CHECKPOINTS_KEPT` kept: a kill at any instant (SIGKILL included)
leaves a loadable checkpoint. Used by `hw6_base` (see its docstring for the whole story).
"""
import json
import os
import re
import sys

import numpy as np

import fileio


class ResumeError(ValueError):
    """The run directory holds resume state that cannot be used."""


CHECKPOINTS_KEPT = 2          # the newest and the one before, should the newest be unreadable
_CHECKPOINT = re.compile(r'epoch(\d+)\.json')


def _files(run_dir, epochs):
    """(weights file, state file) of the checkpoint after ``epochs`` finished epochs."""
    stem = os.path.join(run_dir, f'epoch{epochs:04d}')
    return stem + '.weights.h5', stem + '.json'


def _epochs(run_dir):
    """Finished-epoch counts of the checkpoints in ``run_dir``, newest first."""
    names = os.listdir(run_dir) if os.path.isdir(run_dir) else []
    return sorted((int(match.group(1)) for match in map(_CHECKPOINT.fullmatch, names) if match),
                  reverse=True)


def _random_state_variables(model):
    """The dropout layers' seed generator states (not in the weights file)."""
    return [v for v in model.variables if v.name == 'seed_generator_state']


def save(model, run_dir, state):
    """Save the model (weights and optimizer state) and ``state`` (``epochs`` finished, their
    ``history``, ``best_epochs`` = the checkpoint holding the best weights) as checkpoint
    ``state['epochs']``, then delete the checkpoints no longer needed. Every file goes through a
    temporary file and a rename, the state file last: a kill at any instant leaves this
    checkpoint complete or the previous one in place."""
    state['random_state'] = [v.numpy().tolist() for v in _random_state_variables(model)]
    weights, meta = _files(run_dir, state['epochs'])
    fileio.check_free_space(run_dir, size_estimate(model), f'checkpoint {weights}')
    fileio.atomic_write(weights, model.save_weights, 'path')
    fileio.atomic_write(meta, lambda f: json.dump(state, f), 'w')
    _prune(run_dir)


def size_estimate(model):
    """Bytes a checkpoint of ``model`` takes at most: its weights and the optimizer's state
    (float32, with a margin for the file format)."""
    variables = list(model.weights) + list(getattr(model.optimizer, 'variables', None) or [])
    count = sum(int(np.prod(variable.shape)) for variable in variables)
    return int(count * 4 * 1.25) + (64 << 10)


def _prune(run_dir):
    """Delete all checkpoint files but those of the `CHECKPOINTS_KEPT` newest checkpoints and
    the best-weights files they refer to (nothing when one of those cannot be read)."""
    needed = set()
    for epochs in _epochs(run_dir)[:CHECKPOINTS_KEPT]:
        weights, meta = _files(run_dir, epochs)
        try:
            with open(meta) as f:
                best = json.load(f)['best_epochs']
        except (OSError, ValueError, KeyError):
            return
        needed |= {weights, meta, weights_file(run_dir, best) if best else weights}
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if (_CHECKPOINT.fullmatch(name) or name.endswith('.weights.h5')) and path not in needed:
            os.remove(path)


def load(model, run_dir):
    """Load the newest readable checkpoint of ``run_dir`` into ``model`` and return its state
    (None when there is none). An unreadable newest checkpoint is reported and skipped for the
    one before it; ResumeError when none can be loaded."""
    if not _epochs(run_dir) and os.path.isdir(os.path.join(run_dir, 'backup')):
        raise ResumeError(f'{run_dir} holds the resume state of an older hw6_base.py (backup/); '
                          'finish the run with that version, or delete the folder to start over')
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)      # its state is in the checkpoint
    problems = []
    for epochs in _epochs(run_dir):
        weights, meta = _files(run_dir, epochs)
        try:
            with open(meta) as f:
                state = json.load(f)
            if state['best_epochs']:              # must be loadable too: the final model
                model.load_weights(weights_file(run_dir, state['best_epochs']))
            model.load_weights(weights)
            for variable, value in zip(_random_state_variables(model), state['random_state'],
                                       strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))
        except Exception as err:                  # truncated, corrupt, another configuration
            problems.append(f'epoch {epochs}: {type(err).__name__}: {err}'.replace('\n', ' '))
            continue
        if problems:
            print(f'{os.path.basename(run_dir)}: skipped unreadable newer checkpoint(s) '
                  f'({"; ".join(problems)}); resuming from the one after epoch {epochs}',
                  file=sys.stderr, flush=True)
        return state
    if problems:
        raise ResumeError(f'the resume state in {run_dir} cannot be loaded ({"; ".join(problems)})'
                          '; delete that folder to train this configuration from the start')
    return None


def recorded_config(run_dir):
    """``(epochs, configuration)`` of the newest checkpoint of ``run_dir`` that records a state
    (configuration None when it predates the record), or None when there is no checkpoint; the
    weights are not read. The driver compares it with the requested configuration before it
    resumes."""
    for epochs in _epochs(run_dir):
        try:
            with open(_files(run_dir, epochs)[1]) as f:
                return epochs, json.load(f).get('config')
        except (OSError, ValueError, AttributeError):
            continue
    return None


def weights_file(run_dir, epochs):
    """The weights file of the checkpoint after ``epochs`` finished epochs."""
    return _files(run_dir, epochs)[0]

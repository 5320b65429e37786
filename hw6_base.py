"""Experiment driver: train and evaluate one rotation of one model type, and pickle the results.

    python hw6_base.py --demo --preset tiny --rotation 0 --epochs 3       # a smoke run
    python hw6_base.py @args_mha.txt --exp_type rotations --exp_index 2    # what sbatch runs

A run is its configuration (`settings.identity`: every setting that changes what it computes).
It writes, under ``--results_path`` (default ``runs/``; names from `job_control.experiment_name`,
files from `artefacts`), once it has finished, in one step (`artefacts.publish`: a kill leaves
the old artefacts or the new ones, whole):

* ``{name}_results.pkl``: the configuration and its fingerprint, args, full history, test
  accuracy/loss, test probabilities aligned with ``outs_test``, epoch times, parameter count
  ... (`RESULT_KEYS`). A run is done when this file is complete and records the requested
  configuration (`job_control.run_state`): then it is skipped; a complete result of another
  configuration stops the run with a one-line error naming the differing settings (exit 2;
  ``--force`` replaces it); an empty or unreadable one is trained again and replaced;
* ``{name}.keras``: the model with the best validation accuracy, and ``{name}_meta.json``
  (class names, vocabulary, configuration) beside it for `predict.py`;
* ``{name}_log.csv``: one row per epoch;

and, while the run is going:

* ``{name}_run/``: the unfinished run (deleted once the result is written; `checkpoints`): its
  per-epoch log ``{name}_log.csv`` (a row appears once the epoch's checkpoint is safe on disk)
  and checkpoints ``epoch{N}.weights.h5`` (weights and optimizer state after N epochs) +
  ``epoch{N}.json`` (configuration, history, best epoch, dropout random state; a rerun of
  another configuration never resumes it: exit 2, or ``--force`` discards it). Each is written to a temporary
  file and renamed, the JSON last, and the previous one is kept, so a kill at any instant
  (SIGKILL included) leaves a loadable checkpoint; an unreadable newest one is reported and
  the one before it used; when none is readable the run stops with a one-line error.
* ``{name}.lock``: an exclusive flock held by the run, with its pid and host, so that a second
  copy of the same configuration (a double-submitted array task) stops at once (exit 4). It is
  removed at the end; one left by a SIGKILLed run is free (flock locks die with the process).

A preempted, killed or SIGTERM'd run resumes after its last finished epoch when the same command
is run again, and reproduces the uninterrupted run: the weights, the optimizer state, the
history, the early stopping state, the best epoch and the dropout random state come from the
checkpoint, and the training batches form one seeded stream of which epoch ``e`` takes batches
``e * steps`` onwards (a resumed run skips the batches of the finished epochs), so that epoch
``e`` sees the same batches whether or not the run was interrupted before it (the skipped
batches are only prepared, not trained on). Histories and predictions are then identical
bit for bit on the same machine and thread count (tested), up to TensorFlow's nondeterministic
kernels (e.g. on GPUs); only ``epoch_time`` differs. Not reproduced: ReduceLROnPlateau's wait
counter (``--lr_schedule plateau``) restarts, though the reduced learning rate comes back.

Exit codes:
  0   done (or already done, or --nogo);
  1   an unexpected error (a traceback: a bug);
  2   bad arguments or data, an unusable --results_path, unreadable resume state or that of
      another configuration, a result of another configuration in the way, a full disk (one
      line; finished epochs are kept);
  3   the training loss became NaN or infinite: no result is written (lower --lr or set
      --clipnorm); the checkpoint of the last finite epoch stays in ``{name}_run/``;
  4   another live process runs the same configuration into the same --results_path;
  143 interrupted (SIGTERM, Ctrl-C): rerun to resume. A SIGTERM is handled from the first
      lines of this module on (before the heavy imports, argument parsing and TensorFlow);
      only one in the interpreter's own start-up kills the process silently (status 143 too).
"""
import signal
import sys


class Interrupted(BaseException):
    """Raised by the SIGTERM handler: the job is being preempted or cancelled. A BaseException,
    like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it."""


_signals = []      # every SIGTERM received; once non-empty, the run stops at the next check


def _record_early_sigterm(signum, frame):
    _signals.append(signum)


if __name__ == '__main__':       # SLURM may signal while the modules below load: note it for main
    signal.signal(signal.SIGTERM, _record_early_sigterm)

# (the imports below come after the early SIGTERM handler on purpose)
import functools
import json
import os
import pickle
import resource
import socket
import time

import numpy as np

import artefacts
import checkpoints
import fileio
import job_control
import parser as arguments
import pfam_loader
import settings

MONITOR = settings.MONITOR
RESULT_KEYS = job_control.RESULT_KEYS
EXIT_BAD_INPUT, EXIT_NON_FINITE, EXIT_LOCKED, EXIT_INTERRUPTED = 2, 3, 4, 143
#: Test predictions a compact result keeps for each sequence (``--compact``).
TOP_K = 3


class NonFiniteLoss(Exception):
    """The training loss became NaN or infinite."""


def fail(message, status=EXIT_BAD_INPUT):
    print(f'hw6_base.py: error: {message}', file=sys.stderr, flush=True)
    return status


def configure_tensorflow(args):
    """Devices and threads; must run before TensorFlow is first imported. Returns a device text."""
    if args.cpu_only:
        os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    with fileio.filtered_stderr(fileio.tensorflow_noise()):
        return _configure_devices(args)


def _configure_devices(args):
    """`configure_tensorflow` while TensorFlow's start-up lines are filtered."""
    backend = os.environ.get('KERAS_BACKEND', 'tensorflow')
    try:
        import tensorflow as tf
    except ImportError:
        if backend == 'tensorflow':
            raise
        tf = None                                     # JAX trains from NumPy batches without it
    if tf and args.cpus_per_task:
        tf.config.threading.set_intra_op_parallelism_threads(args.cpus_per_task)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, args.cpus_per_task))
    threads = args.cpus_per_task or os.cpu_count()
    if backend != 'tensorflow':
        # Another backend runs the model on NumPy batches; TensorFlow, when installed (Keras
        # imports it to seed it), must leave the GPU and its memory alone.
        if tf:
            tf.config.set_visible_devices([], 'GPU')
        devices = []
        if backend == 'jax':
            import jax                                # deferred: only this backend needs it
            if args.compile_cache:
                jax.config.update('jax_compilation_cache_dir', args.compile_cache)
                jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
            devices = [device for device in jax.devices() if device.platform != 'cpu']
        if args.gpu and not devices:
            raise ValueError(f'--gpu given but {backend} sees no GPU (install jax[cuda12]?)')
        return f'{backend}: ' + (f'{len(devices)} GPU(s)' if devices else f'CPU ({threads} threads)')
    gpus = tf.config.list_physical_devices('GPU')
    if args.gpu and not gpus:
        raise ValueError('--gpu given but TensorFlow sees no GPU (install tensorflow[and-cuda]?)')
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    return f'{len(gpus)} GPU(s)' if gpus else f'CPU ({threads} threads)'


def load_data(args):
    """The rotation dict (``--source``: what to read of a course folder); the demo dataset is
    generated on first use, once the rotation is known to be one of its own."""
    if args.demo:
        pfam_loader.rotation_folds(args.rotation)          # a bad rotation builds nothing
        pfam_loader.ensure_demo(pfam_loader.DEMO_BASEDIR, args.version)
    return pfam_loader.load_rotation(pfam_loader.DEMO_BASEDIR if args.demo else args.dataset,
                                     args.rotation, args.version, source=args.source)


def write_log(path, history):
    """Write a history dict as the per-epoch CSV log (atomically; columns as CSVLogger's)."""
    import pandas as pd
    columns = ['epoch'] + sorted(key for key in history if key != 'epoch')
    frame = pd.DataFrame(history, columns=columns)
    fileio.atomic_write(path, lambda f: frame.to_csv(f, index=False), 'w')


def _best_so_far(history, min_delta):
    """(best validation accuracy, epochs since it) of a history, as EarlyStopping counts."""
    best, wait = None, 0
    for value in history.get(MONITOR, []):
        if best is None or value > best + min_delta:
            best, wait = value, 0
        else:
            wait += 1
    return best, wait


def make_callbacks(args, paths, state):
    """Callbacks in the order they must run at each epoch end; the checkpoint last, so that it
    holds what the others did at that epoch end (learning rate, early stopping). ``state`` is
    the checkpoint state, updated in place at every epoch end."""
    import keras
    history = state['history']

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs['epoch_time'] = time.time() - self.started

    class StopOnNonFiniteLoss(keras.callbacks.Callback):
        """Raise NonFiniteLoss at the first NaN/inf loss, before anything saves that epoch."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self._check(logs, ('loss',), f'epoch {self.epoch + 1}, batch {batch + 1}')

        def on_epoch_end(self, epoch, logs=None):
            self._check(logs, ('loss', 'val_loss'), f'epoch {epoch + 1}')

        @staticmethod
        def _check(logs, keys, where):
            for key in keys:
                if key in (logs or {}) and not np.isfinite(float(logs[key])):
                    raise NonFiniteLoss(f'the {"validation " if key != "loss" else ""}loss '
                                        f'became {float(logs[key])} in {where}')

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """EarlyStopping whose best value and wait count come back from the history."""

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            best, wait = _best_so_far(history, self.min_delta)
            if best is not None:
                self.best, self.wait = best, wait

    class Checkpoint(keras.callbacks.Callback):
        """At each epoch end: the epoch into the history, a checkpoint, then the CSV log."""

        def on_epoch_end(self, epoch, logs=None):
            best, _ = _best_so_far(history, 0)
            for key, value in {'epoch': epoch, **logs}.items():
                history.setdefault(key, []).append(float(value) if key != 'epoch' else value)
            if best is None or logs[MONITOR] > best:
                state['best_epochs'] = epoch + 1
            state['epochs'] = epoch + 1
            checkpoints.save(self.model, paths['run_dir'], state)
            write_log(paths['run_log'], history)
            check_interrupted()

    class StopOnSignal(keras.callbacks.Callback):
        """Stop at the first batch end after a SIGTERM whose own raise was lost (see
        `_raise_interrupted`); an epoch that has ended is checkpointed first."""

        def on_train_batch_end(self, batch, logs=None):
            check_interrupted()

        on_test_batch_end = on_train_batch_end

    callbacks = [StopOnSignal(), EpochTimer(), StopOnNonFiniteLoss()]
    if args.patience:
        callbacks.append(ResumableEarlyStopping(monitor=MONITOR, mode='max',
                                                patience=args.patience, min_delta=args.min_delta))
    if args.lr_schedule == 'cosine':
        def cosine(epoch, lr=None):
            progress = min(epoch / max(args.epochs - 1, 1), 1.0)
            return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + np.cos(np.pi * progress))
        callbacks.append(keras.callbacks.LearningRateScheduler(cosine))
    elif args.lr_schedule == 'plateau':
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=MONITOR, mode='max', factor=args.lr_factor, patience=args.lr_patience,
            min_lr=args.lr_min))
    callbacks.append(Checkpoint())
    return callbacks


def check_resume_state(paths, name, config, force):
    """Refuse (ResumeError) to resume checkpoints of another configuration than ``config``; with
    ``force`` discard them instead (the run then starts from its first epoch)."""
    recorded = checkpoints.recorded_config(paths['run_dir'])
    if recorded is None:
        return
    epochs, old = recorded
    changed = (settings.differences(old, config) if isinstance(old, dict)
               else ['a configuration that an older hw6_base.py did not record'])
    if not changed:
        return
    if not force:
        raise checkpoints.ResumeError(
            f'{paths["run_dir"]} holds {epochs} epoch(s) of another configuration '
            f'({", ".join(changed)}): not resuming it; --force discards it and starts over, '
            'another --label runs this configuration beside it')
    print(f'{name}: discarding {paths["run_dir"]} ({epochs} epoch(s) of another configuration: '
          f'{", ".join(changed)})', file=sys.stderr, flush=True)
    artefacts.remove_run_dir(paths['run_dir'])


def resume(model, paths, name, config):
    """The checkpoint state to go on from, loaded into ``model`` (a fresh state, recording
    ``config``, when there is no checkpoint); the run's log is rewritten to match it."""
    run_dir = paths['run_dir']
    os.makedirs(run_dir, exist_ok=True)
    for leftover in os.listdir(run_dir):          # temporary files of a killed attempt
        if leftover.startswith('.'):
            os.remove(os.path.join(run_dir, leftover))
    state = checkpoints.load(model, run_dir)
    if state is None:
        if os.path.exists(paths['run_log']):
            os.remove(paths['run_log'])
        return {'epochs': 0, 'history': {}, 'best_epochs': None, 'config': config}
    write_log(paths['run_log'], state['history'])
    print(f'{name}: resuming after epoch {state["epochs"]} (checkpoints in {run_dir})',
          flush=True)
    return state


def training_data(args, dat, done):
    """(train, valid, steps per epoch) for a run that has finished ``done`` epochs.

    The training batches form one seeded stream (the training set shuffled anew at each pass)
    of which epoch ``e`` takes ``steps`` batches from batch ``e * steps`` on: a resumed run
    skips the batches of its finished epochs and sees those an uninterrupted run would see.
    """
    import keras
    lengths = (pfam_loader.default_bucket_lengths(dat['len_max'], args.bucket_growth)
               if args.bucket else None)
    if keras.backend.backend() != 'tensorflow':           # JAX: NumPy batches, no TensorFlow
        per_pass, stream = pfam_loader.training_batches(dat, args.batch, lengths,
                                                        shuffle=args.shuffle != 0, seed=args.seed)
        steps = args.steps_per_epoch or per_pass
        train = stream(done * steps)
        if args.substitution:
            train = _substituted(train, args, done * steps)
        return train, _validation_batches(dat, args.batch, lengths), steps
    train, _, _ = pfam_loader.create_tf_datasets(
        dat, batch=args.batch, prefetch=args.prefetch,
        shuffle=True if args.shuffle is None else args.shuffle, repeat=False, cache=args.cache,
        bucket=args.bucket, seed=args.seed, bucket_lengths=lengths)
    steps = args.steps_per_epoch or int(train.cardinality())
    if steps <= 0:
        raise RuntimeError(f'the number of training batches per pass is unknown ({steps})')
    train = train.repeat()
    if args.substitution:
        train = train.enumerate().map(lambda number, batch: _substituted_tf(number, batch, args))
    return train.skip(done * steps), _validation_tf(dat, args.batch, lengths), steps


def _substitution_seed(args, number):
    """The seed of the substitutions in training batch ``number`` of the run's stream: a resumed
    run augments the batches of its remaining epochs as an uninterrupted run does."""
    return [args.seed, 1, int(number)]


def _substituted(batches, args, first):
    """NumPy batches ``(tokens, labels, ...)`` from batch number ``first`` on, with
    ``--substitution`` applied to the tokens (`pfam_loader.substitute`)."""
    for number, (tokens, *rest) in enumerate(batches, start=first):
        yield (pfam_loader.substitute(tokens, args.substitution, _substitution_seed(args, number)),
               *rest)


def _substituted_tf(number, batch, args):
    """`_substituted` for one batch of a ``tf.data`` stream enumerated from its start."""
    import tensorflow as tf
    tokens, *rest = batch
    changed = tf.numpy_function(
        lambda t, n: pfam_loader.substitute(t, args.substitution, _substitution_seed(args, n)),
        [tokens, number], tokens.dtype, stateful=False)
    changed.set_shape(tokens.shape)
    return (changed, *rest)


def _validation_batches(dat, batch, widths=None):
    """The validation fold as a ``keras.utils.PyDataset`` of NumPy batches in length order, each
    trimmed to the smallest of ``widths`` (default ``len_max`` alone) that holds it, the last
    filled up with rows of weight 0 (`pfam_loader.full_batch`)."""
    import keras
    ins = pfam_loader.right_padded(np.asarray(dat['ins_valid']))
    outs = np.asarray(dat['outs_valid'])
    plan = list(pfam_loader.length_batches(ins, batch, widths or [dat['len_max']]))

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return len(plan)

        def __getitem__(self, index):
            rows, width = plan[index]
            return pfam_loader.full_batch(ins[rows, :width].astype(np.int32),
                                          outs[rows], batch)
    return Batches()


def _validation_tf(dat, batch, widths=None):
    """`_validation_batches` as a ``tf.data`` dataset (batches of varying width)."""
    import tensorflow as tf
    batches = _validation_batches(dat, batch, widths)
    outs = np.asarray(dat['outs_valid'])
    signature = (tf.TensorSpec([None, None], tf.int32),
                 tf.TensorSpec([None, *outs.shape[1:]], tf.as_dtype(outs.dtype)),
                 tf.TensorSpec([None], tf.float32))
    return tf.data.Dataset.from_generator(
        lambda: (batches[i] for i in range(len(batches))), output_signature=signature
    ).apply(tf.data.experimental.assert_cardinality(len(batches)))


def is_finished(args, state):
    """Whether a run with this checkpoint state needs no more epochs."""
    best, wait = _best_so_far(state['history'], args.min_delta)
    return state['epochs'] >= args.epochs or bool(args.patience and best is not None
                                                  and wait >= args.patience)


def evaluate(model, dat, batch, growth):
    """(test probabilities, test accuracy, test loss), in batches of ``batch`` sequences padded
    to length buckets of growth ``growth``."""
    import network
    predict_test = network.predict_probabilities(model, dat['ins_test'], batch=batch,
                                                 growth=growth)
    labels = dat['outs_test'][:, 0]
    test_accuracy = float(np.mean(predict_test.argmax(axis=1) == labels))
    test_loss = float(np.mean(-np.log(np.clip(predict_test[np.arange(len(labels)), labels],
                                              1e-12, None))))
    return predict_test, test_accuracy, test_loss


def compact_predictions(result, k=TOP_K):
    """``result`` with its test predictions cut to each sequence's top ``k`` classes (int16)
    and their probabilities (float16), best first: ``predict_test`` None and
    ``predict_test_top`` ``{'classes', 'probabilities'}``, both (n, k). The top class, hence
    the test accuracy, is that of the whole matrix (ties keep the lower class, as ``argmax``)."""
    full = np.asarray(result['predict_test'], dtype=np.float32)
    classes = np.argsort(-full, axis=1, kind='stable')[:, :k]
    top = {'classes': classes.astype(np.int16),
           'probabilities': np.take_along_axis(full, classes, axis=1).astype(np.float16)}
    note = (f'top {k} classes and probabilities (float16) of the {full.shape[0]} x '
            f'{full.shape[1]} float32 predictions')
    return {**result, 'predict_test': None, 'predict_test_top': top, 'predict_test_note': note}


def publish(paths, model, meta, result, compact=False):
    """Publish the run's artefacts in one step (`artefacts.publish`): the model, its meta data,
    the log and the result, which marks the run done; then the run directory goes. Refused
    (OSError) before anything is written when the disk has no room for them. ``compact``: the
    result's predictions cut by `compact_predictions`, the model saved without its optimizer."""
    import network
    if compact:
        result = compact_predictions(result)
    needed = 2 * checkpoints.size_estimate(model) + 2 * np.asarray(result['outs_test']).nbytes \
        + (0 if compact else 2 * result['predict_test'].nbytes)
    fileio.check_free_space(os.path.dirname(paths['result']) or '.', needed,
                            f'the artefacts of {result["name"]}')
    save = (lambda path: network.without_optimizer(model).save(path)) if compact else model.save
    artefacts.publish(paths, {
        'model': (save, 'path'),
        'meta': (lambda f: json.dump(meta, f, indent=1), 'w'),
        'log': (lambda path: write_log(path, result['history']), 'path'),
        'result': (lambda f: pickle.dump(result, f), 'wb')})


def train_and_evaluate(args, dat, name, device='', extra_callbacks=()):
    """Train (or resume), evaluate on the test fold, write model + result. Returns the result."""
    import keras

    import network
    paths = artefacts.paths(args.results_path, name)
    config = settings.identity(args)                 # resume state checked by `_train_locked`
    keras.utils.set_random_seed(args.seed)
    model = network.build_model(args.model_type, dat['n_tokens'], dat['n_classes'],
                                None if args.bucket else dat['len_max'],
                                **settings.model_kwargs(args), name=name)
    if args.render:
        network.render_model(model, paths['figure'])
    state = resume(model, paths, name, config)
    n_train, n_params = len(dat['ins_train']), model.count_params()
    print(f'{name}: {args.model_type}, {n_params:,} parameters; rotation {args.rotation}: '
          f'{n_train:,} train / {len(dat["ins_valid"]):,} validation / '
          f'{len(dat["ins_test"]):,} test sequences, {dat["n_classes"]} classes; {device}',
          flush=True)

    if not is_finished(args, state):
        train, valid, steps = training_data(args, dat, state['epochs'])
        model.fit(train, validation_data=valid, epochs=args.epochs,
                  initial_epoch=state['epochs'], steps_per_epoch=steps, verbose=args.verbose,
                  shuffle=False,
                  callbacks=make_callbacks(args, paths, state) + list(extra_callbacks))
    check_interrupted()
    history = state['history']
    if not history:
        raise RuntimeError('training produced no epoch (see the messages above)')
    best_epoch = state['best_epochs'] - 1
    model.load_weights(checkpoints.weights_file(paths['run_dir'], state['best_epochs']))
    predict_test, test_accuracy, test_loss = evaluate(model, dat, args.batch, args.bucket_growth)

    class_names = [dat['out_index_word'][i] for i in range(dat['n_classes'])]
    meta = {'class_names': class_names, 'model_type': args.model_type, 'rotation': args.rotation,
            'len_max': int(dat['len_max']),
            # None: course pickles without their letter map (predict.py then refuses)
            'vocabulary': dat.get('vocabulary', pfam_loader.VOCABULARY),
            'padding_token': pfam_loader.PAD_TOKEN, 'test_accuracy': test_accuracy,
            'len_min': int(pfam_loader.sequence_lengths(dat['ins_train']).min()),
            'fingerprint': network.model_fingerprint(model),     # binds the meta to the model
            'config': config, 'config_fingerprint': settings.fingerprint(config)}
    meta[fileio.CONTENT_HASH_KEY] = fileio.content_hash(meta)    # predict.py refuses edited metas
    result = {
        'args': vars(args).copy(), 'config': config,
        'config_fingerprint': settings.fingerprint(config), 'name': name,
        'model_type': args.model_type,
        'rotation': args.rotation, 'history': history, 'test_accuracy': test_accuracy,
        'test_loss': test_loss, 'predict_test': predict_test.astype(np.float32),
        'outs_test': dat['outs_test'], 'class_names': class_names,
        'epoch_times': history.get('epoch_time', []), 'n_params': n_params,
        'n_epochs': len(history['loss']), 'best_epoch': best_epoch,
        'valid_accuracy': float(history[MONITOR][best_epoch]),
        'model_path': os.path.basename(paths['model']),
        'wall_time': float(np.sum(history.get('epoch_time', [0.0]))),
        'hostname': socket.gethostname(), 'device': device,
        'max_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # peak
        'dataset': {'basedir': pfam_loader.DEMO_BASEDIR if args.demo else args.dataset,
                    'version': args.version, 'len_max': int(dat['len_max']),
                    'n_train': n_train},
    }
    check_interrupted()
    publish(paths, model, meta, result, compact=args.compact)
    print(f'{name}: test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}), best validation '
          f'{result["valid_accuracy"]:.4f} at epoch {best_epoch + 1} of {result["n_epochs"]}, '
          f'{np.mean(result["epoch_times"] or [0]):.1f} s/epoch; wrote {paths["result"]}',
          flush=True)
    return result


_kept = []         # the interruption being handled (`_keep_until_exit`)


def _keep_until_exit(err):
    """Keep ``err``, the Interrupted or KeyboardInterrupt being handled, and through its
    traceback every object of the interrupted run, from being torn down when its ``except``
    ends. Freeing TensorFlow's dataset iterators joins their tf.data autotuning thread, which
    first sleeps out its current period (it doubles up to 60 s; the main thread waits in
    ``~RootDataset::Iterator``, holding the GIL): the run would hang after its message, its
    lock still held, or later in the interpreter's finalization. The command line leaves with
    ``os._exit`` instead (`fileio.run_main`, status 143), so nothing is torn down; `main` lets
    go of them when it was called with an ``argv`` (by a caller that goes on running)."""
    _kept[:] = [err]


def _raise_interrupted(signum, frame):
    """SIGTERM handler: record the signal and, the first time, raise Interrupted. Python runs a
    handler between any two bytecodes, also inside a garbage-collector callback or a ``__del__``,
    where a raised exception is only printed ("Exception ignored in ...") and lost; the record
    stays, and `check_interrupted` (at every batch end, after training, before publishing)
    raises again. Later signals are only recorded, so that the clean-up can finish."""
    _signals.append(signum)
    if len(_signals) == 1:
        raise Interrupted()


def _quiet_lost_interrupt(unraisable, default):
    """sys.unraisablehook: an Interrupted that Python could not raise (see `_raise_interrupted`)
    is no error to print with a traceback; anything else goes to the ``default`` hook."""
    if not isinstance(unraisable.exc_value, Interrupted):
        default(unraisable)


def check_interrupted():
    """Raise Interrupted when a SIGTERM has arrived (whether or not its own raise got through)."""
    if _signals:
        raise Interrupted()


def main(argv=None, extra_callbacks=()):
    """Run the driver; returns the exit status (see the module docstring)."""
    # First of all (SLURM may signal at any moment): SIGTERM raises Interrupted from now on.
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_quiet_lost_interrupt, default=previous_hook)
    try:
        check_interrupted()
        return _main(argv, extra_callbacks)
    except (Interrupted, KeyboardInterrupt) as err:
        _keep_until_exit(err)
        print('hw6_base.py: interrupted before training started; run the same command again',
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = previous_hook
        _signals.clear()                 # handled (main may be called again in one process)
        if argv is not None:             # a caller that goes on: the command line never frees
            _kept.clear()                # the interrupted run's objects (`_keep_until_exit`)


def _main(argv, extra_callbacks):
    args = job_control.resolve_args(sys.argv[1:] if argv is None else argv,
                                    arguments.create_parser(prog='hw6_base.py'))
    name = job_control.experiment_name(args)
    paths = artefacts.paths(args.results_path, name)
    config = settings.identity(args)
    if args.nogo:
        print(f'{name}: would write {paths["result"]} (configuration '
              f'{settings.fingerprint(config)}{", preset " + args.preset if args.preset else ""})')
        for key, value in sorted(vars(args).items()):
            print(f'  {key} = {value}{"" if key in config else "   (not configuration)"}')
        return 0
    status = _done_or_refused(name, paths, config, args.force)
    if status is not None:
        return status
    try:
        os.makedirs(args.results_path, exist_ok=True)
        lock = job_control.acquire_run_lock(paths['lock'])
    except job_control.LockHeld as err:
        return fail(f'{name} is already running ({err.holder}; lock {err.path}); not starting '
                    'a second copy', EXIT_LOCKED)
    except OSError as err:
        return fail(f'cannot write to --results_path {args.results_path}: {err}')
    try:
        artefacts.settle(paths, clean=True)       # what a killed run of this name left
        taken = [paths[kind] for kind in (*artefacts.PUBLISHED, 'run_dir')
                 if os.path.exists(paths[kind])
                 and os.path.isdir(paths[kind]) != (kind == 'run_dir')]
        if taken:
            return fail(f'{", ".join(taken)}: in the way of the run\'s files (a '
                        f'{"file" if taken[0] == paths["run_dir"] else "folder"}); move it away')
        status = _done_or_refused(name, paths, config, args.force, quiet=True)
        if status is not None:                     # finished while we waited
            return status
        return _train_locked(args, name, paths, extra_callbacks)
    finally:
        job_control.release_run_lock(lock)


def _done_or_refused(name, paths, config, force, quiet=False):
    """0 when the run is done (a complete result of ``config``) and not --force'd, an exit
    status 2 when a complete result of another configuration is in the way (without --force),
    else None (train); says why it runs again."""
    state, why = job_control.run_state(paths, config)
    if state == 'done' and not force:
        print(f'{name}: {paths["result"]} exists with this configuration; skipping (--force to '
              'run it again)', flush=True)
        return 0
    if state == 'other' and not force:
        return fail(f'{paths["result"]} is {why}; --force replaces it, another --label runs '
                    'this configuration beside it')
    if state == 'broken' and not quiet:
        print(f'{name}: {paths["result"]} is {why}: not done; running it again',
              file=sys.stderr, flush=True)
    return None


def _train_locked(args, name, paths, extra_callbacks):
    """Load the data, start TensorFlow, train; the exit status."""
    try:
        try:
            check_resume_state(paths, name, settings.identity(args), args.force)
            dat = load_data(args)                      # before TensorFlow: quick errors
            device = configure_tensorflow(args)
        except (ValueError, OSError) as err:          # DataError is a ValueError
            return fail(err)
        train_and_evaluate(args, dat, name, device, extra_callbacks)
    except checkpoints.ResumeError as err:
        return fail(err)
    except OSError as err:                            # a full disk, a folder gone read-only
        return fail(f'{name}: {fileio.one_line(err)}; the finished epochs are kept in '
                    f'{paths["run_dir"]}: fix that and run the same command again to resume')
    except NonFiniteLoss as err:
        print(f'{name}: {err}; stopped, no result written (lower --lr or set --clipnorm, and '
              f'delete {paths["run_dir"]}, which keeps the finite epochs, to start over)',
              file=sys.stderr, flush=True)
        return EXIT_NON_FINITE
    except (Interrupted, KeyboardInterrupt) as err:
        _keep_until_exit(err)            # before anything can free the run's TensorFlow objects
        print(f'{name}: interrupted; run the same command again to resume after the last '
              f'finished epoch', file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

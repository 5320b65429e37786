"""Experiment driver: train and evaluate one rotation of one model type, and pickle the results.

    python hw6_base.py --demo --model_type gru --rotation 0 --epochs 3      # about a minute, CPU
    python hw6_base.py @args_mha.txt --exp_type rotations --exp_index 2    # what sbatch runs

Writes, under ``--results_path`` (names from `job_control.experiment_name`):

* ``{name}_results.pkl`` (atomically): args, full history, test accuracy/loss, test
  probabilities aligned with ``outs_test``, epoch times, parameter count ... (`RESULT_KEYS`);
* ``{name}.keras``: the model with the best validation accuracy, and ``{name}_meta.json``
  (class names, vocabulary) beside it for `predict.py`;
* ``{name}_log.csv``: one row per epoch, appended as training goes;
* ``{name}_run/``: resume state while the run is unfinished (deleted once the result is written).
  A preempted, killed or SIGTERM'd run resumes from its last finished epoch when the same
  command is run again: weights and optimizer from ``BackupAndRestore``, the history, the early
  stopping state and the best weights so far from the log and the run directory. With
  ``--lr_schedule plateau`` the learning rate comes back but ReduceLROnPlateau's wait counter
  restarts; the default cosine schedule depends on the epoch only and resumes exactly.

Exit codes: 0 done (or already done), 2 bad arguments or data, 143 interrupted (rerun to resume).
"""
import json
import os
import pickle
import signal
import socket
import sys
import time

import numpy as np
import pandas as pd

import job_control
import parser as arguments
import pfam_loader

MONITOR = 'val_sparse_categorical_accuracy'
RESULT_KEYS = ('args', 'name', 'model_type', 'rotation', 'history', 'test_accuracy', 'test_loss',
               'predict_test', 'outs_test', 'class_names', 'epoch_times', 'n_params',
               'n_epochs', 'best_epoch', 'valid_accuracy', 'model_path', 'wall_time', 'hostname',
               'device', 'dataset')


class Interrupted(Exception):
    """Raised by the SIGTERM handler: the job is being preempted or cancelled."""


def fail(message):
    print(f'hw6_base.py: error: {message}', file=sys.stderr, flush=True)
    return 2


def model_hyperparameters(args):
    """Keyword arguments of `network.build_model` from parsed (or pickled, as a dict) args;
    arguments a pickle lacks take today's defaults."""
    given = args if isinstance(args, dict) else vars(args)
    defaults = vars(arguments.create_parser().parse_args([]))     # for pickles of older versions
    get = lambda key: given.get(key, defaults[key])                # noqa: E731
    pools = list(get('pool_sizes'))
    return dict(n_embeddings=get('n_embeddings'), conv_filters=get('conv_filters'),
                conv_kernel=get('conv_kernel'), conv_stride=get('conv_stride'),
                rnn_units=list(get('rnn_units')), pool_sizes=pools[0] if len(pools) == 1 else pools,
                attention_heads=list(get('attention_heads')), key_dim=get('key_dim'),
                feed_forward=get('feed_forward'), dense_units=list(get('dense_units')),
                activation=get('activation'), dropout=get('dropout'),
                dense_dropout=get('dense_dropout'), l2=get('l2'), lr=get('lr'),
                clipnorm=get('clipnorm') or None, jit_compile=get('jit_compile'))


def configure_tensorflow(args):
    """Devices and threads; must run before TensorFlow is first imported. Returns a device text."""
    if args.cpu_only:
        os.environ['CUDA_VISIBLE_DEVICES'] = '-1'
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    import tensorflow as tf
    if args.cpus_per_task:
        tf.config.threading.set_intra_op_parallelism_threads(args.cpus_per_task)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, args.cpus_per_task))
    gpus = tf.config.list_physical_devices('GPU')
    if args.gpu and not gpus:
        raise ValueError('--gpu given but TensorFlow sees no GPU (install tensorflow[and-cuda]?)')
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    threads = args.cpus_per_task or os.cpu_count()
    return f'{len(gpus)} GPU(s)' if gpus else f'CPU ({threads} threads)'


def load_data(args):
    """The rotation dict; the demo dataset is generated on first use."""
    if args.demo:
        pfam_loader.ensure_demo(pfam_loader.DEMO_BASEDIR, args.version)
        return pfam_loader.load_rotation(pfam_loader.DEMO_BASEDIR, args.rotation, args.version)
    return pfam_loader.load_rotation(args.dataset, args.rotation, args.version)


def read_log(path):
    """The per-epoch CSV log as a Keras-style history dict (empty when there is none)."""
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return {}
    frame = pd.read_csv(path)
    return {column: frame[column].tolist() for column in frame.columns}


def _best_so_far(history, min_delta):
    """(best validation accuracy, epochs since it) of a history, as EarlyStopping counts."""
    best, wait = None, 0
    for value in history.get(MONITOR, []):
        if best is None or value > best + min_delta:
            best, wait = value, 0
        else:
            wait += 1
    return best, wait


def make_callbacks(args, paths, history):
    """Callbacks in the order they must run at each epoch end (the backup last, so that every
    saved epoch is already in the log and the best-weights file)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs['epoch_time'] = time.time() - self.started

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """EarlyStopping whose best value and wait count come back from the log on resume."""

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            best, wait = _best_so_far(history, self.min_delta)
            if best is not None:
                self.best, self.wait = best, wait

    callbacks = [EpochTimer(), keras.callbacks.TerminateOnNaN()]
    if args.patience:
        callbacks.append(ResumableEarlyStopping(monitor=MONITOR, mode='max',
                                                patience=args.patience, min_delta=args.min_delta))
    best, _ = _best_so_far(history, 0)
    callbacks.append(keras.callbacks.ModelCheckpoint(
        paths['best_weights'], monitor=MONITOR, mode='max', save_best_only=True,
        save_weights_only=True, initial_value_threshold=best))
    if args.lr_schedule == 'cosine':
        def cosine(epoch, lr=None):
            progress = min(epoch / max(args.epochs - 1, 1), 1.0)
            return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + np.cos(np.pi * progress))
        callbacks.append(keras.callbacks.LearningRateScheduler(cosine))
    elif args.lr_schedule == 'plateau':
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=MONITOR, mode='max', factor=args.lr_factor, patience=args.lr_patience,
            min_lr=args.lr_min))
    callbacks.append(keras.callbacks.CSVLogger(paths['log'], append=True))
    callbacks.append(keras.callbacks.BackupAndRestore(paths['backup'], delete_checkpoint=False))
    return callbacks


def run_paths(args, name):
    run_dir = os.path.join(args.results_path, f'{name}_run')
    return {'result': os.path.join(args.results_path, f'{name}_results.pkl'),
            'model': os.path.join(args.results_path, f'{name}.keras'),
            'meta': os.path.join(args.results_path, f'{name}_meta.json'),
            'log': os.path.join(args.results_path, f'{name}_log.csv'),
            'figure': os.path.join(args.results_path, f'{name}_model.png'),
            'run_dir': run_dir, 'backup': os.path.join(run_dir, 'backup'),
            'best_weights': os.path.join(run_dir, 'best.weights.h5')}


def _resumed_epochs(paths):
    """Epochs finished by an earlier attempt of this run, per its backup (0 when fresh)."""
    metadata = os.path.join(paths['backup'], 'training_metadata.json')
    if not os.path.isfile(metadata):
        return 0
    with open(metadata) as f:
        return int(json.load(f)['epoch']) + 1


def train_and_evaluate(args, dat, name, device='', extra_callbacks=()):
    """Train (or resume), evaluate on the test fold, write model + result. Returns the result."""
    import keras

    import network
    paths = run_paths(args, name)
    os.makedirs(paths['run_dir'], exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    # History of an earlier, interrupted attempt: keep the epochs its backup covers.
    done = _resumed_epochs(paths)
    history = {key: values[:done] for key, values in read_log(paths['log']).items()}
    if done:
        frame = pd.DataFrame(history)
        pfam_loader.atomic_write(paths['log'], lambda f: frame.to_csv(f, index=False), 'w')
        print(f'{name}: resuming after epoch {done} (log and backup in {paths["run_dir"]})',
              flush=True)
    elif os.path.exists(paths['log']):
        os.remove(paths['log'])                           # a log without a backup is stale

    train, valid, _ = pfam_loader.create_tf_datasets(
        dat, batch=args.batch, prefetch=args.prefetch,
        shuffle=True if args.shuffle is None else args.shuffle,
        repeat=args.steps_per_epoch is not None, cache=args.cache, bucket=args.bucket,
        seed=args.seed)
    model = network.build_model(args.model_type, dat['n_tokens'], dat['n_classes'],
                                None if args.bucket else dat['len_max'],
                                **model_hyperparameters(args), name=name)
    if args.render:
        network.render_model(model, paths['figure'])
    if done and args.lr_schedule == 'plateau' and 'learning_rate' in history:
        model.optimizer.learning_rate.assign(history['learning_rate'][-1])
    n_train, n_params = len(dat['ins_train']), model.count_params()
    print(f'{name}: {args.model_type}, {n_params:,} parameters; rotation {args.rotation}: '
          f'{n_train:,} train / {len(dat["ins_valid"]):,} validation / '
          f'{len(dat["ins_test"]):,} test sequences, {dat["n_classes"]} classes; {device}',
          flush=True)

    best, wait = _best_so_far(history, args.min_delta)
    finished = done >= args.epochs or (args.patience and best is not None
                                       and wait >= args.patience)
    started = time.time()
    if not finished:
        model.fit(train, validation_data=valid, epochs=args.epochs,
                  steps_per_epoch=args.steps_per_epoch, verbose=args.verbose, shuffle=False,
                  callbacks=make_callbacks(args, paths, history) + list(extra_callbacks))
    history = read_log(paths['log'])
    if not history:
        raise RuntimeError('training produced no epoch (see the messages above)')
    if not np.isfinite(history['loss'][-1]):
        print(f'{name}: the loss became NaN at epoch {len(history["loss"])}; keeping the best '
              'epoch before it', flush=True)
    if os.path.isfile(paths['best_weights']):
        model.load_weights(paths['best_weights'])
    best_epoch = int(np.argmax(history[MONITOR]))

    predict_test = network.predict_probabilities(model, dat['ins_test'])
    labels = dat['outs_test'][:, 0]
    test_accuracy = float(np.mean(predict_test.argmax(axis=1) == labels))
    test_loss = float(np.mean(-np.log(np.clip(predict_test[np.arange(len(labels)), labels],
                                              1e-12, None))))

    temporary = paths['model'][:-len('.keras')] + '.tmp.keras'
    model.save(temporary)
    os.replace(temporary, paths['model'])
    class_names = [dat['out_index_word'][i] for i in range(dat['n_classes'])]
    meta = {'class_names': class_names, 'model_type': args.model_type, 'rotation': args.rotation,
            'len_max': int(dat['len_max']), 'vocabulary': pfam_loader.VOCABULARY,
            'padding_token': pfam_loader.PAD_TOKEN, 'test_accuracy': test_accuracy}
    pfam_loader.atomic_write(paths['meta'], lambda f: json.dump(meta, f, indent=1), 'w')
    result = {
        'args': vars(args).copy(), 'name': name, 'model_type': args.model_type,
        'rotation': args.rotation, 'history': history, 'test_accuracy': test_accuracy,
        'test_loss': test_loss, 'predict_test': predict_test.astype(np.float32),
        'outs_test': dat['outs_test'], 'class_names': class_names,
        'epoch_times': history.get('epoch_time', []), 'n_params': n_params,
        'n_epochs': len(history['loss']), 'best_epoch': best_epoch,
        'valid_accuracy': float(history[MONITOR][best_epoch]),
        'model_path': os.path.basename(paths['model']),
        'wall_time': float(np.sum(history.get('epoch_time', [0.0]))),
        'hostname': socket.gethostname(), 'device': device,
        'dataset': {'basedir': pfam_loader.DEMO_BASEDIR if args.demo else args.dataset,
                    'version': args.version, 'len_max': int(dat['len_max']),
                    'n_train': n_train},
    }
    pfam_loader.atomic_write(paths['result'], lambda f: pickle.dump(result, f))
    _remove_tree(paths['run_dir'])
    print(f'{name}: test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}), best validation '
          f'{result["valid_accuracy"]:.4f} at epoch {best_epoch + 1} of {result["n_epochs"]}, '
          f'{np.mean(result["epoch_times"] or [0]):.1f} s/epoch; wrote {paths["result"]}',
          flush=True)
    return result


def _remove_tree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def main(argv=None, extra_callbacks=()):
    args = arguments.parse_args(argv)
    try:
        job_control.augment_args(args)
    except ValueError as err:
        return fail(err)
    name = job_control.experiment_name(args)
    paths = run_paths(args, name)
    if args.nogo:
        print(f'{name}: would write {paths["result"]}')
        for key, value in sorted(vars(args).items()):
            print(f'  {key} = {value}')
        return 0
    if os.path.exists(paths['result']) and not args.force:
        print(f'{name}: {paths["result"]} exists; skipping (--force to overwrite)', flush=True)
        return 0
    try:
        os.makedirs(args.results_path, exist_ok=True)
        dat = load_data(args)                          # before TensorFlow: quick errors
        device = configure_tensorflow(args)
    except (ValueError, OSError) as err:              # DataError is a ValueError
        return fail(err)

    def on_sigterm(signum, frame):
        raise Interrupted()
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        train_and_evaluate(args, dat, name, device, extra_callbacks)
    except (Interrupted, KeyboardInterrupt):
        print(f'{name}: interrupted; run the same command again to resume from the last '
              f'finished epoch', file=sys.stderr, flush=True)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == '__main__':
    sys.exit(main())

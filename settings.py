"""Every setting of a run, declared once: its type, default, allowed values and meaning.

The settings are grouped in frozen dataclasses by concern. From these declarations come

* the command line of `hw6_base.py` and `job_control.py` (`parser.create_parser` adds one option
  per field, with the field's help, check and default),
* the keyword arguments of `network.build_model` (`Model`: the builder's defaults are these),
* the configuration of a run (`identity`): the settings that change what a run computes, stored
  with every checkpoint, result and model meta, and compared before a result counts as done or a
  checkpoint is resumed (`differences`, `fingerprint`),
* the named presets the suite ships (`PRESETS`: the reference models, the course-scale and
  400-family configurations, and the tiny model of the tests and smoke runs).

    >>> config = Model(model_type='mha', attention_heads=(2, 2))
    >>> fingerprint(identity({'model_type': 'gru'}))      # doctest: +SKIP
    'c0ffee...'

Nothing here imports Keras, TensorFlow or argparse: the model layer may use it.
"""
import dataclasses
import hashlib
import json
import math
import os

from pfam_loader import (BUCKET_GROWTH, DEFAULT_BASEDIR, DEFAULT_VERSION, DEMO_BASEDIR, N_FOLDS,
                         N_TOKENS, SOURCES)

#: The model types of `network.build_model`: SimpleRNN, GRU, LSTM and Multi-Head Attention.
MODEL_TYPES = ('rnn', 'gru', 'lstm', 'mha')
#: Rotations of the standard 5-fold datasets (a dataset built with ``--folds k`` has k).
ROTATIONS = tuple(range(N_FOLDS))
#: The models' accuracy metric (Keras' name in the history) and its validation twin, on which
#: the driver selects epochs and stops early.
ACCURACY = 'sparse_categorical_accuracy'
MONITOR = 'val_' + ACCURACY
#: Activations a hidden layer may use (Keras names).
ACTIVATIONS = ('elu', 'relu', 'gelu', 'selu', 'silu', 'swish', 'tanh', 'sigmoid', 'softplus',
               'leaky_relu', 'mish', 'linear')
#: The results folder of `hw6_base.py` when none is given: ignored by git, never a folder of
#: committed results (those are inputs of figures.py, ensembles.py and predict.py).
DEFAULT_RESULTS = 'runs'
#: JAX's persistent compilation cache (``--compile_cache``).
DEFAULT_COMPILE_CACHE = os.path.join(os.environ.get('XDG_CACHE_HOME') or
                                     os.path.expanduser('~/.cache'), 'pfam-suite', 'jax')


# ---------------------------------------------------------------- value checks
def _check(cast, minimum=None, below=None, text='', above=False):
    """A converter ``text -> value`` that casts and checks ``minimum <= value < below``
    (``minimum < value`` when ``above``), raising ValueError naming the allowed range. NaN and
    infinities are refused."""
    def convert(value):
        number = cast(value)
        if (not math.isfinite(number) or (minimum is not None and number < minimum)
                or (above and number == minimum) or (below is not None and number >= below)):
            raise ValueError(f'must be {text}, got {value}')
        return number
    convert.__name__ = cast.__name__
    return convert


def _integer(value):
    if isinstance(value, str):
        value = value.strip()
    return int(value)


_integer.__name__ = 'int'
POSITIVE = _check(_integer, 1, text='a positive integer')
NON_NEGATIVE = _check(_integer, 0, text='>= 0')
SEED = _check(_integer, 0, 2 ** 32, text='in 0 .. 2**32 - 1')
FRACTION = _check(float, 0.0, 1.0, text='in [0, 1)')
NON_NEGATIVE_FLOAT = _check(float, 0.0, text='a finite number >= 0')
POSITIVE_FLOAT = _check(float, 0.0, text='a finite number > 0', above=True)
OPEN_FRACTION = _check(float, 0.0, 1.0, text='in (0, 1)', above=True)
PREFETCH = _check(_integer, -1, text='>= 0, or -1 for AUTOTUNE')
GROWTH = _check(float, 1.0, text='a finite number > 1', above=True)


def setting(default, help, check=str, *, choices=None, many=None, negatable=None, identity=True,
            added=False, metavar=None):
    """A dataclass field that is also a command-line option.

    Args:
        default: the default value (a tuple for a list-valued setting).
        help: what it means, with units and allowed values (``--help`` shows it).
        check: converter of one command-line word to the value (raises ValueError).
        choices: the allowed values, when they are a short list.
        many: ``'+'`` (one or more values) or ``'*'`` (zero or more) for list-valued settings.
        negatable: booleans: True gives ``--x/--no-x``, False a plain switch ``--x``
            (default: True when the default is True).
        identity: whether the setting changes what a run computes (its configuration); the
            others (output, verbosity, threads, caches) may differ between a run and its rerun.
        added: a configuration setting added after results were published: a configuration holds
            it only away from its default, so every earlier configuration keeps its fingerprint
            (`differences` reads an absent setting as its default).
    """
    if isinstance(default, bool) and negatable is None:
        negatable = default
    metadata = dict(help=help, check=check, choices=choices, many=many, negatable=negatable,
                    identity=identity, added=added, metavar=metavar)
    return dataclasses.field(default=tuple(default) if isinstance(default, list) else default,
                             metadata=metadata)


# ---------------------------------------------------------------- the settings
@dataclasses.dataclass(frozen=True)
class Data:
    """Data and input pipeline."""
    dataset: str = setting(DEFAULT_BASEDIR, 'dataset folder: one built by pfam_loader.py (fold '
                           'CSVs + metadata), or a course folder (fold CSVs and/or rotation '
                           'pickles)')
    version: str = setting(DEFAULT_VERSION, "dataset version: files are pfam{version}_fold_{k}"
                           ".csv (the course's 2022 files: --version '')")
    source: str = setting(None, "a course folder with both fold CSVs and rotation pickles: csv "
                          "reads the fold CSVs (re-tokenized with the suite's vocabulary, every "
                          "residue kept), pickle the rotation pickles (the course's tokens, "
                          "validation/test rows cut to the training length); default: the fold "
                          "CSVs when there are any", choices=SOURCES)
    demo: bool = setting(False, f'use the synthetic demo dataset in {DEMO_BASEDIR} (generated on '
                         'first use, no download) instead of --dataset')
    batch: int = setting(64, 'examples per batch (training, validation, test and prediction)',
                         POSITIVE)
    bucket: bool = setting(True, 'batch sequences of similar length, padded to their bucket only')
    bucket_growth: float = setting(BUCKET_GROWTH, 'each bucket length about this factor times '
                                   'the one before (training, validation and test batches): '
                                   'larger means fewer batch shapes (fewer XLA/JAX compilations) '
                                   'and more padding', GROWTH)
    shuffle: int = setting(None, 'shuffle buffer of the training set (default: all of it; 0 = '
                           'off; JAX: any other value shuffles all of it)', NON_NEGATIVE)
    prefetch: int = setting(2, 'batches prefetched (0 none, -1 AUTOTUNE; TensorFlow only)',
                            PREFETCH, identity=False)
    cache: bool = setting(True, 'cache the prepared examples in memory (TensorFlow only)',
                          identity=False)
    steps_per_epoch: int = setting(None, 'training batches per epoch; repeats the training set '
                                   '(quick runs: e.g. 20); default one pass over it', POSITIVE)


@dataclasses.dataclass(frozen=True)
class Model:
    """The keyword arguments of `network.build_model` (see its docstring for each)."""
    model_type: str = setting('gru', 'rnn = SimpleRNN, gru, lstm, or mha = Multi-Head Attention',
                              choices=MODEL_TYPES)
    n_embeddings: int = setting(16, f'embedding width; must be < the number of tokens '
                                f'({N_TOKENS})', POSITIVE)
    conv_filters: int = setting(256, 'filters of the strided Conv1D', POSITIVE)
    conv_kernel: int = setting(9, 'Conv1D kernel width (residues)', POSITIVE)
    conv_stride: int = setting(2, 'Conv1D stride', POSITIVE)
    rnn_units: tuple = setting([64, 64], 'rnn/gru/lstm: units per recurrent module; all but the '
                               'last are followed by average pooling, the last returns its final '
                               'state', POSITIVE, many='+')
    pool_sizes: tuple = setting([4], 'pool size after each pooled module (one value: all '
                                'modules)', POSITIVE, many='+')
    bidirectional: bool = setting(False, 'rnn/gru/lstm: every recurrent layer reads the sequence '
                                  'in both directions (Keras Bidirectional; twice the work)',
                                  negatable=True)
    rnn_activation: str = setting('tanh', "rnn/gru/lstm: activation of the recurrent state; 'relu' "
                                  'with rnn also starts the recurrent matrix at the identity (an '
                                  'IRNN: the state keeps what it saw until an input changes it)',
                                  choices=('tanh', 'relu'), added=True)
    attention_heads: tuple = setting([4], 'mha: heads per attention module (one entry per '
                                     'module)', POSITIVE, many='+')
    key_dim: int = setting(16, 'mha: query/key size of each head', POSITIVE)
    feed_forward: int = setting(0, 'mha: hidden units of the feed-forward block after each '
                                'attention (0 for none)', NON_NEGATIVE)
    positional_max_wavelength: float = setting(1e4, 'mha: longest wavelength of the positional '
                                               'encoding', POSITIVE_FLOAT)
    positional_offset: int = setting(0, 'mha: in training, each sequence\'s positions start at a '
                                     'random offset from 0 to this (0: none), so that the '
                                     'encoding tells where residues lie relative to each other, '
                                     'not where in the sequence', NON_NEGATIVE, added=True)
    positional_min_wavelength: float = setting(1.0, 'mha: shortest wavelength of the positional '
                                               'encoding: its fastest pair turns 1/this radians '
                                               'a residue (1: a radian, as in Vaswani et al.; '
                                               'larger: smoother over neighbouring residues)',
                                               POSITIVE_FLOAT, added=True)
    dense_units: tuple = setting([64], 'hidden Dense layers before the softmax (none: give no '
                                 'value)', POSITIVE, many='*')
    activation: str = setting('elu', 'activation of Conv1D, feed-forward and hidden Dense layers',
                              choices=ACTIVATIONS)
    dropout: float = setting(0.3, 'dropout rate after the Conv1D, inside and after each '
                             'recurrent/attention module, and after hidden Dense layers', FRACTION)
    dense_dropout: float = setting(0.5, 'dropout rate of the pooled features (GlobalMaxPooling1D '
                                   'output or final recurrent state)', FRACTION)
    l2: float = setting(1e-4, 'L2 penalty on the kernels (0 for none)', NON_NEGATIVE_FLOAT)
    label_smoothing: float = setting(0.0, 'train against targets smoothed towards uniform by this '
                                     'amount (0 for none)', FRACTION)
    lr: float = setting(3e-3, 'Adam learning rate', POSITIVE_FLOAT)
    clipnorm: float = setting(1e-2, 'Adam gradient clipping norm (0 for none)',
                              NON_NEGATIVE_FLOAT)
    jit_compile: bool = setting(False, 'TensorFlow: XLA-compile the model (recompiles once per '
                                'bucket length); JAX always compiles', identity=False)


@dataclasses.dataclass(frozen=True)
class Training:
    """What the driver does with the model: epochs, schedule, early stopping, augmentation."""
    rotation: int = setting(0, 'rotation r of k folds: train folds r..r+k-3, validate r+k-2, test '
                            'r+k-1 (mod k; k = 5 for the standard datasets)', NON_NEGATIVE,
                            metavar='{0..4}')
    seed: int = setting(0, 'seed of weights, dropout, shuffling and augmentation', SEED)
    epochs: int = setting(25, 'maximum epochs', POSITIVE)
    substitution: float = setting(0.0, 'augmentation: each residue of a training batch is '
                                  'replaced by a random standard amino acid with this '
                                  'probability (0 for none)', FRACTION)
    lr_schedule: str = setting('cosine', 'cosine: decay from --lr to --lr_min over --epochs; '
                               'plateau: multiply by --lr_factor after --lr_patience epochs '
                               'without progress; none: constant',
                               choices=('cosine', 'plateau', 'none'))
    lr_min: float = setting(1e-5, 'cosine: final learning rate; plateau: lower bound',
                            NON_NEGATIVE_FLOAT)
    lr_factor: float = setting(0.5, 'plateau: factor', OPEN_FRACTION)
    lr_patience: int = setting(3, 'plateau: epochs', POSITIVE)
    patience: int = setting(8, "early stopping: epochs without a better validation accuracy (0 = "
                            "never stop early); the best epoch's weights are kept", NON_NEGATIVE)
    min_delta: float = setting(1e-4, 'early stopping: smallest validation accuracy gain that '
                               'counts', NON_NEGATIVE_FLOAT)


@dataclasses.dataclass(frozen=True)
class Output:
    """Where a run's artefacts go and what it prints (not part of its configuration)."""
    results_path: str = setting(DEFAULT_RESULTS, 'folder of result pickles, models, logs and '
                                'resume checkpoints', identity=False)
    label: str = setting('', 'prefix of the result names, e.g. "tune_" (letters, digits, "-", '
                         '"_", ".")', identity=False)
    render: bool = setting(False, 'also write the plot_model diagram {name}_model.png (needs '
                           'graphviz)', identity=False)
    compact: bool = setting(False, "publish the run small, as results/course_scale keeps it: "
                            "the result's test predictions as each sequence's top 3 classes and "
                            'probabilities, the model without its optimizer state (it predicts '
                            'but cannot be trained further)', identity=False)
    force: bool = setting(False, 'replace an existing result (of this or another configuration) '
                          'and discard resume state of another configuration', identity=False)
    verbose: int = setting(2, 'Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per '
                           'epoch', _integer, choices=(0, 1, 2), identity=False)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Which configuration to run: a preset, an experiment and its index (see job_control.py)."""
    preset: str = setting(None, 'a named configuration (see PRESETS in settings.py; "--preset '
                          'list" lists them): its values replace the defaults; arguments after '
                          'it still override them', identity=False)
    exp_type: str = setting(None, 'name of an experiment of job_control.EXPERIMENTS: a Cartesian '
                            'product of values that --exp_index picks from', identity=False)
    exp_index: int = setting(None, "index into the --exp_type product (default: the "
                             "environment's SLURM_ARRAY_TASK_ID)", NON_NEGATIVE, identity=False)
    nogo: bool = setting(False, 'print the resolved configuration and exit without training',
                         identity=False)


@dataclasses.dataclass(frozen=True)
class Compute:
    """Devices, threads and caches (not part of the configuration)."""
    cpus_per_task: int = setting(None, 'TensorFlow thread pool size (default '
                                 'SLURM_CPUS_PER_TASK, else all cores)', POSITIVE, identity=False)
    cpu_only: bool = setting(False, 'hide GPUs from TensorFlow', identity=False)
    gpu: bool = setting(False, 'require a GPU (error when none is visible); default: use one when '
                        'present', identity=False)
    compile_cache: str = setting(None, 'JAX: folder of the persistent compilation cache ("" '
                                 'turns it off; default $PFAM_COMPILE_CACHE, else '
                                 f'{DEFAULT_COMPILE_CACHE})', identity=False)


#: The groups in the order --help shows them.
GROUPS = (Data, Model, Training, Output, Experiment, Compute)
FIELDS = {field.name: field for group in GROUPS for field in dataclasses.fields(group)}
DEFAULTS = {name: field.default for name, field in FIELDS.items()}
IDENTITY = tuple(sorted(name for name, field in FIELDS.items() if field.metadata['identity']))
#: The configuration settings declared ``added``: `identity` holds them only off their default.
OMITTED_AT_DEFAULT = tuple(name for name in IDENTITY if FIELDS[name].metadata['added'])
#: The keyword arguments of `network.build_model` beside its positional model type.
MODEL_KNOBS = tuple(field.name for field in dataclasses.fields(Model))[1:]


# ---------------------------------------------------------------- presets
_REFERENCE = dict(dataset=DEFAULT_BASEDIR, version=DEFAULT_VERSION, label_smoothing=0.1,
                  substitution=0.1)
_COURSE = dict(dataset='data/course_scale', version='C', conv_filters=128, batch=128, patience=0,
               compact=True)
#: what the course-scale runs aiming at 0.99 within 30 passes train with: substitution in place
#: of dropout and L2
_AUGMENTED = dict(dropout=0.0, dense_dropout=0.0, l2=0.0, substitution=0.1)
_TINY = dict(n_embeddings=8, conv_filters=16, conv_kernel=3, rnn_units=(16, 16),
             attention_heads=(2,), key_dim=8, feed_forward=16, dense_units=(16,), batch=32,
             lr=3e-3, verbose=0)

#: Named configurations: each maps settings to the values that replace the defaults. Append new
#: presets; change one only together with the results it made (they record their configuration).
PRESETS = {
    # the reference experiment on the 46-family benchmark (results/pfam46)
    'rnn': {**_REFERENCE, 'model_type': 'rnn', 'dropout': 0.1, 'rnn_units': (128, 128),
            'bidirectional': True},
    'gru': {**_REFERENCE, 'model_type': 'gru', 'epochs': 40, 'patience': 10},
    'mha': {**_REFERENCE, 'model_type': 'mha', 'dropout': 0.1, 'pool_sizes': (2,)},
    # the course-scale set of 330,000 sequences up to 3,934 residues (results/course_scale)
    # the SimpleRNN as an IRNN (relu state, identity recurrent matrix) at stride 4, at half the
    # default learning rate (at 3e-3 its relu state blew up within the first pass)
    'rnn_course': {**_COURSE, **_AUGMENTED, 'model_type': 'rnn', 'epochs': 30,
                   'rnn_activation': 'relu', 'conv_stride': 4, 'conv_kernel': 12, 'lr': 1.5e-3,
                   'bidirectional': True, 'rnn_units': (128, 128, 128), 'pool_sizes': (4, 4)},
    'gru_course': {**_COURSE, **_AUGMENTED, 'model_type': 'gru', 'epochs': 15, 'conv_stride': 4,
                   'conv_kernel': 12, 'rnn_units': (64, 64), 'bidirectional': True},
    # the MHA at stride 4 with a window of 24 (a whole LRR repeat, whose single misses were most
    # of its errors at stride 8), two heads to keep the attention's cost at twice the positions,
    # a feed-forward block of 256 after its attention (where a position's features meet the
    # attention's context nonlinearly before the maximum) and an average pool of 16
    'mha_course': {**_COURSE, **_AUGMENTED, 'model_type': 'mha', 'epochs': 30,
                   'conv_stride': 4, 'conv_kernel': 24, 'attention_heads': (2,),
                   'feed_forward': 256, 'pool_sizes': (16,)},
    # the 400-family setting (results/pfam400)
    'mha_pfam400': {'dataset': 'data/pfam400', 'version': DEFAULT_VERSION, 'model_type': 'mha',
                    'dropout': 0.1, 'pool_sizes': (2,), 'dense_units': (256,)},
    # a small model for the tests, `--demo` smoke runs and the smoke experiment
    'tiny': _TINY,
    # predict.py's default network (results/pfam46_small): the MHA at half the filters,
    # twice the stride and half the heads, several times cheaper per sequence
    'mha_small': {**_REFERENCE, 'model_type': 'mha', 'dropout': 0.1, 'pool_sizes': (2,),
                  'conv_filters': 128, 'conv_stride': 4, 'conv_kernel': 12,
                  'attention_heads': (2,)},
}


def preset(name):
    """The settings of preset ``name`` (ValueError naming the known ones)."""
    if name not in PRESETS:
        raise ValueError(f'unknown preset {name!r}; known: {", ".join(PRESETS)}')
    return dict(PRESETS[name])


def check_preset(name, values):
    """ValueError unless every value of a preset is a known setting that passes its check."""
    for key, value in values.items():
        if key not in FIELDS:
            raise ValueError(f'preset {name!r} sets unknown setting {key!r}')
        check = FIELDS[key].metadata['check']
        for item in (value if FIELDS[key].metadata['many'] else [value]):
            check(item)


# ---------------------------------------------------------------- configuration identity
def _plain(value):
    """A JSON value: tuples as lists, NumPy scalars as Python numbers."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, 'item'):                   # NumPy scalars in old pickles
        return value.item()
    return value


def identity(values):
    """The configuration of a run: ``{setting: value}`` of every setting that changes what it
    computes (`IDENTITY`), from parsed arguments or a dict, absent ones at their defaults; those
    of `OMITTED_AT_DEFAULT` are left out at their default."""
    given = values if isinstance(values, dict) else vars(values)
    config = {name: _plain(given.get(name, DEFAULTS[name])) for name in IDENTITY}
    for name in OMITTED_AT_DEFAULT:
        if config[name] == _plain(DEFAULTS[name]):
            del config[name]
    config['dataset'] = os.path.normpath(DEMO_BASEDIR if config['demo'] else config['dataset'])
    return config


def fingerprint(config):
    """A short hash of a configuration (`identity`): equal configurations, equal hashes."""
    text = json.dumps(config, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def differences(recorded, requested):
    """``'name: recorded -> requested'`` for every setting in which two configurations differ
    (a setting one of them lacks counts as its default)."""
    names = sorted(set(recorded) | set(requested))
    return [f'{name} {recorded.get(name, DEFAULTS.get(name))!r} -> '
            f'{requested.get(name, DEFAULTS.get(name))!r}' for name in names
            if _plain(recorded.get(name, DEFAULTS.get(name)))
            != _plain(requested.get(name, DEFAULTS.get(name)))]


def model_kwargs(values):
    """The keyword arguments of `network.build_model` (`MODEL_KNOBS`) from parsed arguments or
    a configuration dict; a knob it lacks takes its default."""
    given = values if isinstance(values, dict) else vars(values)
    kwargs = {knob: given.get(knob, DEFAULTS[knob]) for knob in MODEL_KNOBS}
    pools = list(kwargs['pool_sizes']) if isinstance(kwargs['pool_sizes'], (list, tuple)) \
        else [kwargs['pool_sizes']]
    kwargs.update(pool_sizes=pools[0] if len(pools) == 1 else pools,
                  clipnorm=kwargs['clipnorm'] or None,
                  **{knob: list(kwargs[knob]) for knob in ('rnn_units', 'attention_heads',
                                                           'dense_units')})
    return kwargs

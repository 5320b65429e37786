"""Command-line arguments of the experiment driver (`hw6_base.py`) and of `job_control.py`.

Every knob has a default that works; an args file holds a set of them, one or more per line,
``#`` starting a comment:

    python hw6_base.py @args_gru.txt --rotation 2
"""
import argparse
import math
import os
import shlex
import sys

import pfam_loader

#: The model types of `network.build_model`, declared here so that --help, job control and
#: figures need not load Keras (network.MODEL_TYPES is this tuple).
MODEL_TYPES = ('rnn', 'gru', 'lstm', 'mha')
#: JAX's persistent compilation cache (``--compile_cache``)
DEFAULT_COMPILE_CACHE = os.path.join(os.environ.get('XDG_CACHE_HOME') or
                                     os.path.expanduser('~/.cache'), 'pfam-suite', 'jax')

#: The arguments that are keyword arguments of `network.build_model`, declared once: the
#: builder's keywords come from here (`model_kwargs`), and tests/test_network.py pins this
#: tuple and the defaults below to the builder's keyword-only signature and defaults.
MODEL_KNOBS = ('n_embeddings', 'conv_filters', 'conv_kernel', 'conv_stride', 'rnn_units',
               'pool_sizes', 'bidirectional', 'attention_heads', 'key_dim', 'feed_forward',
               'positional_max_wavelength', 'dense_units', 'activation', 'dropout',
               'dense_dropout', 'l2', 'label_smoothing', 'lr', 'clipnorm', 'jit_compile')


def model_kwargs(args):
    """Keyword arguments of `network.build_model` from parsed args (or their dict, as pickled
    in results); knobs an older pickle lacks take today's defaults."""
    given = args if isinstance(args, dict) else vars(args)
    defaults = vars(create_parser().parse_args([]))
    kwargs = {knob: given.get(knob, defaults[knob]) for knob in MODEL_KNOBS}
    pools = list(kwargs['pool_sizes'])
    kwargs.update(pool_sizes=pools[0] if len(pools) == 1 else pools,
                  clipnorm=kwargs['clipnorm'] or None,
                  **{knob: list(kwargs[knob]) for knob in ('rnn_units', 'attention_heads',
                                                           'dense_units')})
    return kwargs


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and args files that allow comments and several
    arguments per line (``--rnn_units 64 64``)."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')

    def convert_arg_line_to_args(self, arg_line):
        return shlex.split(arg_line, comments=True)


def _checked(cast, minimum, below=None, text_of_range=None, above=False):
    """An argparse ``type`` that converts with ``cast`` and checks ``minimum <= value``
    (``minimum < value`` when ``above``; ``value < below`` when given), with the allowed range
    in the error message. NaN and infinities are refused."""
    def convert(text):
        value = cast(text)
        if (not math.isfinite(value) or value < minimum or (above and value == minimum)
                or (below is not None and value >= below)):
            raise argparse.ArgumentTypeError(f'must be {text_of_range}, got {text}')
        return value
    convert.__name__ = cast.__name__                  # argparse names it in "invalid int value"
    return convert


positive_int = _checked(int, 1, text_of_range='a positive integer')
_non_negative_int = _checked(int, 0, text_of_range='>= 0')
_fraction = _checked(float, 0.0, 1.0, text_of_range='in [0, 1)')
_non_negative_float = _checked(float, 0.0, text_of_range='a finite number >= 0')
_positive_float = _checked(float, 0.0, text_of_range='a finite number > 0', above=True)
_open_fraction = _checked(float, 0.0, 1.0, text_of_range='in (0, 1)', above=True)
_prefetch = _checked(int, -1, text_of_range='>= 0, or -1 for AUTOTUNE')
_growth = _checked(float, 1.0, text_of_range='a finite number > 1', above=True)


def create_parser(prog=None):
    """The driver's argument parser; `job_control.py` adds its own options to it."""
    parser = ArgumentParser(
        prog=prog, fromfile_prefix_chars='@',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description='Train and evaluate one rotation of one Pfam family classifier (SimpleRNN, '
                    'GRU, LSTM or Multi-Head Attention). Results go to '
                    '{results_path}/{name}_results.pkl with the model as {name}.keras; rerunning '
                    'an interrupted command resumes it. Arguments may come from files: @args.txt.')

    io = parser.add_argument_group('data and output')
    io.add_argument('--dataset', default=pfam_loader.DEFAULT_BASEDIR,
                    help='dataset directory: one built by pfam_loader.py (fold CSVs + metadata), '
                         "or the course's (fold CSVs and/or rotation pickles; pickles can run "
                         'code when loaded: use only course files you trust)')
    io.add_argument('--version', default=pfam_loader.DEFAULT_VERSION,
                    help="dataset version: files are pfam{version}_fold_{k}.csv (the course's "
                         "2022 files: --version '')")
    io.add_argument('--demo', action='store_true',
                    help=f'use the synthetic demo dataset in {pfam_loader.DEMO_BASEDIR} '
                         '(generated on first use, seconds, no download) instead of --dataset')
    io.add_argument('--results_path', default='results',
                    help='directory for result pickles, models, logs and resume checkpoints')
    io.add_argument('--label', default='',
                    help='prefix of the result names, e.g. "tune_" (names are built from the '
                         'configuration: {label}{model_type}_rot{rotation}[_{key}{value}...])')
    io.add_argument('--render', action='store_true',
                    help='also write the plot_model diagram {name}_model.png (needs graphviz)')
    io.add_argument('--force', action='store_true',
                    help='overwrite an existing result instead of skipping the run')
    io.add_argument('--verbose', type=int, default=2, choices=(0, 1, 2),
                    help='Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch')

    experiment = parser.add_argument_group('experiment selection (see job_control.py)')
    experiment.add_argument('--model_type', default='gru', choices=MODEL_TYPES,
                            help='rnn = SimpleRNN, gru, lstm, or mha = Multi-Head Attention')
    experiment.add_argument('--rotation', type=int, default=0, choices=range(pfam_loader.N_FOLDS),
                            metavar='{0..4}',
                            help='rotation r: train folds r..r+2, validate r+3, test r+4 (mod 5)')
    experiment.add_argument('--exp_type', default=None,
                            help='name of an experiment of job_control.EXPERIMENTS: a Cartesian '
                                 'product of values that --exp_index picks from')
    experiment.add_argument('--exp_index', type=_non_negative_int, default=None,
                            help='index into the --exp_type product (default: the environment\'s '
                                 'SLURM_ARRAY_TASK_ID)')
    experiment.add_argument('--nogo', action='store_true',
                            help='print the resolved experiment and exit without training')

    data = parser.add_argument_group('input pipeline')
    data.add_argument('--batch', type=positive_int, default=64, help='examples per batch')
    data.add_argument('--bucket', action=argparse.BooleanOptionalAction, default=True,
                      help='batch sequences of similar length, padded to their bucket only')
    data.add_argument('--bucket_growth', type=_growth, default=pfam_loader.BUCKET_GROWTH,
                      help='each bucket length about this factor times the one before: larger '
                           'means fewer batch shapes (fewer XLA/JAX compilations on a GPU) and '
                           'more padding (at course scale: 1.25 -> 19 shapes, 13 %% padding; 1.5 '
                           '-> 12, 24 %%; 2 -> 8, 44 %%)')
    data.add_argument('--shuffle', type=_non_negative_int, default=None,
                      help='shuffle buffer of the training set (default: all of it; 0 = off; '
                           'JAX: any other value shuffles all of it)')
    data.add_argument('--prefetch', type=_prefetch, default=2,
                      help='batches prefetched (0 none, -1 AUTOTUNE; TensorFlow only)')
    data.add_argument('--cache', action=argparse.BooleanOptionalAction, default=True,
                      help='cache the prepared examples in memory (TensorFlow only)')
    data.add_argument('--steps_per_epoch', type=positive_int, default=None,
                      help='training batches per epoch; repeats the training set (quick runs: '
                           'e.g. 20); default one pass over it')

    model = parser.add_argument_group('network (see network.build_model)')
    model.add_argument('--n_embeddings', type=positive_int, default=16,
                       help='embedding width; must be < the number of tokens (26)')
    model.add_argument('--conv_filters', type=positive_int, default=256,
                       help='filters of the strided Conv1D')
    model.add_argument('--conv_kernel', type=positive_int, default=9,
                       help='Conv1D kernel width (residues)')
    model.add_argument('--conv_stride', type=positive_int, default=2, help='Conv1D stride')
    model.add_argument('--rnn_units', type=positive_int, nargs='+', default=[64, 64],
                       help='rnn/gru/lstm: units per recurrent module; all but the last are '
                            'followed by average pooling, the last returns its final state')
    model.add_argument('--pool_sizes', type=positive_int, nargs='+', default=[4],
                       help='pool size after each pooled module (one value: all modules)')
    model.add_argument('--bidirectional', action=argparse.BooleanOptionalAction, default=False,
                       help='rnn/gru/lstm: every recurrent layer reads the sequence in both '
                            'directions (Keras Bidirectional; twice the recurrent work)')
    model.add_argument('--attention_heads', type=positive_int, nargs='+', default=[4],
                       help='mha: heads per attention module (one entry per module)')
    model.add_argument('--key_dim', type=positive_int, default=16,
                       help='mha: query/key size of each head')
    model.add_argument('--feed_forward', type=_non_negative_int, default=0,
                       help='mha: hidden units of the feed-forward block after each attention '
                            '(0 for none)')
    model.add_argument('--positional_max_wavelength', type=_positive_float, default=1e4,
                       help='mha: longest wavelength of the positional encoding')
    model.add_argument('--dense_units', type=positive_int, nargs='*', default=[64],
                       help='hidden Dense layers before the softmax (none: give no value)')
    model.add_argument('--activation', default='elu',
                       help='activation of Conv1D, feed-forward and hidden Dense layers')
    model.add_argument('--dropout', type=_fraction, default=0.3,
                       help='dropout rate after the Conv1D, inside and after each '
                            'recurrent/attention module, and after hidden Dense layers')
    model.add_argument('--l2', type=_non_negative_float, default=1e-4,
                       help='L2 penalty on the kernels (0 for none)')
    model.add_argument('--dense_dropout', type=_fraction, default=0.5,
                       help='dropout rate of the pooled features (GlobalMaxPooling1D output or '
                            'final recurrent state)')

    training = parser.add_argument_group('optimizer and training')
    training.add_argument('--label_smoothing', type=_fraction, default=0.0,
                          help='train against targets smoothed towards uniform by this amount '
                               '(0 for none; accuracy is unaffected in meaning)')
    training.add_argument('--substitution', type=_fraction, default=0.0,
                          help='augmentation: each residue of a training batch is replaced by a '
                               'random standard amino acid with this probability (0 for none)')
    training.add_argument('--epochs', type=positive_int, default=25, help='maximum epochs')
    training.add_argument('--lr', type=_positive_float, default=3e-3, help='Adam learning rate')
    training.add_argument('--clipnorm', type=_non_negative_float, default=1e-2,
                          help='Adam gradient clipping norm (0 for none)')
    training.add_argument('--lr_schedule', default='cosine', choices=('cosine', 'plateau', 'none'),
                          help='cosine: decay from --lr to --lr_min over --epochs; plateau: '
                               'multiply by --lr_factor after --lr_patience epochs without '
                               'progress; none: constant')
    training.add_argument('--lr_min', type=_non_negative_float, default=1e-5,
                          help='cosine: final learning rate; plateau: lower bound')
    training.add_argument('--lr_factor', type=_open_fraction, default=0.5, help='plateau: factor')
    training.add_argument('--lr_patience', type=positive_int, default=3, help='plateau: epochs')
    training.add_argument('--patience', type=_non_negative_int, default=8,
                          help='early stopping: epochs without a better validation accuracy '
                               '(0 = never stop early); the best epoch\'s weights are kept')
    training.add_argument('--min_delta', type=_non_negative_float, default=1e-4,
                          help='early stopping: smallest validation accuracy gain that counts')

    compute = parser.add_argument_group('compute')
    compute.add_argument('--seed', type=int, default=0,
                         help='seed of weights, dropout and shuffling')
    compute.add_argument('--cpus_per_task', type=_non_negative_int,
                         default=int(os.environ.get('SLURM_CPUS_PER_TASK', 0)),
                         help='TensorFlow thread pool size (default SLURM_CPUS_PER_TASK, else 0 '
                              '= all cores)')
    device = compute.add_mutually_exclusive_group()
    device.add_argument('--cpu_only', action='store_true', help='hide GPUs from TensorFlow')
    device.add_argument('--gpu', action='store_true',
                        help='require a GPU (error when none is visible); default: use one '
                             'when present')
    compute.add_argument('--compile_cache',
                         default=os.environ.get('PFAM_COMPILE_CACHE', DEFAULT_COMPILE_CACHE),
                         help='JAX: folder of the persistent compilation cache: runs of the same '
                              'model and batch shapes (other rotations, resumed or requeued runs) '
                              'load the compiled programs instead of compiling them again (on a '
                              'GPU the first epoch is mostly compiling); "" turns it off '
                              '(default $PFAM_COMPILE_CACHE, else %(default)s)')
    compute.add_argument('--jit_compile', action='store_true',
                         help='TensorFlow: XLA-compile the model (GPU; recompiles once per bucket '
                              'length); JAX always compiles')
    return parser


def parse_args(argv=None, parser=None):
    """Parse ``argv`` (default ``sys.argv[1:]``) and check combinations argparse cannot."""
    parser = parser or create_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.n_embeddings >= pfam_loader.N_TOKENS:
        parser.error(f'--n_embeddings must be < {pfam_loader.N_TOKENS} (the number of tokens), '
                     f'got {args.n_embeddings}')
    return args

"""Speed benchmark: training samples/s with length-bucketed vs padded batches, and inference.

    python bench.py                      # real benchmark (data/pfam), reference args files
    python bench.py --quick              # seconds, demo data: what the tests run

For each model type it builds the reference model (``args_{type}.txt``), then on the same model,
batch size and number of steps measures training throughput with bucketed batches (padded to
their bucket) and with every batch padded to ``len_max``, after warm-up steps that trace the
graphs and fill the caches; and inference throughput of `network.predict_probabilities` (the
path of predict.py) on the test fold, the median of 3 passes after a warm-up pass. Close other work first: the numbers are wall-clock.
Writes ``--out`` (JSON) and a markdown table next to it (same name, ``.md``).
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import pfam_loader

DEFAULT_TYPES = ('rnn', 'gru', 'mha')


def reference_args(model_type, root=os.path.dirname(os.path.abspath(__file__))):
    """The driver's args for ``model_type`` from its args file (defaults when there is none)."""
    import parser as arguments
    path = os.path.join(root, f'args_{model_type}.txt')
    argv = ([f'@{path}'] if os.path.isfile(path) else []) + ['--model_type', model_type]
    return arguments.parse_args(argv)


def _train_rate(model, dataset, steps, warmup, batch):
    """Training samples/s of ``steps`` batches after ``warmup`` untimed ones."""
    model.fit(dataset, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps * batch / (time.perf_counter() - started)


def bench_type(model_type, dat, steps, warmup, batch, n_infer):
    import hw6_base
    import network
    args = reference_args(model_type)
    model = network.build_model(model_type, dat['n_tokens'], dat['n_classes'],
                                **hw6_base.model_hyperparameters(args))
    rates = {}
    for mode, bucket in (('bucketed', True), ('padded', False)):
        train, _, _ = pfam_loader.create_tf_datasets(dat, batch=batch, repeat=True, bucket=bucket,
                                                     seed=0)
        rates[mode] = _train_rate(model, train, steps, warmup, batch)
    tokens = dat['ins_test'][:n_infer]
    network.predict_probabilities(model, tokens)                              # trace shapes
    passes = []
    for _ in range(3):                                                        # median of 3
        started = time.perf_counter()
        network.predict_probabilities(model, tokens)
        passes.append(time.perf_counter() - started)
    infer = len(tokens) / float(np.median(passes))
    return {'model_type': model_type, 'parameters': model.count_params(), 'batch': batch,
            'steps': steps, 'train_bucketed_samples_per_s': round(rates['bucketed'], 1),
            'train_padded_samples_per_s': round(rates['padded'], 1),
            'bucketed_over_padded': round(rates['bucketed'] / rates['padded'], 2),
            'inference_sequences_per_s': round(infer, 1), 'inference_sequences': len(tokens)}


def markdown(report):
    lines = [f'Benchmark on {report["data"]} ({report["machine"]}), batch {report["batch"]}, '
             f'{report["steps"]} timed steps per mode.', '',
             '| model | parameters | train samples/s, bucketed | padded | ratio | '
             'inference sequences/s |', '|---|---|---|---|---|---|']
    for row in report['models']:
        lines.append(f'| {row["model_type"]} | {row["parameters"]:,} | '
                     f'{row["train_bucketed_samples_per_s"]:,.0f} | '
                     f'{row["train_padded_samples_per_s"]:,.0f} | '
                     f'{row["bucketed_over_padded"]:.1f}× | '
                     f'{row["inference_sequences_per_s"]:,.0f} |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--dataset', default=pfam_loader.DEFAULT_BASEDIR,
                        help='rotation pickles; the demo data is used when they are missing')
    parser.add_argument('--version', default=pfam_loader.DEFAULT_VERSION)
    parser.add_argument('--types', nargs='+', default=list(DEFAULT_TYPES),
                        choices=('rnn', 'gru', 'lstm', 'mha'))
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--steps', type=int, default=150,
                        help='timed training steps per mode (150: about one epoch of the benchmark, '
                             'so bucketed batches cover the whole length distribution)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed steps before timing')
    parser.add_argument('--quick', action='store_true',
                        help='demo data, 3 steps, 100 sequences: a smoke test in seconds')
    parser.add_argument('--out', default='results/bench.json')
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    try:
        if args.quick or args.version not in pfam_loader.versions_in(args.dataset):
            if not args.quick:
                pfam_loader.log(f'{args.dataset}: no dataset {args.version!r}; benchmarking the '
                                'demo data')
            pfam_loader.ensure_demo(pfam_loader.DEMO_BASEDIR, args.version)
            basedir = pfam_loader.DEMO_BASEDIR
        else:
            basedir = args.dataset
        dat = pfam_loader.load_rotation(basedir, 0, args.version)
    except (ValueError, OSError) as err:
        print(f'bench.py: error: {err}', file=sys.stderr)
        return 2
    steps, warmup = (3, 2) if args.quick else (args.steps, args.warmup)
    n_infer = 100 if args.quick else len(dat['ins_test'])
    import tensorflow as tf
    models = []
    for model_type in args.types:
        pfam_loader.log(f'{model_type}: timing {steps} training steps bucketed and padded, '
                        f'then inference on {n_infer} sequences ...')
        models.append(bench_type(model_type, dat, steps, warmup, args.batch, n_infer))
        pfam_loader.log(f'  {models[-1]}')
    report = {'data': f'{basedir} (version {args.version}, rotation 0, '
                      f'{len(dat["ins_train"]):,} training sequences, len_max {dat["len_max"]})',
              'machine': f'{platform.node()}, {os.cpu_count()} CPU cores, '
                         f'{len(tf.config.list_physical_devices("GPU"))} GPU(s), '
                         f'TensorFlow {tf.__version__}',
              'batch': args.batch, 'steps': steps, 'models': models,
              'command': 'python bench.py ' + ' '.join(sys.argv[1:] if argv is None else argv)}
    table = markdown(report)
    pfam_loader.atomic_write(args.out, lambda f: json.dump(report, f, indent=1), 'w')
    pfam_loader.atomic_write(os.path.splitext(args.out)[0] + '.md', lambda f: f.write(table), 'w')
    print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())

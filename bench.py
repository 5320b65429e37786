"""Speed benchmark: training samples/s with length-bucketed vs padded batches, and inference.

    python bench.py                      # real benchmark (data/pfam), reference args files
    python bench.py --quick              # seconds, demo data: what the tests run

For each model type it builds the reference model (``args_{type}.txt``), then on the same model,
batch size and number of steps measures training throughput with bucketed batches (padded to
their bucket) and with every batch padded to ``len_max``, after warm-up steps that trace the
graphs and fill the caches; and inference throughput of `network.predict_probabilities` (the
path of predict.py) on the test fold, the median of 3 passes after a warm-up pass. Close other
work first: the numbers are wall-clock. Writes ``--out`` (JSON) and a markdown table next to it (same name, ``.md``).

``--predict`` times predict.py's default beside HMMER's ``hmmscan`` (pyhmmer in a lean Python
process, `HMMSCAN`) end to end, each as a whole process (start, imports, model or profile
loading, inference, writing), on the same sequences (rotation 0's test fold and the other families of odd accession
numbers) and the same 46 families (the profiles stored in the .npz model) → CPU seconds per
sequence in ``results/bench_predict.{json,md}``.

``--scale course`` measures the course's scale instead (`bench_course`): build time and peak
memory, bytes on disk, load time, batch shapes vs padding, and for ``args_{type}_course.txt``
training samples/s with bucketed batches and, on the same model and batch size, with every batch
padded to the full ``len_max`` as the course's ``create_tf_datasets`` gives them (the
instructor-style baseline; fewer steps, each batch being the same shape), their ratio,
inference sequences/s and the accuracy of the committed course-scale runs
(``results/course_scale``) → ``results/bench_course.{json,md}``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import artefacts
import fileio
import job_control
import parser as arguments
import pfam_loader
import settings

DEFAULT_TYPES = job_control.REFERENCE_TYPES


ROOT = os.path.dirname(os.path.abspath(__file__))
COURSE_SOURCE = 'data/course_scale.csv.gz'       # made by make_course_scale.py (docs/data.md)
COURSE_DIR, COURSE_VERSION = 'data/course_scale', 'C'
COURSE_RESULTS = 'results/course_scale'       # the committed runs whose accuracy is reported
TIMED_PASSES = 3        # training rates: the faster of this many timed passes (see _train_rate)
PADDED_STEP_SHARE = 10  # --scale course: padded batches are timed on steps / this many steps


def reference_args(model_type, suffix=''):
    """The driver's args of preset ``{type}{suffix}`` (`settings.PRESETS`; the defaults with
    ``--model_type`` when there is none)."""
    name = f'{model_type}{suffix}'
    if name in settings.PRESETS:
        return arguments.parse_args(['--preset', name])
    return arguments.parse_args(['--model_type', model_type])


def _train_rate(model, dataset, steps, warmup, batch):
    """Training samples/s: the faster of `TIMED_PASSES` timed passes of ``steps`` batches, after
    ``warmup`` untimed ones: a pass now and then takes far longer than the others with the same
    model, for no cause found (results/tuning/2026-11-27_course_backends/README.md), so a single
    pass under-reports."""
    if warmup:
        model.fit(dataset, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    seconds = []
    for _ in range(TIMED_PASSES):
        started = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - started)
    return steps * batch / min(seconds)


def _infer_rate(model, tokens):
    """Sequences/s of `network.predict_probabilities`: the median of 3 passes after a warm-up."""
    import network
    network.predict_probabilities(model, tokens)                              # trace shapes
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        network.predict_probabilities(model, tokens)
        passes.append(time.perf_counter() - started)
    return len(tokens) / float(np.median(passes))


def _build(model_type, dat, args):
    import network
    return network.build_model(model_type, dat['n_tokens'], dat['n_classes'],
                               **settings.model_kwargs(args))


def bench_type(model_type, dat, steps, warmup, batch, n_infer):
    args = reference_args(model_type)
    model = _build(model_type, dat, args)
    rates = {}
    for mode, bucket in (('bucketed', True), ('padded', False)):
        train, _, _ = pfam_loader.create_tf_datasets(dat, batch=batch, repeat=True, bucket=bucket,
                                                     seed=0)
        rates[mode] = _train_rate(model, train, steps, warmup, batch)
    tokens = dat['ins_test'][:n_infer]
    infer = _infer_rate(model, tokens)
    return {'model_type': model_type, 'parameters': model.count_params(), 'batch': batch,
            'steps': steps, 'train_bucketed_samples_per_s': round(rates['bucketed'], 1),
            'train_padded_samples_per_s': round(rates['padded'], 1),
            'bucketed_over_padded': round(rates['bucketed'] / rates['padded'], 2),
            'inference_sequences_per_s': round(infer, 1), 'inference_sequences': len(tokens)}


def markdown(report):
    lines = [f'Benchmark on {report["data"]} ({report["machine"]}), batch {report["batch"]}, '
             f'{report["steps"]} timed steps per mode.', '']
    lines += fileio.markdown_table(
        ['model', 'parameters', 'train samples/s, bucketed', 'padded', 'ratio',
         'inference sequences/s'],
        [[row['model_type'], f'{row["parameters"]:,}', f'{row["train_bucketed_samples_per_s"]:,.0f}',
          f'{row["train_padded_samples_per_s"]:,.0f}', f'{row["bucketed_over_padded"]:.1f}×',
          f'{row["inference_sequences_per_s"]:,.0f}'] for row in report['models']])
    return '\n'.join(lines) + '\n'


def _child(command):
    """(wall seconds, CPU seconds (user + system), peak RSS in MB) of one run of ``command``
    from the repository; its output is discarded, a failure is an error. The peak RSS of
    children is the largest of any child so far: run the biggest last or alone."""
    import resource
    import subprocess
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f'{" ".join(command)} failed: {done.stderr.strip()[-300:]}')
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, max(after.ru_maxrss, before.ru_maxrss) / 1024


def _seconds_and_peak(command):
    """(wall seconds to 0.1, peak RSS in whole MB) of `_child`."""
    wall, _, peak = _child(command)
    return round(wall, 1), round(peak)


def bench_course(types, steps, warmup, n_infer, source=None):
    """The course-scale report (see the module docstring); ``source`` default `COURSE_SOURCE`."""
    import glob
    source = source or COURSE_SOURCE
    if not os.path.isfile(os.path.join(ROOT, source)):
        raise pfam_loader.DataError(f'{source} not found; make it with: python '
                                    f'make_course_scale.py --n 330000 --out {source} '
                                    '(a generator kept outside the repository: docs/data.md)')
    report = {'source': source, 'timed_passes': TIMED_PASSES}
    pfam_loader.log(f'building {COURSE_DIR} from {source} ...')
    report['build_seconds'], report['build_peak_rss_mb'] = _seconds_and_peak(
        [sys.executable, 'pfam_loader.py', 'build', '--input', source, '--out', COURSE_DIR,
         '--version', COURSE_VERSION, '--force'])
    metadata = pfam_loader.read_metadata(os.path.join(ROOT, COURSE_DIR), COURSE_VERSION)
    on_disk = sum(os.path.getsize(p) for p in glob.glob(os.path.join(ROOT, COURSE_DIR, '*')))
    report.update(n_sequences=metadata['n_sequences'], n_residues=metadata['n_residues'],
                  len_max=metadata['len_max'], bytes_on_disk=on_disk,
                  bytes_per_residue=round(on_disk / metadata['n_residues'], 3))
    pfam_loader.log('loading rotation 0 in a fresh process ...')
    report['load_seconds'], report['load_peak_rss_mb'] = _seconds_and_peak(
        [sys.executable, '-c', f'import pfam_loader; pfam_loader.load_rotation({COURSE_DIR!r}, 0, '
               f'{COURSE_VERSION!r})'])
    started = time.perf_counter()
    dat = pfam_loader.load_rotation(os.path.join(ROOT, COURSE_DIR), 0, COURSE_VERSION)
    report['load_seconds_in_process'] = round(time.perf_counter() - started, 1)
    lengths = np.concatenate([pfam_loader.sequence_lengths(dat[f'ins_{split}'])
                              for split in ('train', 'valid', 'test')])
    report['buckets'] = [{'growth': growth, 'shapes': len(widths),
                          'padding': round(pfam_loader.padding_overhead(lengths, widths), 3)}
                         for growth in (1.1, 1.25, 1.5, 2.0)
                         for widths in [pfam_loader.default_bucket_lengths(len(dat['ins_train'][0]),
                                                                           growth)]]
    n_eval = len(dat['ins_valid']) + len(dat['ins_test'])
    report['models'] = []
    for model_type in types:
        args = reference_args(model_type, '_course')
        pfam_loader.log(f'{model_type}: {steps} training steps, inference on {n_infer} ...')
        model = _build(model_type, dat, args)
        train, _, _ = pfam_loader.create_tf_datasets(
            dat, batch=args.batch, repeat=True, bucket=True, shuffle=20000, seed=0,
            bucket_lengths=pfam_loader.default_bucket_lengths(dat['len_max'],
                                                              args.bucket_growth))
        rate = _train_rate(model, train, steps, warmup, args.batch)
        padded_steps = max(2, steps // PADDED_STEP_SHARE)
        pfam_loader.log(f'{model_type}: {padded_steps} steps padded to {dat["len_max"]:,} ...')
        padded, _, _ = pfam_loader.create_tf_datasets(dat, batch=args.batch, repeat=True,
                                                      bucket=False, shuffle=20000, seed=0)
        padded_rate = _train_rate(model, padded, padded_steps, 1, args.batch)
        infer = _infer_rate(model, dat['ins_test'][:n_infer])
        row = {'model_type': model_type, 'parameters': model.count_params(),
               'train_samples_per_s': round(rate), 'epoch_minutes': round(
                   len(dat['ins_train']) / rate / 60, 1),
               'padded_steps': padded_steps,
               'train_padded_samples_per_s': round(padded_rate, 1),
               'bucketed_over_padded': round(rate / padded_rate, 1),
               'inference_sequences_per_s': round(infer),
               'valid_test_pass_minutes': round(n_eval / infer / 60, 2)}
        result_path = artefacts.paths(os.path.join(ROOT, COURSE_RESULTS),
                                      artefacts.run_name(model_type, 0))['result']
        result, problem = job_control.read_result(result_path)
        if problem not in (None, 'no such file'):
            fileio.log(f'bench.py: no accuracy from {result_path}: {problem}')
        if result is not None:
            row.update(test_accuracy=round(result['test_accuracy'], 4),
                       epochs=result['n_epochs'],
                       training_minutes=round(result['wall_time'] / 60, 1),
                       run_peak_rss_mb=result.get('max_rss_mb'))
        report['models'].append(row)
        pfam_loader.log(f'  {row}')
    import resource
    report['bench_peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return report


def course_markdown(report):
    r = report
    lines = [f'Course scale: {r["n_sequences"]:,} sequences ({r["n_residues"]:,} residues, up to '
             f'{r["len_max"]:,}) from `{r["source"]}`; {r["machine"]}.', '',
             '| step | measured |', '|---|---|',
             f'| `pfam_loader.py build` | {r["build_seconds"]} s, {r["build_peak_rss_mb"]:,} MB '
             'peak RSS |',
             f'| dataset on disk | {r["bytes_on_disk"] / 1e6:,.0f} MB, '
             f'{r["bytes_per_residue"]} bytes per residue |',
             f'| `load_rotation` of rotation 0 (a fresh process, imports included) | '
             f'{r["load_seconds"]} s, {r["load_peak_rss_mb"]:,} MB peak RSS |', '',
             '| bucket growth | batch shapes | padding per residue |', '|---|---|---|']
    lines += [f'| {b["growth"]} | {b["shapes"]} | {b["padding"]:.0%} |' for b in r['buckets']]
    lines += ['', *fileio.markdown_table(
        ['model (`args_{type}_course.txt`)', 'parameters', 'train samples/s',
         f'padded to {r["len_max"]:,}', 'ratio', 'min per epoch', 'inference seq/s',
         'valid + test pass, min', 'test accuracy (rotation 0)', 'epochs', 'training min',
         'run peak RSS MB'],
        [[m['model_type'], f'{m["parameters"]:,}', f'{m["train_samples_per_s"]:,}',
          f'{m["train_padded_samples_per_s"]:,}', f'{m["bucketed_over_padded"]}×',
          m['epoch_minutes'], f'{m["inference_sequences_per_s"]:,}', m['valid_test_pass_minutes'],
          m.get('test_accuracy', '–'), m.get('epochs', '–'), m.get('training_minutes', '–'),
          m.get('run_peak_rss_mb') or '–'] for m in r['models']])]
    return '\n'.join(lines) + '\n'


@fileio.command(errors=(ValueError, OSError))   # DataError and the libraries' ValueErrors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--dataset', default=pfam_loader.DEFAULT_BASEDIR,
                        help='rotation pickles; the demo data is used when they are missing')
    parser.add_argument('--version', default=pfam_loader.DEFAULT_VERSION)
    parser.add_argument('--types', nargs='+', default=list(DEFAULT_TYPES),
                        choices=settings.MODEL_TYPES)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--steps', type=int, default=150,
                        help='timed training steps per pass and mode, the faster of '
                             f'{TIMED_PASSES} passes counting (150: about one epoch of the '
                             'benchmark, so bucketed batches cover the whole length distribution)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed steps before timing')
    parser.add_argument('--quick', action='store_true',
                        help='demo data, 3 steps, 100 sequences: a smoke test')
    parser.add_argument('--scale', choices=('benchmark', 'course'), default='benchmark',
                        help='course: the course-scale report (needs ' + COURSE_SOURCE + ')')
    parser.add_argument('--predict', action='store_true',
                        help='predict.py\'s default vs hmmscan, CPU seconds per sequence')
    parser.add_argument('--repeats', type=int, default=3, help='--predict: runs of each')
    parser.add_argument('--out', help='JSON report (default results/bench.json, '
                                      'results/bench_course.json with --scale course, '
                                      'results/bench_predict.json with --predict)')
    args = parser.parse_args(argv)
    if args.predict:
        import numpy_model
        report = bench_predict(numpy_model.DEFAULT_FILE, args.dataset, args.version,
                               max(1, args.repeats), os.path.join(ROOT, 'runs', 'bench_predict'))
        report.update(machine=fileio.machine(), date=time.strftime('%Y-%m-%d'),
                      commit=artefacts.commit(), command='python bench.py ' + ' '.join(
                          sys.argv[1:] if argv is None else argv))
        return _write(args.out or 'results/bench_predict.json', report,
                      predict_markdown(report))
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    command = 'python bench.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    if args.scale == 'course':
        out = args.out or 'results/bench_course.json'
        report = bench_course(args.types, args.steps, args.warmup, 3000 if not args.quick
                              else 100)
        report.update(machine=_machine(), command=command)
        return _write(out, report, course_markdown(report))
    if args.quick or args.version not in pfam_loader.versions_in(args.dataset):
        if not args.quick:
            pfam_loader.log(f'{args.dataset}: no dataset {args.version!r}; benchmarking the '
                            'demo data')
        pfam_loader.ensure_demo(pfam_loader.DEMO_BASEDIR, args.version)
        basedir = pfam_loader.DEMO_BASEDIR
    else:
        basedir = args.dataset
    dat = pfam_loader.load_rotation(basedir, 0, args.version)
    steps, warmup = (3, 2) if args.quick else (args.steps, args.warmup)
    n_infer = 100 if args.quick else len(dat['ins_test'])
    models = []
    for model_type in args.types:
        pfam_loader.log(f'{model_type}: timing {steps} training steps bucketed and padded, '
                        f'then inference on {n_infer} sequences ...')
        models.append(bench_type(model_type, dat, steps, warmup, args.batch, n_infer))
        pfam_loader.log(f'  {models[-1]}')
    report = {'data': f'{basedir} (version {args.version}, rotation 0, '
                      f'{len(dat["ins_train"]):,} training sequences, len_max {dat["len_max"]})',
              'machine': _machine(), 'batch': args.batch, 'steps': steps,
              'timed_passes': TIMED_PASSES, 'models': models, 'command': command}
    return _write(args.out or 'results/bench.json', report, markdown(report))


#: hmmscan as its own lean process (pyhmmer alone, none of the suite's imports): the profiles,
#: the FASTA, then ``id,family,evalue`` of each sequence's best hit
HMMSCAN = '''
import csv, sys
import pyhmmer
alphabet = pyhmmer.easel.Alphabet.amino()
with pyhmmer.plan7.HMMFile(sys.argv[1]) as f:
    profiles = list(f)
with pyhmmer.easel.SequenceFile(sys.argv[2], digital=True, alphabet=alphabet) as f:
    sequences = f.read_block()
with open(sys.argv[3], 'w', newline='') as out:
    writer = csv.writer(out, lineterminator='\\n')
    writer.writerow(['id', 'family', 'evalue'])
    for sequence, hits in zip(sequences, pyhmmer.hmmer.hmmscan(sequences, profiles, cpus=1)):
        best = min(hits, key=lambda hit: hit.evalue) if len(hits) else None
        writer.writerow([sequence.name, best.name if best else 'none',
                         f'{best.evalue:.3g}' if best else 'inf'])
'''


def bench_predict(model, dataset, version, repeats, folder):
    """predict.py's default vs hmmscan on the same sequences: the best of ``repeats`` runs of
    each, alternated (the machine's load changes both alike)."""
    import numpy_model
    import profile_check
    os.makedirs(folder, exist_ok=True)
    light = numpy_model.NumpyModel.load(model)
    rotation = light.open_set['rotation']
    dat = pfam_loader.load_rotation(dataset, rotation, version)
    sequences = [pfam_loader.decode(row) for row in dat['ins_test']]
    others = profile_check.other_sequences(held_out=True)
    fasta = os.path.join(folder, 'input.fasta')
    pfam_loader.atomic_write(fasta, lambda f: f.write(''.join(
        f'>in{i}\n{s}\n' for i, s in enumerate(sequences))
        + ''.join(f'>other{i}\n{s}\n' for i, s in enumerate(others))), 'w')
    hmms = os.path.join(folder, 'profiles.hmm')
    pfam_loader.atomic_write(hmms, lambda f: f.write(light.profiles))
    commands = {
        'predict.py (default: NumPy MHA + profile check)':
            [sys.executable, 'predict.py', '--model', model, '--input', fasta,
             '--out', os.path.join(folder, 'predict.csv')],
        'hmmscan (pyhmmer, one thread; best hit, E-value)':
            [sys.executable, '-c', HMMSCAN, hmms, fasta, os.path.join(folder, 'hmmscan.csv')]}
    ensemble = [os.path.join(ROOT, 'results', 'pfam46', f'{model_type}_rot{rotation}.keras')
                for model_type in DEFAULT_TYPES]
    if all(os.path.isfile(path) for path in ensemble):     # once: it takes far longer
        commands['predict.py --model (the three Keras models of the rotation, the former '
                 'default; once)'] = [sys.executable, 'predict.py', '--model', *ensemble,
                                      '--input', fasta,
                                      '--out', os.path.join(folder, 'ensemble.csv')]
    runs = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            if runs[name] and 'once' in name:
                continue
            wall, cpu, _ = _child(command)
            runs[name].append((cpu, wall))
            pfam_loader.log(f'{name}: {runs[name][-1][0]:.2f} CPU s, {runs[name][-1][1]:.2f} s')
    n = len(sequences) + len(others)
    rows = [{'program': name, 'cpu_s': min(c for c, _ in values),
             'cpu_s_per_sequence': min(c for c, _ in values) / n,
             'wall_s': min(w for _, w in values), 'runs_cpu_s': [round(c, 2) for c, _ in values]}
            for name, values in runs.items()]
    return {'sequences': n, 'in_family': len(sequences), 'others': len(others),
            'families': len(light.class_names), 'model': os.path.relpath(model, ROOT),
            'rotation': rotation, 'repeats': repeats, 'programs': rows,
            'ratio': rows[0]['cpu_s'] / rows[1]['cpu_s']}         # predict.py / hmmscan


def predict_markdown(report):
    rows = [[r['program'], f'{r["cpu_s"]:.2f}', f'{1000 * r["cpu_s_per_sequence"]:.3f}',
             f'{r["wall_s"]:.2f}', ', '.join(map(str, r['runs_cpu_s']))]
            for r in report['programs']]
    return '\n'.join(
        [f'predict.py vs hmmscan, whole processes (`{report["command"]}`; {report["date"]}, '
         f'commit {report["commit"]}, {report["machine"]}): {report["sequences"]:,} sequences '
         f'(rotation {report["rotation"]}\'s test fold, {report["in_family"]:,}, and '
         f'{report["others"]:,} of the other families of odd accession numbers), '
         f'{report["families"]} families; the best of {report["repeats"]} runs each, '
         'alternated.', '']
        + fileio.markdown_table(['program', 'CPU s', 'CPU ms per sequence', 'wall s',
                                 'CPU s of each run'], rows)
        + ['', f'predict.py / hmmscan CPU: **{report["ratio"]:.2f}**', '']) 


def _machine():
    import tensorflow as tf
    return (f'{fileio.machine()}, {len(tf.config.list_physical_devices("GPU"))} GPU(s), '
            f'TensorFlow {tf.__version__}')


def _write(out, report, table):
    pfam_loader.atomic_write(out, lambda f: json.dump(report, f, indent=1), 'w')
    pfam_loader.atomic_write(os.path.splitext(out)[0] + '.md', lambda f: f.write(table), 'w')
    print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Ensembles of the reference models: test accuracy per rotation, and prediction speed.

    python ensembles.py                  # results/pfam46 + data/pfam -> results/ensembles.{json,md}
    python ensembles.py --no-speed       # accuracy only (a second; no TensorFlow)

Accuracy comes from the result pickles alone: each run's ``predict_test`` holds its test-fold
probabilities, so the ensemble of the models of one rotation (one of each type, or a pair) is
the mean of theirs, scored on that rotation's test fold, which no member trained or validated on
(clean). An ensemble across rotations has no clean test fold in the 5-fold design (each fold
trains three of the five rotations), so none is reported.

Speed: what ``python predict.py`` reports (sequences/s of inference once the models are loaded,
graph tracing included: what one run of it costs) on the sequences of rotation 0's test fold,
for 1, 3, 5 and 15 members (MHA of rotation 0; predict.py's default ensemble, one model of each
type of rotation 0; MHA of every rotation; all 15 models); the better of two runs.
Wall-clock: close other work first.
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import artefacts
import fileio
import job_control
import pfam_loader

TYPES = job_control.REFERENCE_TYPES
ROOT = os.path.dirname(os.path.abspath(__file__))


def load_results(results_path):
    """``{(model_type, rotation): result dict}`` of the reference runs found in ``results_path``;
    a pickle that is not a complete result (`job_control.read_result`) is skipped with a line
    naming it, as figures.py does."""
    found = {}
    for model_type in TYPES:
        for rotation in job_control.ROTATIONS:
            path = artefacts.paths(results_path,
                                   artefacts.run_name(model_type, rotation))['result']
            result, problem = job_control.read_result(path)
            if result is not None:
                found[model_type, rotation] = result
            elif problem != 'no such file':
                fileio.log(f'ensembles.py: skipping {path}: {problem}')
    return found


def result_probabilities(result):
    """The test probabilities (sequences x classes) of ``result``: ``predict_test``, or, in a
    compact result (``predict_test`` None: only the top classes kept, ``predict_test_top``, as in
    results/course_scale), a matrix that is 0 outside each sequence's top classes."""
    if result['predict_test'] is not None or result.get('predict_test_top') is None:
        return np.asarray(result['predict_test'], dtype=np.float32)
    classes = np.asarray(result['predict_test_top']['classes'], dtype=np.int64)
    top = np.asarray(result['predict_test_top']['probabilities'], dtype=np.float32)
    # float16 storage can round a sequence's first two probabilities to a tie: break it in the
    # stored order (the classes are sorted by their float32 probability)
    top = np.maximum(top - 1e-6 * np.arange(top.shape[1], dtype=np.float32), 0)
    dense = np.zeros((len(classes), len(result['class_names'])), dtype=np.float32)
    np.put_along_axis(dense, classes, top, axis=1)
    return dense


def ensemble_accuracy(results, members):
    """Accuracy and error count of the mean probabilities of ``members`` (results of one rotation,
    which must share the test fold: the same labels in the same order, the same classes)."""
    first = results[members[0]]
    for key in members[1:]:
        if (not np.array_equal(results[key]['outs_test'], first['outs_test'])
                or results[key]['class_names'] != first['class_names']):
            raise ValueError(f'{key} and {members[0]} were not tested on the same fold and classes')
    probabilities = np.mean([result_probabilities(results[key]) for key in members], axis=0)
    wrong = int(np.sum(probabilities.argmax(axis=1) != first['outs_test'][:, 0]))
    return 1 - wrong / len(probabilities), wrong


def accuracy_table(results):
    """One row per rotation: each type's accuracy, every pair of types and all types together."""
    combinations = {**{t: (t,) for t in TYPES},
                    **{'+'.join(pair): pair for pair in itertools.combinations(TYPES, 2)},
                    'all types': TYPES}
    rows = []
    for rotation in job_control.ROTATIONS:
        row = {'rotation': rotation, 'n_test': None}
        for label, types in combinations.items():
            members = [(t, rotation) for t in types]
            if all(key in results for key in members):
                row[label], row[f'{label} errors'] = ensemble_accuracy(results, members)
                row['n_test'] = len(results[members[0]]['outs_test'])
        rows.append(row)
    complete = [row for row in rows if all(label in row for label in combinations)]
    mean = {label: float(np.mean([row[label] for row in complete])) for label in combinations
            } if complete else {}            # over the rotations that have every model only
    return list(combinations), rows, mean


def predict_speed(model_paths, fasta, out):
    """Sequences/s that ``python predict.py --model ... --input fasta`` reports: inference only,
    after the models are loaded, graph tracing included (what one run of it pays)."""
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), '--model',
                          *model_paths, '--input', fasta, '--out', out],
                         capture_output=True, text=True, cwd=ROOT)
    found = re.search(r'([\d,]+) sequences in ([\d.]+) s', run.stderr)
    if run.returncode or not found:
        raise ValueError(f'predict.py failed (exit {run.returncode}): {run.stderr.strip()[-300:]}')
    return int(found.group(1).replace(',', '')) / float(found.group(2))


def speed_table(results_path, dataset, version):
    """Sequences/s of predict.py with 1, 3, 5 and 15 members on rotation 0's test fold."""
    dat = pfam_loader.load_rotation(dataset, 0, version)
    ensembles = {'MHA, rotation 0': [('mha', 0)],
                 'one of each type, rotation 0 (predict.py default)': [(t, 0) for t in TYPES],
                 'MHA, every rotation': [('mha', r) for r in job_control.ROTATIONS],
                 'every model': [(t, r) for t in TYPES for r in job_control.ROTATIONS]}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        fasta = os.path.join(scratch, 'test_fold.fa')
        with open(fasta, 'w') as f:
            f.writelines(f'>s{i}\n{pfam_loader.decode(row)}\n'
                         for i, row in enumerate(dat['ins_test']))
        for label, members in ensembles.items():
            paths = [artefacts.paths(results_path, artefacts.run_name(t, r))['model']
                     for t, r in members]
            speeds = [predict_speed(paths, fasta, os.path.join(scratch, 'out.csv'))
                      for _ in range(2)]
            rows.append({'ensemble': label, 'members': len(members),
                         'sequences_per_s': max(speeds)})
            fileio.log(f'{label}: {rows[-1]["sequences_per_s"]:,.0f} sequences/s')
    return len(dat['ins_test']), rows


def markdown(report):
    labels = report['labels']
    lines = [f'Ensembles of the reference models in `{report["results_path"]}` '
             '(`python ensembles.py`).', '',
             'Test accuracy per rotation (errors in brackets); an ensemble is the mean of its '
             "members' probabilities, all trained on that rotation's training folds only.", '']
    rows = [[row['rotation'], row['n_test'] or '–',
             *(f'{row[label]:.4f} ({row[label + " errors"]})' if label in row else '–'
               for label in labels)] for row in report['accuracy']]
    rows.append(['**mean**', '', *(f'**{report["mean"][label]:.4f}**' if report['mean'] else '–'
                                   for label in labels)])
    lines += fileio.markdown_table(['rotation', 'test sequences', *labels], rows)
    if report.get('speed'):
        lines += ['', f'`predict.py` on the {report["speed_sequences"]:,} sequences of rotation 0\'s '
                  f'test fold, {report["machine"]}: the sequences/s it reports (inference after '
                  'the models are loaded, graph tracing included; the better of 2 runs):', '']
        lines += fileio.markdown_table(
            ['ensemble', 'members', 'sequences/s'],
            [[row['ensemble'], row['members'], f'{row["sequences_per_s"]:,.0f}']
             for row in report['speed']])
    return '\n'.join(lines) + '\n'


@fileio.command(errors=(ValueError, OSError))   # DataError and the libraries' ValueErrors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--results_path', default='results/pfam46',
                        help='the reference experiment: {type}_rot{r}_results.pkl and .keras')
    parser.add_argument('--dataset', default=pfam_loader.DEFAULT_BASEDIR,
                        help='the dataset of those runs (speed: rotation 0\'s test fold)')
    parser.add_argument('--version', default=pfam_loader.DEFAULT_VERSION)
    parser.add_argument('--speed', action=argparse.BooleanOptionalAction, default=True,
                        help='also measure prediction speed (needs the models and --dataset)')
    parser.add_argument('--out', default='results/ensembles.json',
                        help='JSON report; the markdown table goes beside it (.md)')
    args = parser.parse_args(argv)
    results = load_results(args.results_path)
    if not results:
        raise fileio.DataError(f'no reference result pickles in {args.results_path}')
    labels, rows, mean = accuracy_table(results)
    report = {'results_path': args.results_path, 'labels': labels, 'accuracy': rows,
              'mean': mean, 'machine': fileio.machine()}
    if args.speed:
        report['speed_sequences'], report['speed'] = speed_table(
            args.results_path, args.dataset, args.version)
    fileio.atomic_write(args.out, lambda f: json.dump(report, f, indent=1), 'w')
    text = markdown(report)
    fileio.atomic_write(os.path.splitext(args.out)[0] + '.md', lambda f: f.write(text), 'w')
    print(text, end='')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

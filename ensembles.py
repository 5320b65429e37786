"""Ensembles of the reference models: test accuracy per rotation, and prediction speed.

    python ensembles.py                  # results/pfam46 + data/pfam -> results/ensembles.{json,md}
    python ensembles.py --no-speed       # accuracy only (seconds; no TensorFlow)

Accuracy comes from the result pickles alone: each run's ``predict_test`` holds its test-fold
probabilities, so the ensemble of the models of one rotation (one of each type, or a pair) is
the mean of theirs, scored on that rotation's test fold, which no member trained or validated on
(clean). An ensemble across rotations has no clean test fold in the 5-fold design (each fold
trains three of the five rotations), so none is reported.

Speed: `predict.predict_sequences` (predict.py's own path: one length-grouped batching pass shared
by the members) on the sequences of rotation 0's test fold, for 1, 3, 5 and 15 members (MHA
rotation 0; predict.py's default ensemble, the three types of rotation 0; MHA of every rotation;
all 15 models), after the models are loaded: a first pass (what one predict.py run pays,
graph tracing included) and the median of two more. Wall-clock: close other work first.
"""
import argparse
import json
import os
import pickle
import platform
import sys
import time

import numpy as np

import fileio
import job_control
import pfam_loader

TYPES = tuple(job_control.EXPERIMENTS['reference']['model_type'])


def load_results(results_path):
    """``{(model_type, rotation): result dict}`` of the reference runs found in ``results_path``."""
    found = {}
    for model_type in TYPES:
        for rotation in job_control.ROTATIONS:
            path = os.path.join(results_path, f'{model_type}_rot{rotation}_results.pkl')
            if os.path.isfile(path):
                with open(path, 'rb') as f:
                    found[model_type, rotation] = pickle.load(f)
    return found


def ensemble_accuracy(results, members):
    """Accuracy and error count of the mean probabilities of ``members`` (results of one rotation,
    which must share the test fold: the same labels in the same order, the same classes)."""
    first = results[members[0]]
    for key in members[1:]:
        if (not np.array_equal(results[key]['outs_test'], first['outs_test'])
                or results[key]['class_names'] != first['class_names']):
            raise ValueError(f'{key} and {members[0]} were not tested on the same fold and classes')
    probabilities = np.mean([results[key]['predict_test'] for key in members], axis=0)
    wrong = int(np.sum(probabilities.argmax(axis=1) != first['outs_test'][:, 0]))
    return 1 - wrong / len(probabilities), wrong


def accuracy_table(results):
    """One row per rotation: each type's accuracy, the pair GRU+MHA and all types together."""
    combinations = {**{t: (t,) for t in TYPES}, 'gru+mha': ('gru', 'mha'), 'all types': TYPES}
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
    mean = {label: float(np.mean([row[label] for row in complete])) for label in combinations}
    return list(combinations), rows, mean


def timed_passes(models, sequences, passes=3):
    """Seconds of ``passes`` calls of predict.predict_sequences (the first one traces)."""
    import predict
    seconds = []
    for _ in range(passes):
        started = time.time()
        predict.predict_sequences(models, sequences)
        seconds.append(time.time() - started)
    return seconds


def speed_table(results_path, dataset, version):
    """Sequences/s of 1, 3, 5 and 15 members on rotation 0's test fold."""
    import network
    dat = pfam_loader.load_rotation(dataset, 0, version)
    sequences = [pfam_loader.decode(row) for row in dat['ins_test']]
    ensembles = {'MHA, rotation 0': [('mha', 0)],
                 'one of each type, rotation 0 (predict.py default)': [(t, 0) for t in TYPES],
                 'MHA, every rotation': [('mha', r) for r in job_control.ROTATIONS],
                 'every model': [(t, r) for t in TYPES for r in job_control.ROTATIONS]}
    models = {}
    rows = []
    for label, members in ensembles.items():
        for key in members:
            if key not in models:
                models[key] = network.load_model(
                    os.path.join(results_path, f'{key[0]}_rot{key[1]}.keras'))
        seconds = timed_passes([models[key] for key in members], sequences)
        rows.append({'ensemble': label, 'members': len(members),
                     'first_pass_sequences_per_s': len(sequences) / seconds[0],
                     'sequences_per_s': len(sequences) / float(np.median(seconds[1:]))})
        fileio.log(f'{label}: {rows[-1]["sequences_per_s"]:,.0f} sequences/s')
    return len(sequences), rows


def markdown(report):
    labels = report['labels']
    lines = [f'Ensembles of the reference models in `{report["results_path"]}` '
             '(`python ensembles.py`).', '',
             'Test accuracy per rotation (errors in brackets); an ensemble is the mean of its '
             "members' probabilities, all trained on that rotation's training folds only.", '']
    rows = [[row['rotation'], row['n_test'] or '–',
             *(f'{row[label]:.4f} ({row[label + " errors"]})' if label in row else '–'
               for label in labels)] for row in report['accuracy']]
    rows.append(['**mean**', '', *(f'**{report["mean"][label]:.4f}**' for label in labels)])
    lines += fileio.markdown_table(['rotation', 'test sequences', *labels], rows)
    if report.get('speed'):
        lines += ['', f'Prediction speed on {report["speed_sequences"]:,} sequences (rotation 0\'s '
                  f'test fold) with predict.py\'s batching, {report["machine"]}:', '']
        lines += fileio.markdown_table(
            ['ensemble', 'members', 'sequences/s', 'first pass (tracing included)'],
            [[row['ensemble'], row['members'], f'{row["sequences_per_s"]:,.0f}',
              f'{row["first_pass_sequences_per_s"]:,.0f}'] for row in report['speed']])
    return '\n'.join(lines) + '\n'


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
        print(f'ensembles.py: error: no reference result pickles in {args.results_path}',
              file=sys.stderr)
        return 2
    try:
        labels, rows, mean = accuracy_table(results)
        report = {'results_path': args.results_path, 'labels': labels, 'accuracy': rows,
                  'mean': mean, 'machine': f'{platform.node()}, {os.cpu_count()} CPU cores'}
        if args.speed:
            report['speed_sequences'], report['speed'] = speed_table(
                args.results_path, args.dataset, args.version)
    except (ValueError, OSError) as err:               # DataError is a ValueError
        print(f'ensembles.py: error: {err}', file=sys.stderr)
        return 2
    fileio.atomic_write(args.out, lambda f: json.dump(report, f, indent=1), 'w')
    text = markdown(report)
    fileio.atomic_write(os.path.splitext(args.out)[0] + '.md', lambda f: f.write(text), 'w')
    print(text, end='')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

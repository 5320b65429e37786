"""Calibrate and measure predict.py's "none of these families" on held-out families.

    python open_set.py      # rotation 0's mha_small → results/pfam46_small/mha_rot0.npz, results/open_set/

From one trained MHA model (``--model``, trained on rotation ``--rotation``) it writes the file
predict.py uses by default (``--out``, `numpy_model.export`): the model's weights for the NumPy
forward pass, its metadata, one profile HMM per family built from the rotation's training folds
(`profile_check.build_profiles`) and one bit-score threshold per family. predict.py gives a
sequence the family the network chose when the sequence's score against that family's profile
reaches the family's threshold, else ``none``.

Calibration (thresholds, and which families are searched without HMMER's filters) uses only the
rotation's validation fold and the other-family sequences of even accession numbers;
evaluation uses the rotation's test fold (no model or profile saw it) and the other families
of odd accession numbers (used for nothing else). Writes ``--report``/open_set.{json,md} and
the curve (in-family sequences right vs other-family sequences assigned, as ``--threshold``
moves every family's threshold) as open_set_curve.png, with the network's top probability
alone and HMMER (results/open_set/hmmer_baseline.json, when there) for comparison.
"""
import argparse
import collections
import json
import os
import sys
import time

import numpy as np

import artefacts
import fileio
import numpy_model
import profile_check
from pfam_loader import DataError

ROOT = os.path.dirname(os.path.abspath(__file__))
#: a family whose right validation predictions HMMER's filters drop more often than this is
#: searched without the filters (short repeats such as LRR_1, PF00560)
UNFILTERED_LOSS = 0.01
#: calibration: the cost of a fraction of other-family sequences assigned, against the same
#: fraction of in-family sequences lost (the targets: at most 0.5 % against 1 %, with a margin:
#: the even families let fewer through than the odd ones, results/open_set/open_set.md)
WEIGHT = 4.0
#: the curve's points: shifts of every family's threshold, in bits
SHIFTS = np.arange(-10, 30.5, 0.5)


def figures(right, margin, assigned_margin, shift=0.0):
    """In-family right (right and margin >= shift) and others assigned (margin >= shift)."""
    return (float(np.mean(right & (margin >= shift))),
            float(np.mean(assigned_margin >= shift)))


def probability_curve(right, probability, other_probability):
    cuts = np.unique(np.quantile(probability, np.linspace(0, 0.2, 81)))
    return [figures(right, probability, other_probability, c) for c in cuts]


def plot(path, curves, points):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for label, values in curves.items():
        axis.plot([100 * o for _, o in values], [100 * r for r, _ in values], label=label)
    for label, (r, o) in points.items():
        axis.plot([100 * o], [100 * r], 'o', label=label)
    axis.axhline(99, color='grey', lw=0.6, ls=':')
    axis.axvline(0.5, color='grey', lw=0.6, ls=':')
    axis.set_xscale('symlog', linthresh=0.1)
    axis.set_xlim(0, 100)
    axis.set_ylim(94, 100.2)
    axis.set_xlabel('other-family sequences assigned a family (%), odd accessions')
    axis.set_ylabel('in-family sequences right (%), test fold')
    axis.legend(fontsize=7, loc='lower right')
    figure.tight_layout()
    fileio.atomic_write(path, lambda f: figure.savefig(f, format='png', dpi=110))
    plt.close(figure)


def main_result(args):
    """Export, calibrate, evaluate: the report dict."""
    meta = artefacts.load_meta(artefacts.meta_of_model(args.model))   # before TensorFlow loads
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    import network
    import pfam_loader
    if meta.get('rotation') not in (None, args.rotation):
        raise DataError(f'{args.model} was trained on rotation {meta["rotation"]}, not '
                        f'--rotation {args.rotation}')
    model = network.load_model(args.model)
    dat = pfam_loader.load_rotation(args.dataset, args.rotation, args.version)
    class_names = meta['class_names']
    if [dat['out_index_word'][k] for k in range(len(class_names))] != class_names:
        raise DataError(f'{args.dataset}: its classes are not those of {args.model}')
    parts = {part: [pfam_loader.decode(row) for row in dat[f'ins_{part}']]
             for part in ('train', 'valid', 'test')}
    labels = {part: dat[f'outs_{part}'][:, 0] for part in parts}
    others = {'even': profile_check.other_sequences(args.others, held_out=False),
              'odd': profile_check.other_sequences(args.others, held_out=True)}

    started = time.process_time()
    profiles = profile_check.build_profiles(parts['train'], labels['train'], class_names)
    build_seconds = time.process_time() - started
    path = numpy_model.export(model, meta, args.out)
    light = numpy_model.NumpyModel.load(path)
    keras_check = network.predict_probabilities(model, pfam_loader.encode(parts['valid']))
    probability, predicted, score = {}, {}, {}
    for name, sequences in (('valid', parts['valid']), ('test', parts['test']),
                            ('even', others['even']), ('odd', others['odd'])):
        probability[name], _ = light.predict(sequences)
        predicted[name] = probability[name].argmax(1)
    deviation = float(np.abs(probability['valid'] - keras_check).max())
    right = {part: predicted[part] == labels[part] for part in ('valid', 'test')}

    filtered = profile_check.family_scores(profiles, parts['valid'], predicted['valid'])
    unfiltered = [k for k in range(len(class_names))
                  if np.mean(~np.isfinite(filtered[right['valid'] & (labels['valid'] == k)]))
                  > UNFILTERED_LOSS]
    for name, sequences in (('valid', parts['valid']), ('test', parts['test']),
                            ('even', others['even']), ('odd', others['odd'])):
        score[name] = profile_check.family_scores(profiles, sequences, predicted[name],
                                                  unfiltered)
    thresholds = profile_check.calibrate_thresholds(
        score['valid'], right['valid'], labels['valid'], score['even'], predicted['even'],
        len(class_names), weight=args.weight)
    margin = {name: score[name] - thresholds[predicted[name]] for name in score}
    # predict.py skips the full search where the MSV filter saturates, up to the threshold
    # shift every saturated calibration sequence reaches
    saturated = {name: profile_check.saturated(profiles, sequences, predicted[name])
                 for name, sequences in (('valid', parts['valid']), ('test', parts['test']),
                                         ('even', others['even']), ('odd', others['odd']))}
    calibration = np.concatenate([margin[name][saturated[name]] for name in ('valid', 'even')])
    saturated_margin = float(calibration.min()) if len(calibration) else None

    def as_run(name, shift=0.0):
        """The margins predict.py --threshold ``shift`` uses (inf: saturated, not searched)."""
        if saturated_margin is None or shift > saturated_margin:
            return margin[name]
        return np.where(saturated[name], np.inf, margin[name])
    fast = {name: as_run(name) for name in margin}
    open_set = {'thresholds': [float(t) for t in thresholds], 'unfiltered': unfiltered,
                'saturated_margin': saturated_margin,
                'rotation': args.rotation, 'weight': args.weight,
                'calibration': 'validation fold and other families of even accession numbers'}
    numpy_model.export(model, meta, args.out, open_set=open_set,
                       profiles=profile_check.profiles_to_bytes(profiles))

    test_right, odd_assigned = figures(right['test'], fast['test'], fast['odd'])
    lost = collections.Counter(class_names[k] for k in
                               labels['test'][~(right['test'] & (fast['test'] >= 0))])
    let_in = collections.Counter(class_names[k] for k in predicted['odd'][fast['odd'] >= 0])
    valid_right, even_assigned = figures(right['valid'], margin['valid'], margin['even'])
    keep99 = np.quantile(probability['valid'].max(1), 0.01)
    report = {
        'model': os.path.relpath(args.model, ROOT), 'out': os.path.relpath(args.out, ROOT),
        'rotation': args.rotation, 'dataset': args.dataset, 'version': args.version,
        'machine': fileio.machine(), 'commit': artefacts.commit(), 'date': time.strftime('%Y-%m-%d'),
        'command': ' '.join(['python open_set.py', *args.argv]),
        'numpy_vs_keras_max_abs_difference': deviation,
        'sequences': {'test': len(parts['test']), 'valid': len(parts['valid']),
                      'even_others': len(others['even']), 'odd_others': len(others['odd'])},
        'profile_build_cpu_s': round(build_seconds, 1),
        'unfiltered_families': [class_names[k] for k in unfiltered],
        'closed_set_test_accuracy': float(right['test'].mean()),
        'in_family_right': test_right, 'others_assigned': odd_assigned,
        'full_scores': dict(zip(('in_family_right', 'others_assigned'),
                                figures(right['test'], margin['test'], margin['odd']))),
        'saturated': {name: int(flags.sum()) for name, flags in saturated.items()},
        'saturated_margin': saturated_margin,
        'in_family_lost_by_family': dict(lost.most_common()),
        'others_assigned_by_family': dict(let_in.most_common()),
        'calibration': {'valid_right': valid_right, 'even_assigned': even_assigned},
        'probability_alone_at_99pc_validation': dict(zip(
            ('in_family_right', 'others_assigned'),
            figures(right['test'], probability['test'].max(1), probability['odd'].max(1),
                    keep99)), threshold=float(keep99)),
        'curve': {'shift_bits': SHIFTS.tolist(),
                  'points': [figures(right['test'], as_run('test', shift), as_run('odd', shift),
                                     shift) for shift in SHIFTS]},
        'probability_curve': probability_curve(right['test'], probability['test'].max(1),
                                               probability['odd'].max(1)),
    }
    return report


def markdown(report, hmmer):
    lines = [f'Open-set figures of predict.py\'s default (`{report["command"]}`; '
             f'{report["date"]}, commit {report["commit"]}, {report["machine"]}).', '',
             f'In-family: rotation {report["rotation"]}\'s test fold ({report["sequences"]["test"]:,} '
             'sequences; the model and the profiles were trained on the other folds). Others: '
             f'{report["sequences"]["odd_others"]:,} sequences of the other families with odd '
             'accession numbers (never used for training or calibration). Calibration: the '
             f'validation fold and {report["sequences"]["even_others"]:,} sequences of the even '
             'families.', '']
    rows = [['network + profile check (default, `--threshold 0`)',
             f'{report["in_family_right"]:.4f}', f'{report["others_assigned"]:.4f}'],
            ['the same with the full search for every sequence (`--full_scores`)',
             f'{report["full_scores"]["in_family_right"]:.4f}',
             f'{report["full_scores"]["others_assigned"]:.4f}'],
            ['network top probability alone, cut keeping 99 % of validation',
             f'{report["probability_alone_at_99pc_validation"]["in_family_right"]:.4f}',
             f'{report["probability_alone_at_99pc_validation"]["others_assigned"]:.4f}']]
    for shift, (right, assigned) in zip(report['curve']['shift_bits'],
                                        report['curve']['points']):
        if shift in (-5.0, -2.0, 2.0, 5.0, 10.0):
            rows.append([f'network + profile check, `--threshold {shift:g}`', f'{right:.4f}',
                         f'{assigned:.4f}'])
    if hmmer:
        rotation = hmmer['per_rotation'][hmmer['rotations'].index(report['rotation'])] \
            if report['rotation'] in hmmer['rotations'] else None
        if rotation:
            rows.append([f'HMMER hmmscan, best hit at E <= {hmmer["e_value"]:g} '
                         '(hmmer_baseline.py)', f'{rotation["in_family_right"]:.4f}',
                         f'{rotation["others_assigned"]:.4f}'])
    lines += fileio.markdown_table(['method', 'in-family right', 'others assigned'], rows)
    lines += ['', 'In-family sequences lost, by family: ' + ', '.join(
        f'{name} {count}' for name, count in report['in_family_lost_by_family'].items())
        + '. Other-family sequences let in, by the family given: ' + ', '.join(
        f'{name} {count}' for name, count in report['others_assigned_by_family'].items()) + '.']
    limit = report['saturated_margin']
    lines += ['', 'MSV filter saturated (full search skipped by default, up to `--threshold` '
              f'{"none" if limit is None else f"{limit:.2f}"}, the lowest score above its '
              'threshold of a saturated calibration sequence): ' + ', '.join(
                  f'{name} {count:,}' for name, count in report['saturated'].items()) + '.']
    lines += ['', f'Families searched without HMMER\'s filters: '
              f'{", ".join(report["unfiltered_families"]) or "none"}. NumPy forward pass vs '
              f'Keras: largest difference of a probability '
              f'{report["numpy_vs_keras_max_abs_difference"]:.1e}.']
    return '\n'.join(lines) + '\n'


@fileio.command(errors=(ValueError, OSError))
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', default=numpy_model.DEFAULT_SOURCE,
                        help='a trained MHA model (.keras) with its _meta.json')
    parser.add_argument('--rotation', type=int, default=0, help='the rotation it was trained on')
    parser.add_argument('--dataset', default='data/pfam')
    parser.add_argument('--version', default='B')
    parser.add_argument('--others', default=None,
                        help='other-family sequences (default data/pfam_others)')
    parser.add_argument('--weight', type=float, default=WEIGHT,
                        help='calibration: cost of an even other-family sequence assigned, '
                             'against one in-family validation sequence lost (fractions)')
    parser.add_argument('--out', default=numpy_model.DEFAULT_FILE,
                        help='the file predict.py loads (weights, profiles, thresholds)')
    parser.add_argument('--report', default=os.path.join(ROOT, 'results', 'open_set'),
                        help='folder of open_set.{json,md} and open_set_curve.png')
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if not os.path.isfile(args.model):
        raise DataError(f'--model {args.model}: no such file')
    report = main_result(args)
    hmmer_file = os.path.join(args.report, 'hmmer_baseline.json')
    hmmer = None
    if os.path.isfile(hmmer_file):
        with open(hmmer_file) as handle:
            hmmer = json.load(handle)
    os.makedirs(args.report, exist_ok=True)
    fileio.atomic_write(os.path.join(args.report, 'open_set.json'),
                        lambda f: json.dump(report, f, indent=1), 'w')
    fileio.atomic_write(os.path.join(args.report, 'open_set.md'),
                        lambda f: f.write(markdown(report, hmmer)), 'w')
    points = {'default (--threshold 0)': (report['in_family_right'],
                                          report['others_assigned'])}
    if hmmer and args.rotation in hmmer['rotations']:
        rotation = hmmer['per_rotation'][hmmer['rotations'].index(args.rotation)]
        points[f'HMMER, E <= {hmmer["e_value"]:g}'] = (rotation['in_family_right'],
                                                       rotation['others_assigned'])
    plot(os.path.join(args.report, 'open_set_curve.png'),
         {'network + profile check (--threshold)': report['curve']['points'],
          'network top probability alone': report['probability_curve']}, points)
    print(f'open_set.py: in-family right {report["in_family_right"]:.4f}, others assigned '
          f'{report["others_assigned"]:.4f}; wrote {args.out} and {args.report}/')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

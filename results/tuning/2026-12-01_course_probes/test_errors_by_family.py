"""Test errors of the committed course-scale runs split by what was taken for what: LRR and WD40
(the short repeats) against the other 44 families, and how many of the other 44's errors are
over 600 residues; then the error rate of each group by sequence length. From the result pickles'
predictions (rotation 0; no model is run):

    python results/tuning/2026-12-01_course_probes/test_errors_by_family.py [rnn gru mha]
"""
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, '.')
import pfam_loader  # noqa: E402

REPEATS = ['PF00560.33', 'PF00400.32']          # LRR, WD40
LENGTH_BINS = [0, 300, 600, 1200, 2400, 4000]


def main(types):
    test_fold = pfam_loader.rotation_folds(0)[2]
    lengths = pd.read_csv(pfam_loader.fold_path('data/course_scale', test_fold, 'C'))[
        'string'].str.len().to_numpy()
    rows, rates = [], []
    length_bin = pd.cut(lengths, LENGTH_BINS)
    for kind in types:
        with open(f'results/course_scale/{kind}_rot0_results.pkl', 'rb') as f:
            result = pfam_loader.load_pickle(f)
        names = np.asarray(result['class_names'])
        truth = result['outs_test'][:, 0]
        predicted = result['predict_test_top']['classes'][:, 0]
        wrong = predicted != truth
        repeat = np.isin(names[truth], REPEATS)
        taken_for_repeat = np.isin(names[predicted], REPEATS)
        rows.append({'model': kind, 'errors': wrong.sum(),
                     'repeat as repeat': (wrong & repeat & taken_for_repeat).sum(),
                     'repeat as other': (wrong & repeat & ~taken_for_repeat).sum(),
                     'other as repeat': (wrong & ~repeat & taken_for_repeat).sum(),
                     'other as other': (wrong & ~repeat & ~taken_for_repeat).sum(),
                     'other as other, > 600': (wrong & ~repeat & ~taken_for_repeat
                                               & (lengths > 600)).sum()})
        for group, members in (('LRR/WD40', repeat), ('other 44', ~repeat)):
            by_length = pd.Series(wrong[members]).groupby(length_bin[members], observed=False)
            stats = by_length.agg(['mean', 'size'])
            rates.append({'model': kind, 'sequences of': group,
                          **{f'{b.left + 1}-{b.right}': f'{rate:.4f} ({n})'
                             for b, (rate, n) in zip(stats.index, stats.itertuples(index=False))}})
    print(pd.DataFrame(rows).to_string(index=False))
    print('\nerror rate (sequences) by length in residues:')
    print(pd.DataFrame(rates).to_string(index=False))


if __name__ == '__main__':
    main(sys.argv[1:] or ['rnn', 'gru', 'mha'])

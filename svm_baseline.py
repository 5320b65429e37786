"""The reference to beat: a linear SVM on 3-mer counts, on the same rotations as the networks.

    python svm_baseline.py --dataset data/pfam --version B --out results/pfam46/svm_baseline.json   # the committed one

For each rotation it fits scikit-learn's ``LinearSVC`` (defaults) on the 3-mer count vectors of
the training folds and scores the test fold (the validation fold is not used: nothing is tuned).
Writes a JSON that figures.py adds to Figure 3 and to the test accuracy table, after every
rotation; a rerun of the same command skips the rotations already in it.

LinearSVC is one-vs-rest: one binary problem per family, solved one after another on one core;
with hundreds of families ``--jobs N`` solves the same binary problems in N processes
(scikit-learn's ``OneVsRestClassifier``). Times: REPORT.md and results/pfam400/README.md.
"""
import argparse
import json
import sys
import time

import numpy as np

import fileio
import pfam_loader
from parser import add_rotation_arguments, positive_int

NAME = '3-mer linear SVM'


def sequences_of(ins):
    """The amino-acid strings of a token matrix (the vectorizer counts their k-mers)."""
    return [pfam_loader.decode(row) for row in ins]


def classifier(jobs=1):
    """The linear SVM: LinearSVC's own one-vs-rest, or with ``jobs`` > 1 the same binary problems
    solved in ``jobs`` processes."""
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC
    return LinearSVC() if jobs == 1 else OneVsRestClassifier(LinearSVC(), n_jobs=jobs)


def evaluate_rotation(dat, k=3, jobs=1):
    """Test accuracy of the k-mer SVM on one rotation dict, and the seconds it took."""
    from sklearn.feature_extraction.text import CountVectorizer
    started = time.time()
    vectorizer = CountVectorizer(analyzer='char', ngram_range=(k, k), lowercase=False)
    train = vectorizer.fit_transform(sequences_of(dat['ins_train']))
    test = vectorizer.transform(sequences_of(dat['ins_test']))
    fitted = classifier(jobs).fit(train, dat['outs_train'][:, 0])
    accuracy = float(np.mean(fitted.predict(test) == dat['outs_test'][:, 0]))
    return accuracy, time.time() - started


def _finished(path, result):
    """The rotations already in ``path`` (a JSON of an earlier run on the same dataset, version
    and k), as ``{'rotations', 'per_rotation', 'seconds_per_rotation'}``; empty lists when none."""
    keys = ('rotations', 'per_rotation', 'seconds_per_rotation')
    try:
        with open(path) as f:
            earlier = json.load(f)
        if all(earlier.get(key) == result[key] for key in ('name', 'dataset', 'version')):
            return {key: list(earlier[key]) for key in keys}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {key: [] for key in keys}


@fileio.command(errors=(ValueError, OSError))   # DataError and the libraries' ValueErrors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_rotation_arguments(parser)
    parser.add_argument('--k', type=int, default=3, help='k-mer length')
    parser.add_argument('--jobs', type=positive_int, default=1,
                        help='processes that share the one-vs-rest problems (for many families)')
    parser.add_argument('--out', default='runs/svm_baseline.json')
    args = parser.parse_args(argv)
    name = NAME if args.k == 3 else f'{args.k}-mer linear SVM'
    result = {'name': name, 'rotations': [], 'per_rotation': [], 'mean': None,
              'seconds_per_rotation': [], 'dataset': args.dataset, 'version': args.version,
              'command': 'python svm_baseline.py ' + ' '.join(argv if argv is not None
                                                              else sys.argv[1:])}
    result.update(_finished(args.out, result))
    for rotation in args.rotations:
        if rotation in result['rotations']:
            pfam_loader.log(f'rotation {rotation}: done before ({args.out})')
            continue
        dat = pfam_loader.load_rotation(args.dataset, rotation, args.version)
        accuracy, took = evaluate_rotation(dat, args.k, args.jobs)
        for key, value in (('rotations', rotation), ('per_rotation', accuracy),
                           ('seconds_per_rotation', round(took, 1))):
            result[key].append(value)
        result['mean'] = float(np.mean(result['per_rotation']))
        # after every rotation: an interrupted run keeps what it finished and resumes there
        fileio.atomic_write(args.out, lambda f: json.dump(result, f, indent=1), 'w')
        pfam_loader.log(f'rotation {rotation}: test accuracy {accuracy:.4f} ({took:.0f} s)')
    print(f'{result["name"]}: mean test accuracy {result["mean"]:.4f} over rotations '
          f'{result["rotations"]}; wrote {args.out}')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

"""Accuracy of the committed course-scale models on a sample of their own training folds, as
they are (no substitution), beside their validation and test accuracy: how much of the gap to
the training data is fitting and how much is generalising.

    python results/tuning/2026-12-01_course_probes/clean_training_accuracy.py [rnn gru mha]

Reads data/course_scale (version C, rotation 0) and results/course_scale/{type}_rot0.*; writes
clean_training_accuracy.json beside this script.
"""
import json
import os
import sys

sys.path.insert(0, os.getcwd())

import keras  # noqa: E402
import numpy as np  # noqa: E402

import network  # noqa: E402,F401  (registers the suite's layers)
import pfam_loader  # noqa: E402

SAMPLE = 10_000


def main(types):
    dat = pfam_loader.load_rotation('data/course_scale', 0, 'C')
    sample = np.random.default_rng(0).choice(len(dat['ins_train']), SAMPLE, replace=False)
    found = {}
    for kind in types:
        stem = f'results/course_scale/{kind}_rot0'
        model = keras.models.load_model(f'{stem}.keras', compile=False)
        probabilities = network.predict_probabilities(model, dat['ins_train'][sample], batch=128,
                                                      growth=pfam_loader.BUCKET_GROWTH)
        with open(f'{stem}_meta.json') as f:
            meta = json.load(f)
        log = np.genfromtxt(f'{stem}_log.csv', delimiter=',', names=True)
        found[kind] = {
            'clean_training_accuracy': float(np.mean(
                probabilities.argmax(axis=1) == dat['outs_train'][sample, 0])),
            'training_accuracy_last_pass': float(log['sparse_categorical_accuracy'][-1]),
            'validation_accuracy_best': float(log['val_sparse_categorical_accuracy'].max()),
            'test_accuracy': meta['test_accuracy']}
        print(kind, found[kind], flush=True)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'clean_training_accuracy.json')
    with open(out, 'w') as f:
        json.dump({'sample': SAMPLE, 'models': found}, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1:] or ['rnn', 'gru', 'mha'])

"""Compact result pickles: results/course_scale keeps each run's test predictions as its top 3
classes and probabilities (``predict_test`` None, ``predict_test_top``), and every reader of
``predict_test`` (figures.py, ensembles.py) still gives the run's own test accuracy."""
import glob
import os

import numpy as np
import pytest

import ensembles
import figures
import job_control
from conftest import ROOT, complete_result

COMPACT = sorted(glob.glob(os.path.join(ROOT, 'results', 'course_scale', '*_results.pkl')))


def _compact(result, k=3):
    """``result`` with ``predict_test`` replaced by its top ``k`` classes (int16) and
    probabilities (float16), as the committed course-scale pickles hold them."""
    full = np.asarray(result['predict_test'], dtype=np.float32)
    classes = np.argsort(-full, axis=1, kind='stable')[:, :k]
    top = {'classes': classes.astype(np.int16),
           'probabilities': np.take_along_axis(full, classes, axis=1).astype(np.float16)}
    return {**result, 'predict_test': None, 'predict_test_top': top}


def test_both_forms_give_the_same_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 12)) * 3
    full = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    full[:5, :2] = 0.5, 0.49995          # a tie once rounded to float16: the order must hold
    result = complete_result(predict_test=full, class_names=[f'PF{i:05d}.1' for i in range(12)])
    compact = _compact(result)
    assert np.array_equal(figures.predicted_classes(compact), full.argmax(axis=1))
    assert np.array_equal(figures.predicted_classes(result), full.argmax(axis=1))
    dense = ensembles.result_probabilities(compact)
    assert dense.shape == full.shape and np.array_equal(dense.argmax(axis=1), full.argmax(axis=1))
    top3 = np.sort(full, axis=1)[:, -3:].sum(axis=1)
    np.testing.assert_allclose(dense.sum(axis=1), top3, atol=2e-3)


@pytest.mark.parametrize('path', COMPACT, ids=os.path.basename)
def test_committed_compact_results_give_their_test_accuracy(path):
    result, problem = job_control.read_result(path)
    assert problem is None, problem
    assert result['predict_test'] is None and result['predict_test_top']['classes'].shape[1] == 3
    labels = result['outs_test'][:, 0]
    for predicted in (figures.predicted_classes(result),
                      ensembles.result_probabilities(result).argmax(axis=1)):
        assert np.mean(predicted == labels) == pytest.approx(result['test_accuracy'], abs=1e-12)

"""Compact runs (``--compact``, as results/course_scale keeps them): each run's test predictions
as its top 3 classes and probabilities (``predict_test`` None, ``predict_test_top``), every
reader of ``predict_test`` (figures.py, ensembles.py) still gives the run's own test accuracy,
and the model is published without its optimizer state."""
import glob
import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import ensembles
import figures
import hw6_base
import job_control
import network
import pfam_loader
from conftest import ROOT, complete_result, driver_args

COMPACT = sorted(glob.glob(os.path.join(ROOT, 'results', 'course_scale', '*_results.pkl')))


def test_both_forms_give_the_same_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 12)) * 3
    full = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    full[:5, :2] = 0.5, 0.49995          # a tie once rounded to float16: the order must hold
    result = complete_result(predict_test=full, class_names=[f'PF{i:05d}.1' for i in range(12)])
    compact = hw6_base.compact_predictions(result)
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


@pytest.mark.slow
def test_a_compact_run_publishes_its_top_predictions_and_a_model_that_predicts(demo_dir,
                                                                               tmp_path):
    assert hw6_base.main(driver_args(demo_dir, tmp_path, '--epochs', '2', '--steps_per_epoch',
                                     '3', '--compact')) == 0
    result, problem = job_control.read_result(str(tmp_path / 'gru_rot0_results.pkl'))
    assert problem is None, problem
    top = result['predict_test_top']
    assert result['predict_test'] is None and top['classes'].shape == (len(result['outs_test']), 3)
    assert top['classes'].dtype == np.int16 and top['probabilities'].dtype == np.float16
    assert np.all(np.diff(top['probabilities'].astype(np.float32), axis=1) <= 0)
    assert result['predict_test_note'].startswith(f'top 3 classes and probabilities (float16) '
                                                  f'of the {len(result["outs_test"])} x 6 ')

    with zipfile.ZipFile(tmp_path / 'gru_rot0.keras') as archive, \
            h5py.File(io.BytesIO(archive.read('model.weights.h5'))) as weights:
        assert 'optimizer' not in weights                           # saved without its state
    model = network.load_model(str(tmp_path / 'gru_rot0.keras'))
    assert not model.compiled
    with open(tmp_path / 'gru_rot0_meta.json') as f:
        assert network.model_fingerprint(model) == json.load(f)['fingerprint']
    dat = pfam_loader.load_rotation(demo_dir, 0, 'T')
    probabilities = network.predict_probabilities(model, dat['ins_test'])
    assert np.array_equal(probabilities.argmax(axis=1), top['classes'][:, 0])
    np.testing.assert_allclose(np.sort(probabilities, axis=1)[:, ::-1][:, :3],
                               top['probabilities'], rtol=2e-3, atol=1e-4)
    assert result['test_accuracy'] == pytest.approx(
        np.mean(top['classes'][:, 0] == dat['outs_test'][:, 0]), abs=1e-12)

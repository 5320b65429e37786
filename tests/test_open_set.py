"""predict.py's "none of these families": the NumPy MHA model (numpy_model), the profile check
(profile_check), the committed default model file, hmmer_baseline.py's scan mode."""
import csv
import json
import os
import random
import shutil

import numpy as np
import pytest

import artefacts
import fileio
import network
import numpy_model
import predict
import profile_check
from conftest import ROOT, run_cli

needs_pyhmmer = pytest.mark.skipif(
    __import__('importlib').util.find_spec('pyhmmer') is None, reason='pyhmmer not installed')
RESIDUES = 'ACDEFGHIKLMNPQRSTVWY'


def _random_sequences(n, seed, low=1, high=90):
    rng = random.Random(seed)
    return [''.join(rng.choice(RESIDUES) for _ in range(rng.randint(low, high)))
            for _ in range(n)]


def _meta(n_classes):
    meta = {'class_names': [f'PF{i:05d}.1' for i in range(n_classes)], 'len_min': 1,
            'len_max': 90, 'fingerprint': 'x'}
    meta[fileio.CONTENT_HASH_KEY] = fileio.content_hash(meta)
    return meta


def _perturbed(model, seed):
    """``model`` with normal noise (sd 0.3) added to every weight, so no weight is trivial."""
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope='module')
def small_mha():
    """An untrained small MHA model (2 attention modules, feed-forward, 2 dense layers) with
    non-trivial weights, exported: (keras model, NumpyModel)."""
    return _perturbed(network.small_test_model('mha', n_classes=5, attention_heads=[2, 2],
                                               feed_forward=12, dense_units=[16, 8],
                                               pool_sizes=[2, 3]), seed=0)


def test_numpy_forward_pass_matches_keras(small_mha, tmp_path):
    """Every length from 1 residue up, lower-case letters included: the same probabilities."""
    path = numpy_model.export(small_mha, _meta(5), str(tmp_path / 'm.npz'))
    light = numpy_model.NumpyModel.load(path)
    sequences = _random_sequences(60, seed=1) + ['A', 'mkv', 'W' * 200]
    probabilities, features = light.predict(sequences, batch_residues=256)
    expected = network.predict_probabilities(small_mha, predict.pfam_loader.encode(sequences))
    assert np.abs(probabilities - expected).max() < 1e-5
    assert features.shape == (len(sequences), 8)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)


def test_numpy_forward_pass_keeps_a_smoother_positional_encoding(tmp_path):
    """A model whose encoding has ``positional_min_wavelength`` 6 (and a shorter max): the NumPy
    model adds the same sinusoids, so the same probabilities."""
    model = _perturbed(network.small_test_model('mha', n_classes=5, positional_max_wavelength=500.0,
                                                positional_min_wavelength=6.0), seed=1)
    light = numpy_model.NumpyModel.load(numpy_model.export(model, _meta(5),
                                                           str(tmp_path / 'm.npz')))
    assert light.architecture['min_wavelength'] == 6.0
    sequences = _random_sequences(30, seed=2, high=200)
    probabilities, _ = light.predict(sequences, batch_residues=256)
    expected = network.predict_probabilities(model, predict.pfam_loader.encode(sequences))
    assert np.abs(probabilities - expected).max() < 1e-5


def test_export_round_trip_and_bad_files(small_mha, tmp_path):
    meta = _meta(5)
    path = numpy_model.export(small_mha, meta, str(tmp_path / 'm.npz'),
                              open_set={'thresholds': [1.0] * 5, 'unfiltered': [2]},
                              profiles=b'HMMER3/f text')
    light = numpy_model.NumpyModel.load(path)
    assert light.meta == meta and light.class_names == meta['class_names']
    assert light.open_set == {'thresholds': [1.0] * 5, 'unfiltered': [2]}
    assert light.profiles == b'HMMER3/f text'
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='not a NumPy model written by open_set.py'):
        numpy_model.NumpyModel.load(str(tmp_path / 'junk.npz'))
    with pytest.raises(ValueError, match='not an MHA model'):
        numpy_model.export(network.small_test_model('gru'), meta, str(tmp_path / 'g.npz'))


def test_thresholds_balance_lost_family_members_against_others_let_in():
    """Class 0: a clean gap between its members (20+ bits) and the others predicted as it
    (5 bits or less): the threshold stays at the default 10. Class 1: members at 1..8 bits and
    one other at 3 bits: losing one member (1 bit) costs less than letting the other in."""
    scores = np.array([20, 25, 30, 1, 4, 8], float)
    labels = np.array([0, 0, 0, 1, 1, 1])
    thresholds = profile_check.calibrate_thresholds(
        scores, np.ones(6, bool), labels, np.array([5.0, 3.0, -2.0]), np.array([0, 1, 1]), 2,
        weight=4.0)
    assert thresholds[0] == 10.0
    assert 3.0 < thresholds[1] <= 4.0


def test_other_families_split_by_accession_number():
    even = profile_check.other_sequences(held_out=False)
    odd = profile_check.other_sequences(held_out=True)
    assert (len(even), len(odd)) == (4950, 5184)
    with fileio.open_text(profile_check.OTHERS) as handle:
        rows = list(csv.DictReader(handle))
    families = {row['family_accession'] for row in rows}
    benchmark = set(open(os.path.join(ROOT, 'data', 'pfam46', 'pfam46_families.txt')).read()
                    .split())
    assert len(families) == 354 and not families & benchmark
    assert profile_check.accession_number('PF00004.29') == 4


@needs_pyhmmer
def test_a_profile_scores_its_family_above_unrelated_sequences():
    rng = random.Random(3)
    ancestor = ''.join(rng.choice(RESIDUES) for _ in range(60))
    family = [''.join(c if rng.random() > 0.15 else rng.choice(RESIDUES) for c in ancestor)
              for _ in range(12)]
    profiles = profile_check.build_profiles(family + _random_sequences(12, seed=4, low=50),
                                            [0] * 12 + [1] * 12, ['PF00001.1', 'PF00002.1'])
    assert [p.name for p in profiles] in (['PF00001.1', 'PF00002.1'],
                                          [b'PF00001.1', b'PF00002.1'])
    member = ''.join(c if rng.random() > 0.15 else rng.choice(RESIDUES) for c in ancestor)
    scores = profile_check.family_scores(profiles, [member, _random_sequences(1, 9, 60)[0]],
                                         [0, 0], unfiltered=[0])
    assert scores[0] > 20 and scores[1] < 5
    families, evalues = profile_check.scan(profiles, [member])
    assert families == ['PF00001.1'] and evalues[0] < 1e-3
    again = profile_check.profiles_from_bytes(profile_check.profiles_to_bytes(profiles))
    assert len(again) == 2


def _committed_table(tmp_path, *extra):
    """predict.py's default on two test-fold sequences of rotation 0 and a shuffled copy of
    each (the committed model file)."""
    table = os.path.join(ROOT, 'data', 'pfam46', 'pfam46_seed.csv.gz')
    with fileio.open_text(table) as handle:
        rows = [row for _, row in zip(range(400), csv.DictReader(handle))]
    picked = [rows[0], rows[200]]
    rng = random.Random(0)
    shuffled = [''.join(rng.sample(row['sequence'], len(row['sequence']))) for row in picked]
    fasta = tmp_path / 'in.fa'
    fasta.write_text(''.join(f'>{name}\n{sequence}\n' for name, sequence in zip(
        ['a', 'b', 'shuffled_a', 'shuffled_b'],
        [picked[0]['sequence'], picked[1]['sequence'], *shuffled])))
    out = tmp_path / 'out.csv'
    done = run_cli('predict.py', '--input', str(fasta), '--out', str(out), *extra)
    assert done.returncode == 0, done.stderr
    with open(out) as handle:
        return [picked[0]['family_accession'], picked[1]['family_accession']], \
            list(csv.DictReader(handle)), done.stderr


@needs_pyhmmer
def test_the_default_names_family_members_and_none_for_shuffled_sequences(tmp_path):
    truth, table, stderr = _committed_table(tmp_path)
    default = table
    assert [row['family'] for row in table] == truth + ['none', 'none']
    assert [row['network_family'] for row in table[:2]] == truth
    assert float(table[0]['score']) > 0 > float(table[2]['score'])
    assert '2 of them none' in stderr
    _, table, _ = _committed_table(tmp_path, '--threshold=-inf')
    assert 'none' not in [row['family'] for row in table]
    _, full, _ = _committed_table(tmp_path, '--full_scores')
    assert [row['family'] for row in full] == truth + ['none', 'none']
    assert all(np.isfinite(float(row['score'])) for row in full[:2])
    for fast, exact in zip(default, full):      # inf only where the full score passes
        assert float(fast['score']) == float(exact['score']) or float(exact['score']) > 0


@needs_pyhmmer
def test_a_saturated_msv_filter_skips_the_full_search_of_strong_hits_only():
    """A long family member saturates HMMER's MSV filter against its profile and gets +inf
    with skip_saturated; an unrelated sequence does not, and keeps its full score."""
    rng = random.Random(5)
    ancestor = ''.join(rng.choice(RESIDUES) for _ in range(300))
    family = [''.join(c if rng.random() > 0.1 else rng.choice(RESIDUES) for c in ancestor)
              for _ in range(8)]
    profiles = profile_check.build_profiles(family, [0] * 8, ['PF00001.1'])
    member = ''.join(c if rng.random() > 0.1 else rng.choice(RESIDUES) for c in ancestor)
    unrelated = _random_sequences(1, 11, 300, 300)[0]
    assert profile_check.saturated(profiles, [member, unrelated], [0, 0]).tolist() == [True,
                                                                                      False]
    full = profile_check.family_scores(profiles, [member, unrelated], [0, 0], unfiltered=[0])
    fast = profile_check.family_scores(profiles, [member, unrelated], [0, 0], unfiltered=[0],
                                       skip_saturated=True)
    assert full[0] > 100 and fast[0] == np.inf and fast[1] == full[1] < 5


def test_threshold_with_a_keras_model_and_bad_min_probability_are_one_line_errors(tmp_path):
    fasta = tmp_path / 'in.fa'
    fasta.write_text('>a\nMKV\n')
    for extra, message in (
            (['--model', os.path.join(ROOT, 'results', 'pfam46', 'mha_rot0.keras'),
              '--threshold', '2'], '--threshold goes with a .npz model'),
            (['--model', os.path.join(ROOT, 'results', 'pfam46', 'mha_rot0.keras'),
              '--full_scores'], '--full_scores goes with a .npz model'),
            (['--min_probability', '2'], '--min_probability must be in [0, 1]'),
            (['--model', str(tmp_path / 'missing.npz')], 'no such model file')):
        done = run_cli('predict.py', '--input', str(fasta), *extra)
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_open_set_refuses_edited_metadata_before_it_writes_anything(tmp_path):
    """A class name renamed in the model's _meta.json (its meta_hash kept): one line, exit 2,
    the message and remedy of predict.py, and no model file or report written."""
    source = os.path.join(ROOT, 'results', 'pfam46', 'mha_rot0')
    model = tmp_path / 'mha_rot0.keras'
    shutil.copy(source + '.keras', model)
    with open(source + '_meta.json') as handle:
        meta = json.load(handle)
    meta['class_names'][0] = meta['class_names'][1] + 'x'
    (tmp_path / 'mha_rot0_meta.json').write_text(json.dumps(meta))
    out, report = tmp_path / 'open_set.npz', tmp_path / 'report'
    done = run_cli('open_set.py', '--model', str(model), '--out', str(out), '--report', str(report))
    assert done.returncode == 2, done.stderr
    assert 'its content does not match its meta_hash' in done.stderr
    assert artefacts.RECOPY in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not out.exists() and not report.exists()


def test_top_k_table_writes_none_below_the_threshold():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], np.float32)
    header, rows = predict.top_k_table(['x', 'y', 'z'], probabilities, ['F1', 'F2'], 1,
                                       ['', '', 'short'], scores=np.array([3.0, -1.0, 0.0]),
                                       threshold=0.0, min_probability=0.7)
    assert header == ['id', 'family', 'probability', 'network_family', 'score', 'note']
    assert [row[1] for row in rows] == ['F1', 'none', 'F2']
    assert rows[1] == ['y', 'none', '0.600000', 'F1', '-1.0', '']


@needs_pyhmmer
def test_hmmer_scan_mode_and_its_errors(tmp_path):
    light = numpy_model.NumpyModel.load(numpy_model.DEFAULT_FILE)
    hmms = tmp_path / 'p.hmm'
    hmms.write_bytes(light.profiles)
    fasta = tmp_path / 'in.fa'
    fasta.write_text('>r\n' + _random_sequences(1, 5, 80, 80)[0] + '\n')
    done = run_cli('hmmer_baseline.py', '--hmms', str(hmms), '--input', str(fasta))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == 'id,family,evalue'
    assert done.stdout.splitlines()[1].startswith('r,none,')
    done = run_cli('hmmer_baseline.py', '--hmms', str(tmp_path / 'no.hmm'), '--input', str(fasta))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_the_committed_model_file_records_its_calibration():
    light = numpy_model.NumpyModel.load(numpy_model.DEFAULT_FILE)
    assert len(light.open_set['thresholds']) == len(light.class_names) == 46
    assert light.open_set['rotation'] == 0 and light.meta['rotation'] == 0
    with open(os.path.join(ROOT, 'results', 'open_set', 'open_set.json')) as handle:
        report = json.load(handle)
    assert report['in_family_right'] >= 0.99 and report['others_assigned'] <= 0.005

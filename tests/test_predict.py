"""predict.py: input formats, round trip against the model, bad input; bench.py quick mode."""
import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import hw6_base
import network
import pfam_loader
import predict
from conftest import ROOT
from test_driver import _args


@pytest.fixture(scope='module')
def trained(demo_dir, tmp_path_factory):
    """A tiny GRU trained for a few steps on the demo rotation 0: (model path, rotation dict)."""
    results = tmp_path_factory.mktemp('predict_results')
    assert hw6_base.main(_args(demo_dir, results, '--epochs', '2', '--steps_per_epoch', '5')) == 0
    return str(results / 'gru_rot0.keras'), pfam_loader.load_rotation(demo_dir, 0, 'T')


def _fasta(path, dat, n=30):
    with open(path, 'w') as f:
        for i, row in enumerate(dat['ins_test'][:n]):
            sequence = pfam_loader.decode(row)
            f.write(f'>seq{i} some description\n')
            for start in range(0, len(sequence), 60):           # wrapped at 60, FASTA style
                f.write(sequence[start:start + 60] + '\n')
    return str(path)


def test_fasta_multiline_records_are_joined(tmp_path, demo_rotation):
    path = _fasta(tmp_path / 'x.fa', demo_rotation, n=3)
    records = predict.read_sequences(path)
    assert [r[0] for r in records] == ['seq0', 'seq1', 'seq2']
    assert [r[1] for r in records] == [pfam_loader.decode(r) for r in
                                       demo_rotation['ins_test'][:3]]


def test_csv_and_plain_text_inputs(tmp_path):
    (tmp_path / 'a.csv').write_text('id,sequence\nx1,ACDE\nx2,MKV\n')
    assert predict.read_sequences(str(tmp_path / 'a.csv')) == [('x1', 'ACDE'), ('x2', 'MKV')]
    (tmp_path / 'a.txt').write_text('ACDE\n\nmkv\n')
    assert predict.read_sequences(str(tmp_path / 'a.txt')) == [('line1', 'ACDE'), ('line2', 'mkv')]


def test_predictions_match_the_model_and_its_meta(trained, tmp_path):
    model_path, dat = trained
    out = tmp_path / 'preds.csv'
    assert predict.main(['--model', model_path, '--input', _fasta(tmp_path / 'x.fa', dat),
                         '--out', str(out), '--top_k', '3', '--batch', '7']) == 0
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ['id', 'family', 'probability', 'family_2', 'probability_2',
                             'family_3', 'probability_3']
    model = keras.models.load_model(model_path)
    probabilities = network.predict_probabilities(model, dat['ins_test'][:30])
    names = json.load(open(predict.meta_path(model_path)))['class_names']
    assert names == [dat['out_index_word'][i] for i in range(dat['n_classes'])]
    assert [r['family'] for r in rows] == [names[i] for i in probabilities.argmax(axis=1)]
    np.testing.assert_allclose([float(r['probability']) for r in rows],
                               probabilities.max(axis=1), atol=1e-5)
    assert all(float(r['probability']) >= float(r['probability_2']) >= float(r['probability_3'])
               for r in rows)


def _cli(*argv):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), *argv],
                          capture_output=True, text=True, cwd=ROOT)


def test_a_bad_record_is_skipped_by_id_unless_strict(trained, tmp_path):
    model_path, _ = trained
    path = tmp_path / 'mixed.fa'
    path.write_text('>good1\nACDEFGHIKL\n>bad1\nACD*EF\n>good2\nMKVLAAGIV\n')
    result = _cli('--model', model_path, '--input', str(path))
    assert result.returncode == 0
    assert [line.split(',')[0] for line in result.stdout.splitlines()] == ['id', 'good1', 'good2']
    assert 'skipping sequence bad1' in result.stderr and 'sequences/s' in result.stderr
    strict = _cli('--model', model_path, '--input', str(path), '--strict')
    assert strict.returncode == 2 and 'bad1' in strict.stderr and 'Traceback' not in strict.stderr


@pytest.mark.parametrize('content, message', [
    ('', 'empty input'),
    ('\x00\x01binary\x00', 'no valid sequence'),
    ('>only\n1234\n', 'no valid sequence'),
])
def test_bad_input_exits_2(trained, tmp_path, content, message):
    model_path, _ = trained
    path = tmp_path / 'in.txt'
    path.write_text(content)
    result = _cli('--model', model_path, '--input', str(path))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr


def test_missing_model_exits_2(tmp_path):
    (tmp_path / 'x.txt').write_text('ACDE\n')
    result = _cli('--model', str(tmp_path / 'nope.keras'), '--input', str(tmp_path / 'x.txt'))
    assert result.returncode == 2 and 'no such model file' in result.stderr


def test_bench_quick_mode_reports_every_type(tmp_path):
    import bench
    out = tmp_path / 'bench.json'
    assert bench.main(['--quick', '--types', 'gru', 'mha', '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert [m['model_type'] for m in report['models']] == ['gru', 'mha']
    for row in report['models']:
        assert row['train_bucketed_samples_per_s'] > 0 and row['train_padded_samples_per_s'] > 0
        assert row['bucketed_over_padded'] == pytest.approx(
            row['train_bucketed_samples_per_s'] / row['train_padded_samples_per_s'], rel=0.02)
        assert row['inference_sequences_per_s'] > 0 and row['inference_sequences'] == 100
    assert '| gru |' in (tmp_path / 'bench.md').read_text()

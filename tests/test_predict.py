"""predict.py: input formats, round trip against the model, bad input."""
import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import artefacts
import fileio
import network
import pfam_loader
import predict
from conftest import REPEATED, ROOT


@pytest.fixture(scope='module')
def trained(trained, demo_dir, tmp_path_factory):
    """A tiny GRU trained for a few steps on the demo rotation 0 (a copy of the run the tests
    folder's `trained` shares): (model path, rotation dict)."""
    results = trained(REPEATED, None, tmp_path_factory.mktemp('predict') / 'results')
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


def test_fasta_records_read_as_biopython_reads_them():
    """The FASTA reader without Biopython: the records and titles SimpleFastaParser gives for
    wrapped, blank-line, CRLF, space-holding and empty records."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser
    import io
    text = ('>a first record\nACDE\nFGHI\n\n>b\r\nMK VL\r\nAA\r\n>\nWY\n>c only a title\n'
            '>d\n\n\nKLM\n')
    assert predict.fasta_records(text) == list(SimpleFastaParser(io.StringIO(text)))
    assert predict.fasta_records('>x') == [('x', '')]


def test_the_default_path_imports_no_pandas_biopython_or_tensorflow(tmp_path):
    """predict.py's default (NumPy network, profile check) runs without importing the heavy
    libraries it does not need: their import costs more CPU than the whole check."""
    fasta = tmp_path / 'in.fa'
    fasta.write_text('>a\nMKVLAAGIVLLAAGCSKLMNPQRSTVWYACDEFGHIK\n')
    code = ('import sys, predict; assert predict.main(["--input", sys.argv[1], "--out", '
            'sys.argv[2]]) == 0; print(sorted({m.split(".")[0] for m in sys.modules} & '
            '{"pandas", "Bio", "tensorflow", "keras", "scipy", "matplotlib"}))')
    done = subprocess.run([sys.executable, '-c', code, str(fasta), str(tmp_path / 'o.csv')],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[]'


def test_csv_and_plain_text_inputs(tmp_path):
    (tmp_path / 'a.csv').write_text('id,sequence\nx1,ACDE\nx2,MKV\n')
    assert predict.read_sequences(str(tmp_path / 'a.csv')) == [('x1', 'ACDE'), ('x2', 'MKV')]
    (tmp_path / 'a.txt').write_text('ACDE\n\nmkv\n')
    assert predict.read_sequences(str(tmp_path / 'a.txt')) == [('line1', 'ACDE'), ('line2', 'mkv')]
    # the course's fold CSVs (and the suite's) call the column "string"
    (tmp_path / 'fold.csv').write_text('string,label\nACDE,PF00001.1\nMKV,PF00002.1\n')
    assert predict.read_sequences(str(tmp_path / 'fold.csv')) == [('row1', 'ACDE'),
                                                                   ('row2', 'MKV')]


@pytest.mark.slow
def test_predictions_match_the_model_and_its_meta(trained, tmp_path):
    model_path, dat = trained
    out = tmp_path / 'new' / 'folder' / 'preds.csv'                 # created when missing
    assert predict.main(['--model', model_path, '--input', _fasta(tmp_path / 'x.fa', dat),
                         '--out', str(out), '--top_k', '3', '--batch', '7']) == 0
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ['id', 'family', 'probability', 'family_2', 'probability_2',
                             'family_3', 'probability_3', 'note']
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


@pytest.mark.slow
def test_a_bad_record_is_skipped_by_id_unless_strict(trained, tmp_path, capsys):
    model_path, _ = trained
    path = tmp_path / 'mixed.fa'
    path.write_text('>good1\nACDEFGHIKL\n>bad1\nACD*EF\n>good2\nMKVLAAGIV\n')
    # in process (a real prediction from the command line: test_bom_fasta_and_truncated_gzip...)
    assert predict.main(['--model', model_path, '--input', str(path)]) == 0
    result = capsys.readouterr()
    assert [line.split(',')[0] for line in result.out.splitlines()] == ['id', 'good1', 'good2']
    assert 'skipping sequence bad1' in result.err and 'sequences/s' in result.err
    assert predict.main(['--model', model_path, '--input', str(path), '--strict']) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith('predict.py: error: ') and 'bad1' in line


def test_many_bad_records_are_named_up_to_a_limit_then_counted(capsys):
    records = [(f'bad{i}', 'AC*') for i in range(25)] + [('good', 'ACDE')]
    assert predict.select_records(records) == (['good'], ['ACDE'])
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == predict.REPORTED_SKIPS + 1
    assert 'bad9' in lines[-2] and 'skipped 25 records in all' in lines[-1]


@pytest.mark.parametrize('content, message', [
    ('', 'empty input'),
    ('name,residues\nx,ACDE\n', 'a CSV with a header naming a sequence or string column'),
    ('\x00\x01binary\x00', 'no valid sequence'),
    ('>only\n1234\n', 'no valid sequence'),
])
@pytest.mark.slow
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


# ---------------------------------------------------------------- refuse early
def _lines(text):
    return [line for line in text.splitlines() if line.startswith('predict.py')]


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if predict.py gets as far as loading the model."""
    def refuse(path):
        raise AssertionError(f'the model {path} was loaded before the error')
    monkeypatch.setattr(network, 'load_model', refuse)


@pytest.mark.slow
def test_unwritable_out_fails_before_the_model_is_loaded(trained, tmp_path, capsys,
                                                         no_model_loading):
    model_path, _ = trained
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    (tmp_path / 'a_file').write_text('not a folder\n')
    argv = ['--model', model_path, '--input', str(tmp_path / 'x.txt')]
    assert predict.main(argv + ['--out', str(tmp_path / 'a_file' / 'sub' / 'p.csv')]) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: --out {tmp_path / "a_file" / "sub" / "p.csv"}: '
        f'{tmp_path / "a_file"} is a file, not a directory']
    assert predict.main(argv + ['--out', str(tmp_path)]) == 2
    assert _lines(capsys.readouterr().err) == [f'predict.py: error: --out {tmp_path}: is a '
                                               'directory']
    if os.geteuid() != 0:                                 # root writes anywhere
        locked = tmp_path / 'locked'
        locked.mkdir(mode=0o500)
        assert predict.main(argv + ['--out', str(locked / 'p.csv')]) == 2
        assert 'cannot write in' in capsys.readouterr().err


@pytest.mark.slow
def test_out_to_a_fifo_or_device_writes_into_it(trained, tmp_path):
    """``--out /dev/stdout`` or a fifo is written into, never replaced by a regular file."""
    import stat
    import threading
    model_path, _ = trained
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    fifo = tmp_path / 'pipe'
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()), daemon=True)
    reader.start()
    assert predict.main(['--model', model_path, '--input', str(tmp_path / 'x.txt'),
                         '--out', str(fifo)]) == 0
    reader.join(timeout=30)
    assert received[0].splitlines()[0] == 'id,family,probability,note'
    assert received[0].splitlines()[1].startswith('line1,DEMO')
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize('spelling', ['same', 'dotdot', 'symlink', 'hardlink'])
@pytest.mark.slow
def test_out_equal_to_the_input_is_refused(trained, tmp_path, capsys, no_model_loading,
                                           spelling):
    model_path, _ = trained
    (tmp_path / 'd').mkdir()
    source = tmp_path / 'd' / 'in.fa'
    source.write_text('>a\nACDEFGHIKL\n')
    out = {'same': source, 'dotdot': tmp_path / 'd' / '..' / 'd' / 'in.fa',
           'symlink': tmp_path / 'link.fa', 'hardlink': tmp_path / 'hard.fa'}[spelling]
    if spelling == 'symlink':
        out.symlink_to(source)
    elif spelling == 'hardlink':
        os.link(source, out)
    assert predict.main(['--model', model_path, '--input', str(source), '--out', str(out)]) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: --out {out} is the input file {source}; refusing to overwrite it']
    assert source.read_text() == '>a\nACDEFGHIKL\n'


@pytest.mark.slow
def test_out_equal_to_the_model_or_its_meta_is_refused(trained, tmp_path, capsys,
                                                       no_model_loading):
    model_path, _ = trained
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    before = open(model_path, 'rb').read()
    for out, what in ((model_path, 'model'), (predict.meta_path(model_path), 'metadata')):
        assert predict.main(['--model', model_path, '--input', str(tmp_path / 'x.txt'),
                             '--out', out]) == 2
        assert f'is the {what} file' in capsys.readouterr().err
    assert open(model_path, 'rb').read() == before


# ---------------------------------------------------------------- corrupt model, wrong meta
def _copy_model(model_path, directory, name, content=None, meta=None):
    """A copy of the model (or ``content`` in its place) with its metadata (or ``meta``)."""
    path = directory / f'{name}.keras'
    path.write_bytes(open(model_path, 'rb').read() if content is None else content)
    if meta is None:
        meta = json.load(open(predict.meta_path(model_path)))
    (directory / f'{name}_meta.json').write_text(json.dumps(meta))
    return str(path)


def _junk_weights(model_path):
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(model_path) as source, zipfile.ZipFile(buffer, 'w') as target:
        for name in source.namelist():
            target.writestr(name, b'junk' if name.endswith('.h5') else source.read(name))
    return buffer.getvalue()


@pytest.mark.parametrize('damage, reason', [
    ('empty', 'an empty file'),
    ('truncated', 'not a zip archive, {size:,} bytes: truncated?'),
    ('junk_weights', 'OSError: Unable to synchronously open file (file signature not found)'),
])
@pytest.mark.slow
def test_a_corrupt_model_is_a_one_line_error(trained, tmp_path, capsys, damage, reason):
    model_path, _ = trained
    whole = open(model_path, 'rb').read()
    content = {'empty': b'', 'truncated': whole[:len(whole) // 2],
               'junk_weights': _junk_weights(model_path)}[damage]
    path = _copy_model(model_path, tmp_path, damage, content)
    with pytest.raises(ValueError) as raised:
        network.load_model(path)
    message = (f'{path}: not a readable Keras model ({reason.format(size=len(content))}); '
               'retrain or re-copy it')
    assert str(raised.value) == message and 'File not found' not in message
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    assert predict.main(['--model', path, '--input', str(tmp_path / 'x.txt')]) == 2
    assert _lines(capsys.readouterr().err) == [f'predict.py: error: {message}']


@pytest.mark.slow
def test_a_truncated_model_from_the_command_line(trained, tmp_path):
    model_path, _ = trained
    whole = open(model_path, 'rb').read()
    path = _copy_model(model_path, tmp_path, 'cut', whole[:1000])
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    result = _cli('--model', path, '--input', str(tmp_path / 'x.txt'))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert _lines(result.stderr) == [f'predict.py: error: {path}: not a readable Keras model '
                                     '(not a zip archive, 1,000 bytes: truncated?); retrain or '
                                     're-copy it']
    with pytest.raises(FileNotFoundError, match='no such model file'):
        network.load_model(str(tmp_path / 'absent.keras'))


def _predict_with_changed_meta(model_path, tmp_path, name, **changes):
    """predict.py's status with the model's meta changed by ``changes`` and sealed again (as a
    meta written for another model is), saved as ``name``."""
    meta = {**json.load(open(predict.meta_path(model_path))), **changes}
    meta[fileio.CONTENT_HASH_KEY] = fileio.content_hash(meta)
    (tmp_path / name).write_text(json.dumps(meta))
    (tmp_path / 'x.txt').write_text('ACDEFGHIKL\n')
    return predict.main(['--model', model_path, '--input', str(tmp_path / 'x.txt'),
                         '--meta', str(tmp_path / name)])


@pytest.mark.slow
def test_a_meta_with_another_class_count_is_refused(trained, tmp_path, capsys):
    model_path, _ = trained
    names = json.load(open(predict.meta_path(model_path)))['class_names']
    assert _predict_with_changed_meta(model_path, tmp_path, 'short_meta.json',
                                      class_names=names[:-1]) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: {tmp_path / "short_meta.json"}: 5 class names but {model_path} has '
        '6 outputs; the metadata belongs to another model']


@pytest.mark.parametrize('vocabulary', [None, 'ARNDCQEGHILKMFPSTWYV'])
@pytest.mark.slow
def test_a_meta_with_another_letter_map_is_refused(trained, tmp_path, capsys, no_model_loading,
                                                   vocabulary):
    model_path, _ = trained
    assert json.load(open(predict.meta_path(model_path)))['vocabulary'] == pfam_loader.VOCABULARY
    assert _predict_with_changed_meta(model_path, tmp_path, 'meta.json',
                                      vocabulary=vocabulary) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: {tmp_path / "meta.json"}: the model was trained on tokens of the '
        f'letter map {vocabulary!r} (None: unknown, course pickles alone), not '
        f'{pfam_loader.VOCABULARY!r}; its predictions would be meaningless']


@pytest.mark.slow
def test_fingerprint_survives_saving_and_tells_models_apart(trained, tmp_path):
    model_path, _ = trained
    model = network.load_model(model_path)
    fingerprint = network.model_fingerprint(model)
    assert fingerprint.startswith('6:') and len(fingerprint) == 2 + 16
    model.save(tmp_path / 'again.keras')
    assert network.model_fingerprint(network.load_model(str(tmp_path / 'again.keras'))) == \
        fingerprint
    network.predict_probabilities(model, np.ones((2, 30), dtype=np.uint8))    # no state change
    assert network.model_fingerprint(model) == fingerprint
    other = keras.models.clone_model(model)                    # same shapes, other weights
    assert network.model_fingerprint(other) not in (fingerprint, None)
    weights = model.get_weights()
    weights[-1] = weights[-1] + 1e-6                           # one bias nudged
    other.set_weights(weights)
    assert network.model_fingerprint(other) != fingerprint


@pytest.mark.slow
def test_a_meta_bound_to_another_model_is_refused(trained, tmp_path, capsys):
    model_path, dat = trained
    meta = json.load(open(predict.meta_path(model_path)))
    meta['fingerprint'] = network.model_fingerprint(network.load_model(model_path))
    own = _copy_model(model_path, tmp_path, 'own', meta=meta)
    other_model = network.small_test_model('gru', n_classes=len(meta['class_names']))
    other = str(tmp_path / 'other.keras')
    other_model.save(other)
    fasta = _fasta(tmp_path / 'x.fa', dat, n=5)
    assert predict.main(['--model', own, '--input', fasta]) == 0              # its own meta
    assert len(capsys.readouterr().out.splitlines()) == 6
    own_meta = predict.meta_path(own)
    assert predict.main(['--model', other, '--input', fasta, '--meta', own_meta]) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: {own_meta}: written for another model (fingerprint '
        f'{meta["fingerprint"]}, {other} has {network.model_fingerprint(other_model)}); use the '
        'metadata saved beside it']
    del meta['fingerprint']                       # nothing ties its names to a model: refused
    (tmp_path / 'old_meta.json').write_text(json.dumps(meta))
    assert predict.main(['--model', other, '--input', fasta,
                         '--meta', str(tmp_path / 'old_meta.json')]) == 2


# ---------------------------------------------------------------- duplicates, lengths
@pytest.mark.slow
def test_duplicate_ids_are_warned_about_once(trained, tmp_path, capsys):
    model_path, _ = trained
    (tmp_path / 'dup.fa').write_text('>a\nACDEFGHIKLMNPQRS\n>b\nMKVLAAGIVLLAAGCS\n'
                                     '>a\nMKVLAAGIVLLAAGCS\n>a\nACDEFGHIKLMNPQRS\n')
    assert predict.main(['--model', model_path, '--input', str(tmp_path / 'dup.fa')]) == 0
    captured = capsys.readouterr()
    assert [line.split(',')[0] for line in captured.out.splitlines()] == ['id', 'a', 'b', 'a', 'a']
    assert [line for line in captured.err.splitlines() if 'id' in line] == [
        "predict.py: warning: 2 record(s) repeat an earlier id (e.g. 'a'); each record gets its "
        'own row, in input order']


@pytest.mark.slow
def test_short_and_long_sequences_are_flagged_in_the_note_column(trained, tmp_path, capsys):
    model_path, _ = trained
    meta = json.load(open(predict.meta_path(model_path)))
    len_max = meta['len_max']
    assert meta['len_min'] > 5                       # hw6_base records the training minimum
    del meta['len_min']                              # a meta of an older run: the fixed cutoff
    meta['meta_hash'] = fileio.content_hash(meta)   # as if written so
    (tmp_path / 'meta_old.json').write_text(json.dumps(meta))
    records = {'tiny': 'MKVLA', 'edge': 'A' * predict.SHORT_LENGTH, 'mid': 'ACDEFGHIKL' * 5,
               'huge': 'ACDEFGHIKL' * (len_max // 10 + 1)}
    (tmp_path / 'in.fa').write_text(''.join(f'>{k}\n{v}\n' for k, v in records.items()))
    argv = ['--model', model_path, '--input', str(tmp_path / 'in.fa')]
    assert predict.main(argv + ['--meta', str(tmp_path / 'meta_old.json')]) == 0
    captured = capsys.readouterr()
    notes = {row['id']: row['note'] for row in csv.DictReader(captured.out.splitlines())}
    assert notes == {'tiny': 'short', 'edge': '', 'mid': '', 'huge': 'long'}
    assert f'1 sequence(s) shorter than {predict.SHORT_LENGTH} residues (the metadata records ' \
        'no len_min)' in captured.err
    assert f'1 sequence(s) longer than the longest in training ({len_max})' in captured.err
    meta['len_min'] = 30                             # a meta that records the training minimum
    meta['meta_hash'] = fileio.content_hash(meta)
    (tmp_path / 'meta30.json').write_text(json.dumps(meta))
    assert predict.main(argv + ['--meta', str(tmp_path / 'meta30.json')]) == 0
    captured = capsys.readouterr()
    notes = {row['id']: row['note'] for row in csv.DictReader(captured.out.splitlines())}
    assert notes == {'tiny': 'short', 'edge': 'short', 'mid': '', 'huge': 'long'}
    assert '2 sequence(s) shorter than the shortest in training (30)' in captured.err


@pytest.mark.slow
def test_max_length_skips_by_id_or_is_fatal_with_strict(trained, tmp_path, capsys):
    model_path, _ = trained
    (tmp_path / 'in.fa').write_text(f'>ok\n{"ACDEFGHIKL" * 3}\n>big\n{"ACDEFGHIKL" * 6}\n')
    argv = ['--model', model_path, '--input', str(tmp_path / 'in.fa'), '--max_length', '50']
    assert predict.main(argv) == 0
    captured = capsys.readouterr()
    assert [line.split(',')[0] for line in captured.out.splitlines()] == ['id', 'ok']
    assert 'predict.py: skipping sequence big has 60 residues, more than --max_length 50' in \
        captured.err.splitlines()
    assert predict.main(argv + ['--strict']) == 2
    assert _lines(capsys.readouterr().err) == [
        'predict.py: error: sequence big has 60 residues, more than --max_length 50']


def test_batch_size_shrinks_with_length():
    size = predict.batch_size_for
    assert [size(n, 128, True) for n in (10, 800, 1600, 4000, 20000)] == [128, 128, 32, 5, 1]
    assert [size(n, 128, False) for n in (10, 800, 1600, 4000, 200000)] == [128, 128, 64, 25, 1]
    assert size(1600, 16, True) == 4 and size(100, 16, True) == 16


@pytest.mark.slow
def test_length_groups_give_the_same_probabilities(trained):
    """Batches bounded by length (several predict_probabilities calls) change no value."""
    model_path, dat = trained
    model = network.load_model(model_path)
    rng = np.random.default_rng(0)
    sequences = [pfam_loader.decode(row) for row in dat['ins_test'][:20]]
    sequences += [''.join(rng.choice(list(pfam_loader.AMINO_ACIDS), n)) for n in (900, 1700, 2500)]
    order = rng.permutation(len(sequences))
    sequences = [sequences[i] for i in order]
    expected = network.predict_probabilities(model, pfam_loader.encode(sequences), 8)
    np.testing.assert_allclose(predict.predict_sequences(model, sequences, 8), expected,
                               atol=1e-5)


# ---------------------------------------------------------------- ensembles
def _other_model(model_path, tmp_path, name='other', **meta_changes):
    """A copy of the trained model with other (random) weights, and its own bound meta."""
    model = network.load_model(model_path)
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()])
    path = str(tmp_path / f'{name}.keras')
    model.save(path)
    meta = json.load(open(predict.meta_path(model_path)))
    meta.update(fingerprint=network.model_fingerprint(model), **meta_changes)
    meta['meta_hash'] = fileio.content_hash(meta)
    with open(predict.meta_path(path), 'w') as f:
        json.dump(meta, f)
    return path


@pytest.mark.slow
def test_an_ensemble_averages_its_members(trained, tmp_path):
    model_path, dat = trained
    other = _other_model(model_path, tmp_path)
    fasta = _fasta(tmp_path / 'in.fa', dat, n=40)
    outputs = {}
    for name, models in (('a', [model_path]), ('b', [other]), ('ab', [model_path, other])):
        out = tmp_path / f'{name}.csv'
        assert predict.main(['--model', *models, '--input', fasta, '--out', str(out),
                             '--top_k', '6']) == 0
        table = pd.read_csv(out)
        outputs[name] = {(row['id'], row[f'family{s}']): row[f'probability{s}']
                         for _, row in table.iterrows() for s in ['', '_2', '_3', '_4', '_5', '_6']}
    for key, probability in outputs['ab'].items():
        assert probability == pytest.approx((outputs['a'][key] + outputs['b'][key]) / 2, abs=2e-6)


@pytest.mark.slow
def test_an_ensemble_runs_its_members_together_and_gives_their_mean(trained, tmp_path):
    """One compiled call per batch for the variable-length members, a fixed-length member
    beside them: the mean of the members' own probabilities, in any member order, and a cached
    ensemble function never answers for another member set."""
    model_path, dat = trained
    first = network.load_model(model_path)
    other = network.load_model(_other_model(model_path, tmp_path))
    fixed = network.build_model('gru', dat['n_tokens'], dat['n_classes'], len_max=64,
                                conv_filters=8, rnn_units=[8], dense_units=[])
    ins = dat['ins_test'][:50]
    alone = [network.predict_probabilities(model, ins, 16) for model in (first, other, fixed)]
    assert np.abs(alone[0] - alone[1]).max() > 0.01              # the members differ
    np.testing.assert_allclose(network.predict_probabilities([first, other], ins, 16),
                               (alone[0] + alone[1]) / 2, atol=2e-6)
    np.testing.assert_allclose(network.predict_probabilities([other, first, fixed], ins, 16),
                               sum(alone) / 3, atol=2e-6)
    np.testing.assert_allclose(network.predict_probabilities(first, ins, 16), alone[0], atol=0)


@pytest.mark.slow
def test_an_ensemble_of_models_with_other_classes_is_refused(trained, tmp_path, capsys):
    model_path, dat = trained
    names = json.load(open(predict.meta_path(model_path)))['class_names']
    other = _other_model(model_path, tmp_path, class_names=names[::-1])
    fasta = _fasta(tmp_path / 'in.fa', dat, n=5)
    assert predict.main(['--model', model_path, other, '--input', fasta]) == 2
    assert _lines(capsys.readouterr().err) == [
        f'predict.py: error: {other} and {model_path} name different classes (or in another '
        'order): they cannot form an ensemble']
    assert predict.main(['--model', model_path, other, '--meta', predict.meta_path(model_path),
                         '--input', fasta]) == 2
    assert '--meta goes with a single --model' in capsys.readouterr().err


@pytest.mark.slow
def test_the_reference_ensemble_is_committed(trained, tmp_path):
    """The three reference models of rotation 0 (results/pfam46), the default before the
    open-set check, still predict as an ensemble."""
    assert predict.create_parser().parse_args(['--input', 'x']).model == [predict.DEFAULT_MODEL]
    assert os.path.basename(predict.DEFAULT_MODEL) == 'mha_rot0.npz'
    assert [os.path.basename(p) for p in predict.DEFAULT_ENSEMBLE] == [
        'rnn_rot0.keras', 'gru_rot0.keras', 'mha_rot0.keras']
    _, dat = trained
    fasta = _fasta(tmp_path / 'in.fa', dat, n=4)
    assert predict.main(['--model', *predict.DEFAULT_ENSEMBLE, '--input', fasta,
                         '--out', str(tmp_path / 'out.csv')]) == 0
    table = pd.read_csv(tmp_path / 'out.csv')
    names = json.load(open(predict.meta_path(predict.DEFAULT_ENSEMBLE[0])))['class_names']
    assert len(table) == 4 and set(table['family']) <= set(names) and len(names) == 46


# ---------------------------------------------------------------- self-checking metadata, input
def _edited(meta, edit):
    """A copy of ``meta`` changed as by hand (its meta_hash kept as it was)."""
    meta = json.loads(json.dumps(meta))
    names = meta['class_names']
    if edit == 'swapped':
        names[0], names[1] = names[1], names[0]
    elif edit == 'identical':
        meta['class_names'] = [names[0]] * len(names)
    elif edit == 'other_dataset':                 # another dataset's names, no fingerprint
        meta['class_names'] = [f'PF{9000 + i:05d}.1' for i in range(len(names))]
        del meta['fingerprint'], meta['meta_hash']
    elif edit == 'no_hash':
        del meta['meta_hash']
    elif edit in ('len_max_string', 'len_min_string'):
        field = edit[:-len('_string')]
        meta[field] = str(meta[field])
    elif edit == 'float_length':
        meta['len_max'] = 12.5
    elif edit == 'bool_rotation':
        meta['rotation'] = True
    return meta


@pytest.mark.slow
@pytest.mark.parametrize('edit, message', [
    ('swapped', "its content does not match its meta_hash"),     # renamed: in process, below
    ('identical', "class_names repeats 1 name(s) (e.g. '{first}', {n} times)"),
    ('other_dataset', 'no fingerprint and no meta_hash, so nothing ties its class names to the '
                      'model'),
    ('no_hash', 'no meta_hash, so nothing ties its class names to the model'),
    ('len_max_string', 'len_max is "{len_max}", not an integer'),
    ('len_min_string', 'len_min is "{len_min}", not an integer'),
    ('float_length', 'len_max is 12.5, not an integer'),
    ('bool_rotation', 'rotation is true, not an integer'),
])
def test_an_edited_meta_is_a_one_line_error(trained, tmp_path, edit, message):
    """The meta's own hash: names swapped, renamed, all alike or of another dataset, a field of
    the wrong type, no fingerprint or hash: refused by the command line in one line, exit 2."""
    model_path, dat = trained
    meta = json.load(open(predict.meta_path(model_path)))
    assert meta['meta_hash'] == fileio.content_hash(meta)            # hw6_base.py sealed it
    path = tmp_path / 'edited_meta.json'
    path.write_text(json.dumps(_edited(meta, edit), indent=1))
    result = _cli('--model', model_path, '--input', _fasta(tmp_path / 'in.fa', dat, n=3),
                  '--meta', str(path))
    message = message.format(first=meta['class_names'][0], n=len(meta['class_names']),
                             len_max=meta['len_max'], len_min=meta['len_min'])
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
    [line] = _lines(result.stderr)
    assert line.startswith(f'predict.py: error: {path}: ') and message in line, line
    assert 're-copy the _meta.json that hw6_base.py wrote beside the model' in line
    assert result.stdout == ''


def test_an_edited_meta_is_refused_and_a_sealed_one_accepted_in_process(tmp_path, monkeypatch):
    """`check_meta` on a stand-in model: the sealed meta passes, every edit is refused."""
    class Model:
        output_shape = (None, 3)
    meta = {'class_names': ['PF00001.1', 'PF00002.1', 'PF00003.1'], 'len_max': 40,
            'len_min': 5, 'vocabulary': pfam_loader.VOCABULARY, 'fingerprint': '3:abc'}
    meta['meta_hash'] = fileio.content_hash(meta)
    (tmp_path / 'm.json').write_text(json.dumps(meta))
    loaded = artefacts.load_meta(str(tmp_path / 'm.json'))
    monkeypatch.setattr(network, 'model_fingerprint', lambda model: '3:abc')
    predict.check_meta(loaded, Model(), 'm.json', 'x.keras')
    swapped = dict(loaded, class_names=loaded['class_names'][::-1])
    renamed = dict(loaded, class_names=loaded['class_names'][:-1] + ['PF00003.1x'])
    for change in (swapped, renamed, {'len_min': 6}, {'test_accuracy': 0.9},
                   {'model_type': 'mha'}):
        (tmp_path / 'edited.json').write_text(json.dumps({**loaded, **change}))
        with pytest.raises(pfam_loader.DataError, match='does not match its meta_hash'):
            artefacts.load_meta(str(tmp_path / 'edited.json'))         # before any model loads
    with pytest.raises(pfam_loader.DataError, match='written for another model'):
        predict.check_meta({**loaded, 'fingerprint': '3:abd'}, Model(), 'm.json', 'x.keras')
    for bad in ({'len_min': 50}, {'len_max': 0}, {'class_names': ['a', 'b', '']},
                {'vocabulary': 7}, {'fingerprint': 12}):
        (tmp_path / 'bad.json').write_text(json.dumps({**meta, **bad}))
        with pytest.raises(pfam_loader.DataError):
            artefacts.load_meta(str(tmp_path / 'bad.json'))
    # a NumPy model's metadata names its own remedy in every message
    unsealed = {key: value for key, value in meta.items() if key != 'fingerprint'}
    for edited in [{**meta, **bad} for bad in ({'class_names': ['a', 'a']}, {'len_max': 'x'},
                                              {'len_min': 0}, {'len_min': 50}, {'len_min': 6})
                   ] + [unsealed]:
        with pytest.raises(pfam_loader.DataError, match='; rewrite it with open_set.py'):
            artefacts.checked_meta(edited, 'm.npz', remedy='rewrite it with open_set.py')


def test_content_hash_is_canonical():
    """The same before json.dump and after json.load (key order, tuples, int keys, floats)."""
    record = {'b': (1, 2), 'a': {3: 0.1 + 0.2, 'x': None}, 'c': 0.9987158908507223}
    assert fileio.content_hash(record) == fileio.content_hash(json.loads(json.dumps(record)))
    assert fileio.content_hash(record) == fileio.content_hash(dict(reversed(record.items())))
    assert fileio.content_hash({**record, 'meta_hash': 'anything'}) == \
        fileio.content_hash(record)
    assert fileio.content_hash({**record, 'c': 0.5}) != fileio.content_hash(record)


def test_committed_metas_are_sealed_and_load():
    """results/pfam46: every meta records a meta_hash that matches its content (the default
    ensemble's metas among them) and passes `load_meta`."""
    folder = os.path.join(ROOT, 'results', 'pfam46')
    paths = sorted(p for p in os.listdir(folder) if p.endswith('_meta.json'))
    assert len(paths) == 15
    for name in paths:
        meta = artefacts.load_meta(os.path.join(folder, name))
        assert meta['meta_hash'] == fileio.content_hash(meta), name
        assert len(set(meta['class_names'])) == len(meta['class_names']) == 46


def test_fasta_with_a_byte_order_mark_reads_as_fasta(tmp_path):
    import gzip
    text = '>a first\nACDEFGHIKL\nMNPQ\n>b\nMKVLAAGIV\n'
    (tmp_path / 'bom.fa').write_bytes(b'\xef\xbb\xbf' + text.encode())
    (tmp_path / 'bom.fa.gz').write_bytes(gzip.compress(b'\xef\xbb\xbf' + text.encode()))
    (tmp_path / 'bom.csv').write_bytes(b'\xef\xbb\xbfid,sequence\nx,ACDE\n')
    expected = [('a', 'ACDEFGHIKLMNPQ'), ('b', 'MKVLAAGIV')]
    assert predict.read_sequences(str(tmp_path / 'bom.fa')) == expected
    assert predict.read_sequences(str(tmp_path / 'bom.fa.gz')) == expected
    assert predict.read_sequences(str(tmp_path / 'bom.csv')) == [('x', 'ACDE')]


@pytest.mark.slow
def test_bom_fasta_and_truncated_gzip_from_the_command_line(trained, tmp_path):
    """A BOM FASTA predicts its records by id; a truncated .gz is one line, exit 2."""
    import gzip
    model_path, _ = trained
    fasta = '>a first\nACDEFGHIKLMNPQRS\n>b\nMKVLAAGIVLLAAGCS\n'
    (tmp_path / 'bom.fa').write_bytes(b'\xef\xbb\xbf' + fasta.encode())
    result = _cli('--model', model_path, '--input', str(tmp_path / 'bom.fa'))
    assert result.returncode == 0, result.stderr
    assert [line.split(',')[0] for line in result.stdout.splitlines()] == ['id', 'a', 'b']
    whole = gzip.compress((fasta * 2000).encode())
    (tmp_path / 'cut.fa.gz').write_bytes(whole[:len(whole) // 2])
    result = _cli('--model', model_path, '--input', str(tmp_path / 'cut.fa.gz'))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert _lines(result.stderr) == [
        f'predict.py: error: {tmp_path / "cut.fa.gz"}: truncated or damaged gzip file '
        '(Compressed file ended before the end-of-stream marker was reached)']


def test_awkward_csv_inputs_parse_or_fail_in_one_line(tmp_path):
    """Rows longer or shorter than the header, a field over the csv module's default limit,
    a header without rows."""
    cases = {'extra.csv': ('sequence\nACDE,EXTRA\n', [('row1', 'ACDE')]),
             'short.csv': ('id,sequence,x\nq\n', [('q', '')]),
             'long.csv': ('id,sequence\nx,' + 'A' * 200_000 + '\n', [('x', 'A' * 200_000)])}
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert predict.read_sequences(str(tmp_path / name)) == expected, name
    (tmp_path / 'header.csv').write_text('id,sequence\n')
    with pytest.raises(pfam_loader.DataError, match='a header but no rows'):
        predict.read_sequences(str(tmp_path / 'header.csv'))

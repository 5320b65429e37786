"""The course's data directories and student code work unchanged (both vintages, left padding,
frequency-ranked tokens, 1-based class maps, np.int64 scalars, per-rotation len_max)."""
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import hw6_base
import job_control
import network
import pfam_loader
import settings
from conftest import ROOT
from course_format import course_rotation
from positional_encoder import PositionalEncoding

TINY = ['--preset', 'tiny', '--batch', '16', '--epochs', '1', '--steps_per_epoch', '2']


def _residues(ins):
    return int(np.count_nonzero(np.asarray(ins)))


def _names_per_row(dat, split):
    index_word = dat['out_index_word']
    first = 0 if 0 in index_word else 1
    return [pfam_loader.canonical_label(index_word[int(k) + first])
            for k in np.asarray(dat[f'outs_{split}']).reshape(-1)]


# ---------------------------------------------------------------- the fixture is the course's
def test_fixture_follows_the_course_format(course_dir, course_folds):
    with open(os.path.join(course_dir, 'pfamB_rotation_0.pkl'), 'rb') as f:
        raw = pickle.load(f)
    assert isinstance(raw['len_max'], np.int64) and isinstance(raw['n_tokens'], np.int64)
    assert raw['ins_train'].dtype == np.int32 and raw['ins_train'][:, 0].min() == 0   # 'pre'
    assert min(raw['out_index_word']) == 1 and raw['outs_train'].min() == 0
    assert all(name.startswith('pf') for name in raw['out_word_index'])
    longest_test = max(map(len, course_folds[4]['string']))
    assert longest_test > raw['len_max']                      # the course cut that row
    other = course_rotation(course_folds, 1)
    assert other['out_index_word'] != raw['out_index_word']         # order differs per rotation


# ---------------------------------------------------------------- load_rotation
def test_course_dir_with_fold_csvs_is_retokenized_losslessly(course_dir, course_folds):
    rotations = [pfam_loader.load_rotation(course_dir, r, 'B') for r in range(5)]
    classes = sorted(set(course_folds[0]['label']))
    for r, dat in enumerate(rotations):
        assert dat['source'] == 'course fold CSVs' and dat['vocabulary'] == pfam_loader.VOCABULARY
        assert all(type(dat[k]) is int for k in ('len_max', 'n_tokens', 'n_classes', 'rotation'))
        assert [dat['out_index_word'][i] for i in range(dat['n_classes'])] == classes
        test_fold = course_folds[(r + 4) % 5]
        assert [pfam_loader.decode(row) for row in dat['ins_test']] == \
            test_fold['string'].tolist()                      # every residue, right-padded
        assert [dat['out_index_word'][int(k)] for k in dat['outs_test'][:, 0]] == \
            test_fold['label'].tolist()
        assert pfam_loader.padding_rows(dat['ins_train']).size == 0


def test_course_pickles_alone_load_with_canonical_classes(course_pickles_2022):
    basedir, raw_rotations = course_pickles_2022
    rotations = [pfam_loader.load_rotation(basedir, r) for r in range(5)]   # version '' default
    for raw, dat in zip(raw_rotations, rotations):
        assert dat['source'] == 'course pickle' and dat['vocabulary'] is None
        assert all(type(dat[k]) is int for k in ('len_max', 'n_tokens', 'n_classes', 'rotation'))
        assert dat['n_classes'] == len(raw['out_index_word'])               # 2022: no n_classes
        assert dat['out_index_word'] == rotations[0]['out_index_word']      # same in every one
        assert all(name.startswith('PF') for name in dat['out_index_word'].values())
        for split in ('train', 'valid', 'test'):
            ours, theirs = dat[f'ins_{split}'], raw[f'ins_{split}']
            assert _residues(ours) == _residues(theirs)                   # nothing dropped
            assert pfam_loader.padding_rows(ours).size == 0                # right-padded
            np.testing.assert_array_equal(ours[:, 0] != 0, theirs.any(axis=1))
            assert _names_per_row(dat, split) == _names_per_row(raw, split)
        assert dat['n_tokens'] == int(raw['n_tokens'])


@pytest.mark.parametrize('content', [b'', b'\x80\x04\x95 truncated',
                                     np.random.default_rng(3).bytes(64),      # random bytes
                                     pickle.dumps(7), pickle.dumps({'ins_train': 1})],
                         ids=['empty', 'truncated', 'random', 'an int', 'missing keys'])
@pytest.mark.slow
def test_bad_course_pickles_are_one_line_errors(tmp_path, content):
    (tmp_path / 'pfamB_rotation_0.pkl').write_bytes(content)
    with pytest.raises(pfam_loader.DataError, match='pfamB_rotation_0.pkl: not a'):
        pfam_loader.load_rotation(str(tmp_path), 0, 'B')
    result = subprocess.run([sys.executable, 'hw6_base.py', '--dataset', str(tmp_path),
                             '--version', 'B', '--results_path', str(tmp_path / 'r')],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('hw6_base.py: error: ')


def test_missing_version_names_the_versions_present(course_dir):
    with pytest.raises(FileNotFoundError, match="versions present: 'B'"):
        pfam_loader.load_rotation(course_dir, 0)                # course default version ''


# ---------------------------------------------------------------- tf.data and inference
def test_left_padded_arrays_lose_no_residue_in_bucketed_datasets(course_pickles_2022):
    _, raw_rotations = course_pickles_2022
    raw = raw_rotations[0]                                      # left-padded, as the course has it
    train, valid, test = pfam_loader.create_tf_datasets(raw, batch=8, bucket=True)
    assert sum(_residues(x) for x, _ in train) == _residues(raw['ins_train'])
    assert sum(_residues(x) for x, _ in test) == _residues(raw['ins_test'])


def test_positional_call_has_the_course_semantics(course_dir):
    dat = pfam_loader.load_rotation(course_dir, 0, 'B')
    train, valid, _ = pfam_loader.create_tf_datasets(dat, 4, None, None, False, False)
    batches = list(train)
    assert batches[0][0].shape == (4, dat['len_max'])          # padded to len_max, batch 4
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), dat['outs_train'])
    shuffled, _, _ = pfam_loader.create_tf_datasets(dat, 4, -1, 1000, True, True)
    first = [y.numpy()[:, 0].tolist() for _, y in shuffled.take(len(batches))]
    assert first != [y.numpy()[:, 0].tolist() for _, y in batches]   # shuffled, repeating
    assert shuffled.cardinality() == -1                              # infinite


def test_predictions_ignore_which_side_the_padding_is_on(course_dir):
    dat = pfam_loader.load_rotation(course_dir, 0, 'B')
    model = network.build_model('gru', dat['n_tokens'], dat['n_classes'], n_embeddings=8,
                                conv_filters=8, rnn_units=[8, 8], dense_units=[8])
    right = dat['ins_test'][:20]
    width = right.shape[1]
    left = np.zeros_like(right)
    for i, row in enumerate(right):
        tokens = row[row != 0]
        left[i, width - len(tokens):] = tokens
    np.testing.assert_allclose(network.predict_probabilities(model, left),
                               network.predict_probabilities(model, right), atol=1e-6)


def test_builder_accepts_numpy_integers(course_pickles_2022):
    _, raw_rotations = course_pickles_2022
    raw = raw_rotations[0]
    model = network.build_model('mha', raw['n_tokens'], np.int64(6), raw['len_max'],
                                n_embeddings=8, conv_filters=8, attention_heads=[2], key_dim=4,
                                dense_units=[8])
    assert model.input_shape == (None, int(raw['len_max'])) and model.output_shape == (None, 6)


# ---------------------------------------------------------------- the driver and convert
def test_the_smoke_experiment_lists_every_model_type_once():
    assert sorted(job_control.EXPERIMENTS['smoke']['model_type']) == sorted(settings.MODEL_TYPES)


#: the smoke tasks trained here: the types that no other test trains through the driver (the
#: others train in tests/test_driver.py and the demo of tests/test_run_experiment.py)
SMOKE_TRAINED = ('lstm',)


@pytest.mark.parametrize('index, model_type', [
    (index, model_type) for index, model_type in enumerate(
        job_control.EXPERIMENTS['smoke']['model_type']) if model_type in SMOKE_TRAINED])
@pytest.mark.slow
def test_smoke_experiment_trains_on_a_course_dir(course_dir, course_folds, tmp_path, index,
                                                 model_type):
    status = hw6_base.main(['--dataset', course_dir, '--version', 'B', '--results_path',
                            str(tmp_path), '--exp_type', 'smoke', '--exp_index', str(index)])
    assert status == 0
    with open(tmp_path / f'{model_type}_rot0_results.pkl', 'rb') as f:
        result = pickle.load(f)
    assert result['n_epochs'] == 1 and np.isfinite(result['history']['loss']).all()
    assert result['class_names'] == sorted(set(course_folds[0]['label']))
    test_labels = course_folds[4]['label'].tolist()                  # rotation 0 tests fold 4
    assert [result['class_names'][k] for k in result['outs_test'][:, 0]] == test_labels
    model = network.load_model(str(tmp_path / result['model_path']))
    assert model.count_params() == result['n_params']


@pytest.mark.slow
def test_pickle_only_model_has_no_letter_map(course_pickles_2022, tmp_path):
    basedir, _ = course_pickles_2022
    status = hw6_base.main(['--dataset', basedir, '--version', '', '--results_path',
                            str(tmp_path), '--model_type', 'gru', *TINY])
    assert status == 0
    import json
    meta = json.load(open(tmp_path / 'gru_rot0_meta.json'))
    assert meta['vocabulary'] is None and meta['class_names'][0].startswith('PF')
    assert meta['fingerprint'] == network.model_fingerprint(
        network.load_model(str(tmp_path / 'gru_rot0.keras')))
    fasta = tmp_path / 'new.fa'
    fasta.write_text('>a\nMKVLAAGIVLLLAAGCSSEKP\n')
    result = subprocess.run([sys.executable, 'predict.py', '--model',
                             str(tmp_path / 'gru_rot0.keras'), '--input', str(fasta), '--out',
                             str(tmp_path / 'p.csv')], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert 'letter map None' in result.stderr and not (tmp_path / 'p.csv').exists()


def test_convert_writes_an_equivalent_suite_dataset(course_dir, tmp_path):
    out = str(tmp_path / 'converted')
    assert pfam_loader.main(['convert', '--input', course_dir, '--out', out]) == 0
    ours = pfam_loader.load_rotation(out, 3, 'B')
    theirs = pfam_loader.load_rotation(course_dir, 3, 'B')
    assert ours['source'] == 'dataset'
    for key in ('ins_train', 'outs_train', 'ins_test', 'outs_test'):
        np.testing.assert_array_equal(ours[key], theirs[key])
    assert ours['out_index_word'] == theirs['out_index_word']
    empty = tmp_path / 'pickles_only'
    empty.mkdir()
    (empty / 'pfamB_rotation_0.pkl').write_bytes(b'')
    result = subprocess.run([sys.executable, 'pfam_loader.py', 'convert', '--input', str(empty),
                             '--out', str(tmp_path / 'x')], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 2 and 'needs the fold CSVs' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- PositionalEncoding
def _closed_form(steps, dims):
    p, i = np.arange(steps)[:, None], np.arange(dims)[None, :]
    angle = p / 10000 ** ((i // 2 * 2) / dims)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


@pytest.mark.parametrize('make', [lambda: PositionalEncoding(782, 16),
                                  lambda: PositionalEncoding(max_steps=782, max_dims=16),
                                  lambda: PositionalEncoding(782, 16, 'add', 'float32')])
def test_course_constructor_and_embedding(make):
    layer = make()
    np.testing.assert_allclose(layer.embedding(), _closed_form(782, 16), atol=2e-5)
    x = np.random.default_rng(0).normal(size=(2, 30, 16)).astype('float32')
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                               x + _closed_form(30, 16), atol=2e-5)


def test_course_concat_appends_max_dims_and_both_forms_reload(tmp_path):
    x = np.zeros((1, 12, 8), dtype='float32')
    assert PositionalEncoding(3934, 4, 'concat')(x).shape == (1, 12, 12)
    assert PositionalEncoding('concat')(x).shape == (1, 12, 16)
    with pytest.raises(ValueError, match='max_dims'):
        PositionalEncoding(782, 16)(x)
    for layer in (PositionalEncoding(782, 8), PositionalEncoding('add')):
        inputs = keras.Input((None,))
        model = keras.Model(inputs, layer(keras.layers.Embedding(26, 8)(inputs)))
        model.save(tmp_path / 'm.keras')
        again = keras.models.load_model(tmp_path / 'm.keras')
        tokens = np.arange(1, 11)[None]
        np.testing.assert_allclose(again.predict(tokens, verbose=0),
                                   model.predict(tokens, verbose=0), atol=1e-6)
        assert again.layers[-1].get_config()['max_steps'] == layer.max_steps


def test_fold_files_of_the_course_read_as_dataframes(course_dir, course_folds):
    frame = pfam_loader.load_pfam_file(course_dir, 2, 'B')
    assert list(frame.columns) == ['string', 'label'] and len(frame) == len(course_folds[2])
    frames = pfam_loader.load_pfam_dataset(course_dir, rotation=1, version='B')
    assert [len(frames[s]) for s in ('train', 'valid', 'test')] == \
        [sum(len(course_folds[k]) for k in (1, 2, 3)), len(course_folds[4]), len(course_folds[0])]
    assert isinstance(frames['valid'], pd.DataFrame)


# ---------------------------------------------------------------- bad values in course pickles
def _damaged_pickle(raw, directory, change):
    """Rotation 0 of a 2022 course directory with ``change`` made, alone in ``directory``."""
    raw = {key: np.array(value, copy=True) if isinstance(value, np.ndarray) else value
           for key, value in raw.items()}
    change(raw)
    with open(os.path.join(directory, 'pfam_rotation_0.pkl'), 'wb') as f:
        pickle.dump(raw, f)
    return str(directory)


def _set(key, value):
    return lambda raw: raw.__setitem__(key, value(raw))


def _poke(key, row, value):
    def change(raw):
        raw[key][row, -1] = value(raw)
    return change


@pytest.mark.parametrize('change, message', [
    (lambda raw: (raw.__setitem__('ins_test', raw['ins_test'][:0]),
                  raw.__setitem__('outs_test', raw['outs_test'][:0])),
     r'the test split is empty \(ins_test has shape \(0, \d+\)\)'),
    (_set('outs_valid', lambda raw: raw['outs_valid'][:0]),
     r'ins_valid/outs_valid are not a token matrix and its class indices: \d+ rows but 0 '
     r'labels'),
    (lambda raw: (raw.__setitem__('ins_train', raw['ins_train'][:0]),
                  raw.__setitem__('outs_train', raw['outs_train'][:0])),
     r'the train split is empty'),
    (_poke('ins_train', 3, lambda raw: -2),
     r'ins_train holds 1 token id\(s\) outside 0\.\.\d+ \(n_tokens \d+\), e\.g\. -2 in row 3'),
    (_poke('ins_test', 0, lambda raw: int(raw['n_tokens'])),
     r'ins_test holds 1 token id\(s\) outside 0\.\.(\d+) \(n_tokens \d+\), e\.g\. \d+ in row 0'),
    (_poke('outs_valid', 2, lambda raw: -1),
     r'outs_valid holds 1 class index\(es\) outside 0\.\.5 \(6 classes in out_index_word\), '
     r'e\.g\. -1 in row 2'),
    (_poke('outs_train', 0, lambda raw: len(raw['out_index_word'])),
     r'outs_train holds 1 class index\(es\) outside 0\.\.5 .* e\.g\. 6 in row 0'),
    (_set('n_tokens', lambda raw: 'many'), r"n_tokens is 'many', not a count"),
    (_set('out_index_word', lambda raw: ['a', 'b']),
     r'out_index_word is not a map of class indices'),
])
def test_course_pickle_with_bad_values_is_refused_at_load(course_pickles_2022, tmp_path, change,
                                                          message):
    """An empty split, token ids < 0 or >= n_tokens, class indices < 0 or >= n_classes: a
    `DataError` naming the split and the values, before any training."""
    _, raw_rotations = course_pickles_2022
    basedir = _damaged_pickle(raw_rotations[0], tmp_path, change)
    with pytest.raises(pfam_loader.DataError, match=message) as raised:
        pfam_loader.load_rotation(basedir, 0, '')
    assert str(raised.value).startswith(os.path.join(basedir, 'pfam_rotation_0.pkl') + ': ')
    assert '\n' not in str(raised.value)


@pytest.mark.slow
@pytest.mark.parametrize('case', ['token_too_large', 'empty_test'])
def test_driver_refuses_a_bad_course_pickle_in_one_line(course_pickles_2022, tmp_path, case):
    """hw6_base.py: one line and exit 2 (was a TensorFlow traceback, or ``test accuracy nan``
    and exit 0)."""
    _, raw_rotations = course_pickles_2022
    change = {'token_too_large': _poke('ins_train', 0, lambda raw: int(raw['n_tokens']) + 3),
              'empty_test': lambda raw: (raw.__setitem__('ins_test', raw['ins_test'][:0]),
                                         raw.__setitem__('outs_test', raw['outs_test'][:0]))
              }[case]
    data = tmp_path / 'data'
    data.mkdir()
    basedir = _damaged_pickle(raw_rotations[0], data, change)
    (data / 'pfam_rotation_0.pkl').rename(data / 'pfamB_rotation_0.pkl')
    result = subprocess.run([sys.executable, 'hw6_base.py', '--dataset', basedir, '--version',
                             'B', '--results_path', str(tmp_path / 'r'), *TINY],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('hw6_base.py: error: ') and 'pfamB_rotation_0.pkl' in last
    assert ('ins_train holds 1 token id(s)' if case == 'token_too_large' else
            'the test split is empty') in last
    assert not os.path.exists(tmp_path / 'r' / 'gru_rot0_results.pkl')


# ---------------------------------------------------------------- the two files alone
def _course_variants(course_folds, root):
    """Three course folders: fold CSVs and pickles (``plain``), the same with gzipped fold CSVs
    (``gz``), and rotation 0 of the 2022 vintage as delivered (``y2022``:
    ``pfam_rotation_0_2022.pkl`` alone). Returns {name: folder}."""
    import gzip
    import shutil
    from course_format import write_course_dir
    folders = {name: str(root / name) for name in ('plain', 'gz', 'y2022')}
    write_course_dir(course_folds, folders['plain'], 'B')
    shutil.copytree(folders['plain'], folders['gz'])
    for k in range(5):
        path = os.path.join(folders['gz'], f'pfamB_fold_{k}.csv')
        with open(path, 'rb') as plain, gzip.open(path + '.gz', 'wb') as packed:
            shutil.copyfileobj(plain, packed)
        os.remove(path)
    write_course_dir(course_folds, folders['y2022'], '', vintage=2022, csvs=False)
    for r in range(5):
        path = os.path.join(folders['y2022'], f'pfam_rotation_{r}.pkl')
        if r:
            os.remove(path)
        else:
            os.rename(path, path[:-len('.pkl')] + '_2022.pkl')
    return folders


STUDENT_SCRIPT = '''
import json, os, sys
import numpy as np
import pfam_loader
from positional_encoder import PositionalEncoding

suite = {'fileio', 'pfam_build', 'pfam_formats'}
out = {'suite_loaded': sorted(suite & set(sys.modules))}
folders = json.loads(sys.argv[1])
for name, folder in folders.items():
    version = '' if name == 'y2022' else 'B'
    for source in ([None, 'pickle'] if name == 'plain' else [None]):
        dat = pfam_loader.load_rotation(folder, 0, version, source=source)
        if name != 'y2022':
            pfam_loader.load_rotation(folder, 1, version, source=source)   # no second line
        train, valid, test = pfam_loader.create_tf_datasets(dat, batch=8, prefetch=-1,
                                                            shuffle=100)
        x, y = next(iter(train))
        out[f'{name} {source}'] = {
            'dtype': str(dat['ins_train'].dtype), 'shape': list(dat['ins_train'].shape),
            'n_tokens': dat['n_tokens'], 'n_classes': dat['n_classes'], 'source': dat['source'],
            'batch': [list(x.shape), list(y.shape)],
            'test_batches': sum(1 for _ in test)}
layer = PositionalEncoding(dat['len_max'], 16)
out['encoded'] = list(layer(np.zeros((2, 30, 16), dtype='float32')).shape)
out['embedding'] = list(layer.embedding().shape)
print('command line:', pfam_loader.main(['demo', '--out', 'demo']), file=sys.stderr)
os.mkdir('replacing')
open(os.path.join('replacing', '.pfamB-switch.json'), 'w').write('{}')
try:
    pfam_loader.load_rotation('replacing', 0, 'B')
except pfam_loader.DataError as err:
    out['journal'] = str(err)
print(json.dumps(out))
'''


@pytest.mark.slow
def test_the_two_files_alone_load_every_course_folder(course_folds, tmp_path):
    """pfam_loader.py and positional_encoder.py copied alone beside a student's script (no other
    file of the suite importable) read plain, gzipped and 2022 course folders, make tf.data
    batches and the course's PositionalEncoding; the suite's tools say which files they need."""
    import json
    import shutil
    folders = _course_variants(course_folds, tmp_path / 'data')
    student = tmp_path / 'student'
    student.mkdir()
    for name in ('pfam_loader.py', 'positional_encoder.py'):
        shutil.copy(os.path.join(ROOT, name), student)
    (student / 'hw6.py').write_text(STUDENT_SCRIPT)
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    result = subprocess.run([sys.executable, 'hw6.py', json.dumps(folders)], cwd=student,
                            env={**env, 'TF_CPP_MIN_LOG_LEVEL': '3'}, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out['suite_loaded'] == []
    raw = course_rotation(course_folds, 0)
    n_train = sum(len(course_folds[k]) for k in (0, 1, 2))
    len_max = max(len(s) for fold in course_folds for s in fold['string'])
    csv = {'dtype': 'uint8', 'shape': [n_train, len_max], 'n_tokens': 26, 'n_classes': 6,
           'source': 'course fold CSVs', 'batch': [[8, len_max], [8, 1]]}
    pickled = {'dtype': 'int32', 'shape': [n_train, int(raw['len_max'])],
               'n_tokens': int(raw['n_tokens']), 'n_classes': 6, 'source': 'course pickle',
               'batch': [[8, int(raw['len_max'])], [8, 1]]}
    for key, expected in (('plain None', csv), ('gz None', csv), ('plain pickle', pickled),
                          ('y2022 None', pickled)):
        assert {k: out[key][k] for k in expected} == expected, key
        assert out[key]['test_batches'] == -(-len(course_folds[4]) // 8)
    assert out['encoded'] == [2, 30, 16] and out['embedding'] == [int(raw['len_max']), 16]
    lines = result.stderr.splitlines()
    for name, said in (('plain', 'read the fold CSVs'), ('plain', 'read the rotation pickles'),
                       ('gz', 'read the fold CSVs')):
        assert len([line for line in lines if line.startswith(f'{folders[name]}: {said}')]) == 1
    assert len([line for line in lines if 'pfam_rotation_0_2022.pkl: course pickle' in line]) == 1
    tool = [line for line in lines if line.startswith('pfam_loader.py: error: ')]
    assert len(tool) == 1 and 'pfam_build.py, pfam_formats.py, fileio.py' in tool[0]
    assert 'command line: 2' in lines
    assert out['journal'].startswith("replacing: dataset 'B' is in the middle of a replacement")
    assert not os.path.exists(student / 'demo')


def test_source_chooses_what_a_folder_with_both_gives_and_says_so_once(course_folds, tmp_path,
                                                                        capsys):
    from course_format import write_course_dir
    folder = str(tmp_path / 'both')
    raw = write_course_dir(course_folds, folder, 'B')[0]       # cuts a test row
    csv = [pfam_loader.load_rotation(folder, r, 'B') for r in (0, 1)]
    assert csv[0]['source'] == 'course fold CSVs' and csv[0]['ins_train'].dtype == np.uint8
    assert csv[0]['n_tokens'] == pfam_loader.N_TOKENS
    assert pfam_loader.load_rotation(folder, 0, 'B', source='csv')['n_tokens'] == 26
    pickled = [pfam_loader.load_rotation(folder, 0, 'B', source='pickle') for _ in range(2)]
    assert pickled[0]['source'] == 'course pickle' and pickled[0]['ins_train'].dtype == np.int32
    assert pickled[0]['n_tokens'] == int(raw['n_tokens']) < pfam_loader.N_TOKENS
    assert pickled[0]['len_max'] == int(raw['len_max']) < csv[0]['len_max']
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith(folder + ': ')]
    assert said == [f"{folder}: read the fold CSVs (re-tokenized with the suite's 25-letter "
                    "vocabulary, every residue kept); pass source='pickle' (hw6_base.py "
                    "--source pickle) to read the rotation pickles",
                    f"{folder}: read the rotation pickles (the course's tokens and padding); "
                    "pass source='csv' (hw6_base.py --source csv) to read the fold CSVs"]
    with pytest.raises(pfam_loader.DataError,
                       match=r"^source must be one of 'csv', 'pickle' or None, got 'pkl'$"):
        pfam_loader.load_rotation(folder, 0, 'B', source='pkl')
    only_csv = tmp_path / 'csv_only'
    only_csv.mkdir()
    for k in range(5):
        os.link(os.path.join(folder, f'pfamB_fold_{k}.csv'), only_csv / f'pfamB_fold_{k}.csv')
    with pytest.raises(FileNotFoundError, match=r"no pfamB_rotation_0.pkl; source='pickle'"):
        pfam_loader.load_rotation(str(only_csv), 0, 'B', source='pickle')
    assert 'read the' not in capsys.readouterr().err          # one source: nothing to say


def test_gzipped_folds_and_the_delivered_2022_name_are_found(course_folds, tmp_path):
    folders = _course_variants(course_folds, tmp_path)
    plain = pfam_loader.load_rotation(folders['plain'], 1, 'B')
    packed = pfam_loader.load_rotation(folders['gz'], 1, 'B')
    for key in ('ins_train', 'outs_train', 'ins_test', 'outs_test'):
        np.testing.assert_array_equal(packed[key], plain[key])
    assert pfam_loader.versions_in(folders['gz']) == ['B']
    assert pfam_loader.versions_in(folders['y2022']) == ['']
    dat = pfam_loader.load_rotation(folders['y2022'])                      # the course defaults
    assert dat['source'] == 'course pickle' and dat['n_classes'] == 6
    frame = pfam_loader.load_pfam_file(folders['gz'], 4, 'B')
    assert frame['string'].tolist() == course_folds[4]['string'].tolist()


def test_the_driver_passes_source_and_it_is_part_of_the_configuration(course_dir):
    import parser as arguments
    import settings
    args = arguments.parse_args(['--dataset', course_dir, '--source', 'pickle'])
    assert hw6_base.load_data(args)['source'] == 'course pickle'
    assert settings.identity(args)['source'] == 'pickle'
    assert settings.differences(settings.identity(arguments.parse_args([])),
                                settings.identity(args)) == [
        f"dataset 'data/pfam' -> {course_dir!r}", "source None -> 'pickle'"]

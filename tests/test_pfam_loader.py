"""Data layer: tokenization, input formats, fold building, rotations and tf.data pipelines."""
import gzip
import itertools
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import pfam_build
import pfam_formats
import pfam_loader
from conftest import REAL_CSV, REAL_FAMILIES, ROOT, needs_real_data, run_cli


# ---------------------------------------------------------------- tokenization
def test_encode_vocabulary_and_right_padding():
    tokens = pfam_loader.encode(['ACD', 'y', 'BZXUO'], len_max=6)
    assert tokens.dtype == np.uint8 and tokens.shape == (3, 6)
    np.testing.assert_array_equal(tokens[0], [1, 2, 3, 0, 0, 0])
    np.testing.assert_array_equal(tokens[1], [20, 0, 0, 0, 0, 0])      # lower case folded
    np.testing.assert_array_equal(tokens[2], [21, 22, 23, 24, 25, 0])
    assert pfam_loader.N_TOKENS == 26
    assert [pfam_loader.decode(row) for row in tokens] == ['ACD', 'Y', 'BZXUO']
    np.testing.assert_array_equal(pfam_loader.sequence_lengths(tokens), [3, 1, 5])


@pytest.mark.parametrize('strings, match', [
    (['ACD', 'AC1D'], "sequence seq2 has the character '1'"),
    (['ACD', ''], 'sequence seq2 is empty'),
    (['ACDEFG'], 'more than len_max=4'),
])
def test_encode_rejects_bad_sequences_by_name(strings, match):
    with pytest.raises(pfam_loader.DataError, match=match):
        pfam_loader.encode(strings, len_max=4 if 'len_max' in match else None,
                           names=['seq1', 'seq2'])


def test_encode_truncates_when_asked():
    np.testing.assert_array_equal(pfam_loader.encode(['ACDEF'], 3, truncate=True), [[1, 2, 3]])


def test_length_order_is_stable_and_invertible():
    ins = pfam_loader.encode(['AAAA', 'A', 'AA', 'C', 'AAA'])
    order = pfam_loader.length_order(ins)
    np.testing.assert_array_equal(order, [1, 3, 2, 4, 0])
    values = np.arange(5)[order]                     # something computed in length order
    np.testing.assert_array_equal(values[np.argsort(order)], np.arange(5))


# ---------------------------------------------------------------- input formats
RECORDS = [('MKVLAAGIV', 'PF00001.21'), ('MKVLSAGIV', 'PF00001.21'), ('WWPCDE', 'PF00002.5'),
           ('WWPCDEK', 'PF00002.5')]


def _write_fixture(path, fmt):
    if fmt == 'csv':
        pd.DataFrame(RECORDS, columns=['sequence', 'family_accession']).to_csv(path, index=False)
    elif fmt == 'tsv.gz':
        with gzip.open(path, 'wt') as f:
            pd.DataFrame(RECORDS, columns=['sequence', 'family_accession']).to_csv(
                f, sep='\t', index=False)
    elif fmt == 'kaggle':
        for split, rows in (('train', RECORDS[:2]), ('dev', RECORDS[2:3]), ('test', RECORDS[3:])):
            os.makedirs(os.path.join(path, split))
            pd.DataFrame([(s, 'x', f, 'al') for s, f in rows],
                         columns=['sequence', 'family_id', 'family_accession', 'aligned']).to_csv(
                os.path.join(path, split, 'data-00000-of-00001'), index=False)
    elif fmt == 'fasta':
        with open(path, 'w') as f:
            for i, (sequence, family) in enumerate(RECORDS):
                # Pfam style header; sequences wrapped over two lines and with alignment gaps
                f.write(f'>SEQ{i}_HUMAN/1-{len(sequence)} {family};Fam;\n'
                        f'{sequence[:4]}-\n{sequence[4:].lower()}\n')
    elif fmt == 'stockholm':
        with open(path, 'w') as f:
            for family in ('PF00001.21', 'PF00002.5'):
                rows = [(i, s) for i, (s, fam) in enumerate(RECORDS) if fam == family]
                width = max(len(s) for _, s in rows) + 1
                f.write(f'# STOCKHOLM 1.0\n#=GF ID Fam\n#=GF AC {family}\n')
                for i, s in rows:
                    f.write(f'SEQ{i}/1-{len(s)} {(s + "." * width)[:width]}\n')
                f.write('//\n')


@pytest.mark.parametrize('fmt, name', [('csv', 'x.csv'), ('tsv.gz', 'x.tsv.gz'),
                                       ('kaggle', 'split'), ('fasta', 'x.fa'),
                                       ('stockholm', 'x.sto')])
def test_read_records_every_format(tmp_path, fmt, name):
    path = str(tmp_path / name)
    _write_fixture(path, fmt)
    frame = pfam_formats.read_records(path)
    assert sorted(zip(frame['sequence'], frame['family'])) == sorted(RECORDS)


def test_detect_format_from_first_line(tmp_path):
    path = tmp_path / 'noext'
    path.write_text('>A/1-3 PF00001.1;\nACD\n')
    assert pfam_formats.detect_format(str(path)) == 'fasta'
    path.write_text('# STOCKHOLM 1.0\n')
    assert pfam_formats.detect_format(str(path)) == 'stockholm'
    path.write_text('hello\n')
    with pytest.raises(pfam_loader.DataError, match='unknown format'):
        pfam_formats.detect_format(str(path))


# ---------------------------------------------------------------- building folds
def test_build_folds_disjoint_stratified_and_complete(demo_dir):
    folds = [pd.read_csv(pfam_loader.fold_path(demo_dir, k, 'T')) for k in range(5)]
    sequences = [set(f['string']) for f in folds]
    for a in range(5):
        for b in range(a + 1, 5):
            assert not sequences[a] & sequences[b], f'folds {a} and {b} share a sequence'
    counts = pd.concat([f.assign(fold=k) for k, f in enumerate(folds)])
    table = pd.crosstab(counts['label'], counts['fold'])
    assert (table.max(axis=1) - table.min(axis=1) <= 1).all()     # stratified: ±1 per family
    source = pd.read_csv(os.path.join(demo_dir, 'demo_sequences.csv.gz'))
    assert table.to_numpy().sum() == source.drop_duplicates().shape[0]
    meta = json.load(open(pfam_loader.metadata_path(demo_dir, 'T')))
    assert meta['n_classes'] == 6 and meta['classes'] == sorted(meta['classes'])
    assert meta['counts_per_fold'] == {c: list(map(int, row)) for c, row in table.iterrows()}


def test_build_is_deterministic_and_drops_ambiguous(tmp_path):
    frame = pfam_build.make_demo_records(n_families=3, seed=5, min_count=10, max_count=12)
    # one sequence labelled with two families, one exact duplicate
    frame = pd.concat([frame, pd.DataFrame([(frame['sequence'][0], 'DEMO02'),
                                            (frame['sequence'][1], frame['family_accession'][1])],
                                           columns=frame.columns)], ignore_index=True)
    source = tmp_path / 'in.csv'
    frame.sample(frac=1, random_state=0).to_csv(source, index=False)
    meta = [pfam_build.build_dataset([str(source)], str(tmp_path / name), 'Z', seed=3)
            for name in ('a', 'b')]
    assert meta[0]['dropped'] == {'duplicate_records': 1, 'multi_family_sequences': 1,
                                  'multi_family_records': 2}
    assert meta[0]['n_sequences'] == len(frame) - 3
    for k in range(5):
        assert (open(pfam_loader.fold_path(tmp_path / 'a', k, 'Z')).read()
                == open(pfam_loader.fold_path(tmp_path / 'b', k, 'Z')).read())
    for r in range(5):
        a = pfam_loader.load_rotation(str(tmp_path / 'a'), r, 'Z')
        b = pfam_loader.load_rotation(str(tmp_path / 'b'), r, 'Z')
        np.testing.assert_array_equal(a['ins_train'], b['ins_train'])
        np.testing.assert_array_equal(a['outs_test'], b['outs_test'])


def test_families_and_top_selection(tmp_path):
    source = tmp_path / 'in.csv'
    pfam_build.make_demo_records(n_families=4, seed=2).to_csv(source, index=False)
    meta = pfam_build.build_dataset([str(source)], str(tmp_path / 'f'), 'F',
                                     families=['DEMO03', 'DEMO01'])
    assert meta['classes'] == ['DEMO01', 'DEMO03']
    meta = pfam_build.build_dataset([str(source)], str(tmp_path / 't'), 'T', top=3)
    counts = pd.read_csv(source)['family_accession'].value_counts()
    assert set(meta['classes']) == set(sorted(counts.index, key=lambda f: (-counts[f], f))[:3])


# ---------------------------------------------------------------- rotations (course API)
def test_rotation_folds_follow_the_course_rule():
    assert pfam_loader.rotation_folds(0) == ([0, 1, 2], 3, 4)
    assert pfam_loader.rotation_folds(3) == ([3, 4, 0], 1, 2)
    with pytest.raises(pfam_loader.DataError, match='got 7'):
        pfam_loader.rotation_folds(7)


def test_rotation_keys_dtypes_and_consistent_classes(demo_dir):
    rotations = [pfam_loader.load_rotation(demo_dir, r, 'T') for r in range(5)]
    for r, dat in enumerate(rotations):
        assert set(dat) == set(pfam_loader.ROTATION_KEYS) | {'vocabulary', 'source'}
        assert dat['vocabulary'] == pfam_loader.VOCABULARY and dat['source'] == 'dataset'
        assert all(type(dat[key]) is int for key in ('rotation', 'len_max', 'n_tokens',
                                                      'n_classes'))
        assert dat['rotation'] == r and dat['n_tokens'] == 26 and dat['n_classes'] == 6
        for split in ('train', 'valid', 'test'):
            ins, outs = dat[f'ins_{split}'], dat[f'outs_{split}']
            assert ins.dtype == np.uint8 and ins.shape[1] == dat['len_max']
            assert outs.shape == (len(ins), 1) and outs.dtype.kind == 'i'
            assert 0 <= outs.min() and outs.max() < dat['n_classes']
        assert dat['out_index_word'] == rotations[0]['out_index_word']
        assert all(dat['out_word_index'][w] == i for i, w in dat['out_index_word'].items())
    # test folds of the 5 rotations are the 5 folds: they partition the data
    tests = [{pfam_loader.decode(row) for row in d['ins_test']} for d in rotations]
    assert sum(map(len, tests)) == len(set().union(*tests))
    assert rotations[1]['ins_valid'].tolist() == rotations[0]['ins_test'].tolist()


def test_rotation_matches_fold_csv_and_course_pickles_round_trip(demo_dir, tmp_path):
    dat = pfam_loader.load_rotation(demo_dir, 2, 'T')
    test_fold = pd.read_csv(pfam_loader.fold_path(demo_dir, 1, 'T'))     # rotation 2 tests fold 1
    assert [pfam_loader.decode(row) for row in dat['ins_test']] == test_fold['string'].tolist()
    assert [dat['out_index_word'][int(i)] for i in dat['outs_test'][:, 0]] == \
        test_fold['label'].tolist()
    pfam_loader.save_data_sets(demo_dir, str(tmp_path), version='T')     # the course's pickles
    with open(pfam_loader.rotation_path(str(tmp_path), 2, 'T'), 'rb') as f:
        saved = pickle.load(f)
    assert saved['len_max'] == dat['len_max']
    np.testing.assert_array_equal(saved['ins_test'], dat['ins_test'])


def test_load_rotation_missing_file_says_how_to_build(tmp_path):
    with pytest.raises(FileNotFoundError, match='pfam_loader.py build'):
        pfam_loader.load_rotation(str(tmp_path), 0, 'B')


# ---------------------------------------------------------------- tf.data
def _collect(ds):
    ins, outs, widths = [], [], []
    for x, y in ds:
        x = x.numpy()
        widths.append(x.shape[1])
        ins += [pfam_loader.decode(row) for row in x]
        outs += list(y.numpy()[:, 0])
    return ins, outs, widths


@pytest.mark.slow
def test_padded_datasets_keep_order_and_shape(demo_rotation):
    dat = demo_rotation
    train, valid, test = pfam_loader.create_tf_datasets(dat, batch=16, shuffle=False)
    ins, outs, widths = _collect(test)
    assert set(widths) == {dat['len_max']}
    assert ins == [pfam_loader.decode(r) for r in dat['ins_test']]
    assert outs == list(dat['outs_test'][:, 0])


def test_bucketing_yields_every_example_once_with_less_padding(demo_rotation):
    dat = demo_rotation
    train, valid, test = pfam_loader.create_tf_datasets(dat, batch=16, bucket=True, seed=0)
    for epoch in range(2):
        ins, outs, widths = _collect(train)
        expected = sorted(zip([pfam_loader.decode(r) for r in dat['ins_train']],
                              dat['outs_train'][:, 0]))
        assert sorted(zip(ins, outs)) == expected
        assert np.mean(widths) < 0.8 * dat['len_max']
        assert max(widths) <= dat['len_max']
        assert int(train.cardinality()) == len(widths)          # Keras knows the epoch's length
    # validation/test come in length order: argsort(length_order) restores the original order
    ins, outs, widths = _collect(test)
    restore = np.argsort(pfam_loader.length_order(dat['ins_test']))
    assert [ins[i] for i in restore] == [pfam_loader.decode(r) for r in dat['ins_test']]
    assert np.array_equal(np.array(outs)[restore], dat['outs_test'][:, 0])


def test_bucketed_training_mixes_classes(demo_rotation):
    train, _, _ = pfam_loader.create_tf_datasets(demo_rotation, batch=32, bucket=True, seed=1)
    first = next(iter(train))[1].numpy()
    assert len(np.unique(first)) > 2          # the folds are sorted by class; shuffling mixes them


def test_repeat_makes_training_endless(demo_rotation):
    train, _, _ = pfam_loader.create_tf_datasets(demo_rotation, batch=64, repeat=True, bucket=True)
    n_batches = sum(1 for _ in train.take(3 * len(demo_rotation['ins_train']) // 64 + 5))
    assert n_batches == 3 * len(demo_rotation['ins_train']) // 64 + 5


def _numpy_stream(dat, batch, passes, **kwargs):
    lengths = pfam_loader.default_bucket_lengths(dat['len_max'])
    per_pass, stream = pfam_loader.training_batches(dat, batch, lengths, **kwargs)
    batches = list(itertools.islice(stream(), passes * per_pass))
    return per_pass, stream, lengths, batches


def test_numpy_training_batches_visit_every_example_once_per_pass_in_buckets(demo_rotation):
    dat = demo_rotation
    per_pass, _, lengths, batches = _numpy_stream(dat, 16, 2, seed=3)
    expected = sorted(zip([pfam_loader.decode(r) for r in dat['ins_train']],
                          dat['outs_train'][:, 0]))
    orders = []
    for one_pass in (batches[:per_pass], batches[per_pass:]):
        rows = [(pfam_loader.decode(r), int(y)) for ins, outs, weights in one_pass
                for r, y in zip(ins[weights > 0], outs[weights > 0, 0])]
        assert sorted(rows) == expected                       # each example once per pass
        orders.append(rows)
        for ins, outs, weights in one_pass:
            width = ins.shape[1]
            assert ins.dtype == np.int32 and outs.shape == (16, 1) and weights.shape == (16,)
            assert width in lengths                           # one of a few shapes
            assert set(weights) <= {0, 1} and weights[0] == 1 and np.all(np.diff(weights) <= 0)
            used = pfam_loader.sequence_lengths(ins)
            smaller = [n for n in lengths if n < width]       # rows of one bucket only
            assert used.max() <= width and (not smaller or used.min() > smaller[-1])
    assert orders[0] != orders[1]                             # a new order at each pass
    assert len(np.unique(batches[0][1])) > 2                  # classes mixed (folds are sorted)


def test_numpy_training_stream_resumes_where_it_left_off(demo_rotation):
    per_pass, stream, _, batches = _numpy_stream(demo_rotation, 32, 3, seed=0)
    for skip in (5, per_pass, per_pass + 7):
        resumed = list(itertools.islice(stream(skip), 3 * per_pass - skip))
        assert len(resumed) == len(batches) - skip
        assert all(np.array_equal(x, y) for a, b in zip(resumed, batches[skip:])
                   for x, y in zip(a, b))
    other = _numpy_stream(demo_rotation, 32, 1, seed=1)[3]
    assert not np.array_equal(other[0][1], batches[0][1])     # the seed chooses the order
    fixed = _numpy_stream(demo_rotation, 32, 2, shuffle=False)[3]
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(fixed[:per_pass], fixed[per_pass:]))


@pytest.mark.parametrize('lengths', [[64, 32], [32]])       # decreasing; too short for the data
def test_both_batch_makers_refuse_bad_bucket_lengths(demo_rotation, lengths):
    with pytest.raises(pfam_loader.DataError, match='bucket lengths must increase'):
        pfam_loader.training_batches(demo_rotation, 8, lengths)
    with pytest.raises(pfam_loader.DataError, match='bucket lengths must increase'):
        pfam_loader.create_tf_datasets(demo_rotation, 8, bucket=True, bucket_lengths=lengths)


def test_full_batch_fills_with_rows_of_weight_zero():
    ins, outs = np.array([[3, 4, 0], [5, 0, 0]]), np.array([[1], [2]])
    filled, labels, weights = pfam_loader.full_batch(ins, outs, 4)
    assert np.array_equal(filled, [[3, 4, 0], [5, 0, 0], [3, 4, 0], [3, 4, 0]])
    assert np.array_equal(labels[:, 0], [1, 2, 1, 1]) and np.array_equal(weights, [1, 1, 0, 0])
    assert np.array_equal(pfam_loader.full_batch(ins, outs, 2)[2], [1, 1])


def test_length_batches_cover_every_row_in_length_order(demo_rotation):
    ins = demo_rotation['ins_valid']
    widths = pfam_loader.default_bucket_lengths(demo_rotation['len_max'])
    plan = list(pfam_loader.length_batches(ins, 50, widths))
    rows = np.concatenate([r for r, _ in plan])
    assert np.array_equal(rows, pfam_loader.length_order(ins))
    for r, width in plan:
        longest = pfam_loader.sequence_lengths(ins[r]).max()
        assert width == min(n for n in widths if n >= longest)


# ---------------------------------------------------------------- command line
def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'pfam_loader.py'), *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize('make_args, message', [
    (lambda d: ['build', '--input', str(d / 'missing.csv'), '--out', str(d)],
     'no such file'),
    (lambda d: ['build', '--input', str(d / 'x.txt'), '--out', str(d)], 'unknown format'),
    (lambda d: ['build', '--input', str(d / 'x.csv'), '--families', str(d / 'empty.txt'),
                '--out', str(d)], 'family list is empty'),
    (lambda d: ['build', '--input', str(d / 'x.csv'), '--families', str(d / 'absent.txt'),
                '--out', str(d)], 'not in the data: PF99999'),
    (lambda d: ['build', '--input', str(d / 'x.csv'), '--out', str(d)], 'fewer than 5 folds'),
    (lambda d: ['build', '--input', str(d / 'bad.fa'), '--out', str(d)], 'no Pfam accession'),
    (lambda d: ['build', '--input', str(d / 'zero.csv'), '--out', str(d)], 'cannot read as a'),
])
@pytest.mark.slow
def test_cli_bad_input_exits_2_with_one_line(tmp_path, make_args, message):
    _write_fixture(str(tmp_path / 'x.csv'), 'csv')
    (tmp_path / 'x.txt').write_text('nothing to see\n')
    (tmp_path / 'empty.txt').write_text('# no families\n\n')
    (tmp_path / 'absent.txt').write_text('PF99999\n')
    (tmp_path / 'bad.fa').write_text('>no accession here\nACDE\n')
    (tmp_path / 'zero.csv').write_bytes(b'')
    result = _cli(*make_args(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert [line for line in result.stderr.splitlines() if 'error' in line] == \
        [result.stderr.strip().splitlines()[-1]]
    assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_cli_demo_builds_everything(tmp_path):
    result = _cli('demo', '--out', str(tmp_path), '--families', '5', '--version', 'D')
    assert result.returncode == 0, result.stderr
    names = set(os.listdir(tmp_path))
    assert {f'pfamD_fold_{k}.csv' for k in range(5)} | {'pfamD_metadata.json'} <= names
    assert not [name for name in names if name.endswith('.pkl')]   # nothing padded, no pickle
    assert 'wrote 5 folds' in result.stderr                 # progress output
    again = _cli('demo', '--out', str(tmp_path), '--families', '5', '--version', 'D')
    assert again.returncode == 2 and 'pass --force' in again.stderr


# ---------------------------------------------------------------- the real benchmark
@needs_real_data
def test_real_benchmark_has_the_documented_size(real_dir):
    meta = json.load(open(pfam_loader.metadata_path(real_dir, 'B')))
    assert meta['n_sequences'] == 15576 and meta['n_classes'] == 46 and meta['len_max'] == 782
    assert meta['classes'] == sorted(l.strip() for l in open(REAL_FAMILIES) if l.strip())
    dat = pfam_loader.load_rotation(real_dir, 0, 'B')
    sizes = [len(dat[f'ins_{s}']) for s in ('train', 'valid', 'test')]
    assert sum(sizes) == 15576 and abs(sizes[1] - 15576 / 5) < 46
    assert meta['inputs'][0]['path'] == os.path.abspath(REAL_CSV)


# ---------------------------------------------------------------- Stockholm edge cases
STOCKHOLM_INTERLEAVED = """# STOCKHOLM 1.0
#=GF ID One
#=GF AC PF00001.9
seqA/1-8  ACDE--
seqB/1-6  MK.VW-

seqA/1-8  FGHI
seqB/1-6  YY
//
# STOCKHOLM 1.0
#=GF AC PF00002.3
seqC/1-4  KLMN
//
"""


def test_stockholm_interleaved_blocks_are_joined(tmp_path):
    path = tmp_path / 'x.sto'
    path.write_text(STOCKHOLM_INTERLEAVED)
    frame = pfam_formats.read_records(str(path))
    assert frame['sequence'].tolist() == ['ACDEFGHI', 'MKVWYY', 'KLMN']
    assert frame['family'].tolist() == ['PF00001.9', 'PF00001.9', 'PF00002.3']


@pytest.mark.parametrize('text, message', [
    (STOCKHOLM_INTERLEAVED[:-3], 'no closing "//"'),                       # last // cut off
    (STOCKHOLM_INTERLEAVED.split('\n', 1)[1], 'expected a "# STOCKHOLM 1.0" header'),
    (STOCKHOLM_INTERLEAVED.replace('//\n# STOCK', '# STOCK', 1), 'before the "//"'),
    (STOCKHOLM_INTERLEAVED.replace('#=GF AC PF00002.3\n', ''), 'no "#=GF AC" line'),
])
def test_stockholm_damage_is_an_error_not_a_lost_family(tmp_path, text, message):
    path = tmp_path / 'x.sto'
    path.write_text(text)
    with pytest.raises(pfam_loader.DataError, match=message):
        pfam_formats.read_records(str(path))


# ---------------------------------------------------------------- atomic builds
def test_rebuild_needs_force_and_a_mixed_dataset_is_refused(tmp_path):
    source = tmp_path / 'in.csv'
    pfam_build.make_demo_records(n_families=3, seed=1, min_count=10, max_count=12).to_csv(
        source, index=False)
    out = str(tmp_path / 'd')
    pfam_build.build_dataset([str(source)], out, 'M', seed=0)
    fold_3 = open(pfam_loader.fold_path(out, 3, 'M')).read()
    with pytest.raises(pfam_loader.DataError, match='pass --force'):
        pfam_build.build_dataset([str(source)], out, 'M', seed=1)
    pfam_build.build_dataset([str(source)], out, 'M', seed=1, force=True)
    assert open(pfam_loader.fold_path(out, 3, 'M')).read() != fold_3
    assert not [n for n in os.listdir(out) if '-build-' in n or 'switch' in n]   # no staging left
    # folds mixed by other means (copied by hand): one fold of the other build
    with open(pfam_loader.fold_path(out, 3, 'M'), 'w') as f:
        f.write(fold_3)
    with pytest.raises(pfam_loader.DataError, match='different builds'):
        pfam_loader.load_rotation(out, 0, 'M')


def test_substitution_changes_residues_only_at_the_rate_and_repeats_with_the_seed():
    tokens = np.zeros((200, 300), dtype=np.uint8)
    tokens[:, :250] = pfam_loader.encode(['ACDEFGHIKLMNPQRSTVWYBZXUO' * 10] * 200)
    assert (pfam_loader.substitute(tokens, 0.0, 1) == tokens).all()
    changed = pfam_loader.substitute(tokens, 0.2, [0, 1, 5])
    assert changed.dtype == tokens.dtype and (changed[:, 250:] == 0).all()      # padding kept
    moved = changed != tokens
    assert ((changed[moved] >= 1) & (changed[moved] <= 20)).all()   # into standard residues
    # a draw of the residue it replaces changes nothing: 0.2 * 24/25 for these residues on average
    assert np.mean(changed[:, :250] != tokens[:, :250]) == pytest.approx(0.2 * 0.96, abs=0.01)
    assert (pfam_loader.substitute(tokens, 0.2, [0, 1, 5]) == changed).all()
    assert (pfam_loader.substitute(tokens, 0.2, [0, 1, 6]) != changed).any()
    every = pfam_loader.substitute(tokens, 1.0 - 1e-12, 3)[:, :250]
    assert set(np.unique(every)) <= set(range(1, 21))                 # standard residues only


# ---------------------------------------------------------------- class order
#: accessions whose order of first appearance (families come one after the other) is not sorted
_UNSORTED_NAMES = {'DEMO00': 'PF00300.1', 'DEMO01': 'PF00100.2', 'DEMO02': 'PF00400.1',
                   'DEMO03': 'PF00200.3'}


def _records_with_unsorted_names():
    frame = pfam_build.make_demo_records(n_families=4, seed=7, min_count=10, max_count=12)
    frame['family_accession'] = frame['family_accession'].map(_UNSORTED_NAMES)
    return frame


def _class_names(dat):
    return [dat['out_index_word'][i] for i in range(dat['n_classes'])]


def _labels_by_sequence(dat):
    return {pfam_loader.decode(row): dat['out_index_word'][int(k)]
            for split in ('train', 'valid', 'test')
            for row, k in zip(dat[f'ins_{split}'], dat[f'outs_{split}'][:, 0])}


def test_class_index_is_the_sorted_label_list_whatever_the_input_order(tmp_path):
    """Class i is the i-th label in sorted order in every rotation, for builds from the same
    records in different orders: a model's output i means the same family in all of them."""
    frame = _records_with_unsorted_names()
    names = sorted(_UNSORTED_NAMES.values())
    orders = {'given': frame, 'reversed': frame.iloc[::-1],
              'shuffled': frame.sample(frac=1, random_state=4)}
    built = {}
    for order, records in orders.items():
        records.to_csv(tmp_path / f'{order}.csv', index=False)
        meta = pfam_build.build_dataset([str(tmp_path / f'{order}.csv')], str(tmp_path / order),
                                         'C', seed=2)
        assert meta['classes'] == names
        built[order] = [pfam_loader.load_rotation(str(tmp_path / order), r, 'C')
                        for r in range(5)]
    for order, rotations in built.items():
        for r, dat in enumerate(rotations):
            assert _class_names(dat) == names, (order, r)
            assert dat['out_word_index'] == {name: i for i, name in enumerate(names)}
            for split in ('train', 'test'):
                np.testing.assert_array_equal(dat[f'outs_{split}'],
                                              built['given'][r][f'outs_{split}'])
    truth = dict(zip(frame['sequence'], frame['family_accession']))
    assert _labels_by_sequence(built['shuffled'][3]) == truth


def test_course_folds_and_their_conversion_index_classes_in_sorted_order(tmp_path):
    """Course fold CSVs (no metadata; labels not in sorted order of appearance) and the dataset
    converted from them give class i = the i-th sorted label in every rotation."""
    frame = _records_with_unsorted_names()
    names = sorted(_UNSORTED_NAMES.values())
    course = tmp_path / 'course'
    course.mkdir()
    folds = np.arange(len(frame)) % 5
    for k in range(5):
        part = frame[folds == k]
        pd.DataFrame({'string': part['sequence'], 'label': part['family_accession']}).to_csv(
            pfam_loader.fold_path(str(course), k, 'B'), index=False)
    meta = pfam_build.convert_course(str(course), str(tmp_path / 'converted'), 'B')
    assert meta['classes'] == names
    truth = dict(zip(frame['sequence'], frame['family_accession']))
    for basedir in (course, tmp_path / 'converted'):
        for r in range(5):
            dat = pfam_loader.load_rotation(str(basedir), r, 'B')
            assert _class_names(dat) == names, (basedir.name, r)
            assert _labels_by_sequence(dat) == truth


# ---------------------------------------------------------------- build --max_length
@pytest.mark.slow
def test_build_refuses_a_huge_sequence_unless_told_to_skip_it(tmp_path):
    """One 2,000,000-residue sequence: a one-line error naming it and --max_length (training
    would pad every sequence to it: ~10 GB); with --skip_long it is left out and counted."""
    frame = pfam_build.make_demo_records(n_families=3, seed=1)
    frame.loc[len(frame)] = ['MKV' + 'ACDEFGHIKL' * 199_999 + 'AAAAAAA', 'DEMO01']
    source = tmp_path / 'in.csv.gz'
    frame.to_csv(source, index=False)
    result = _cli('build', '--input', str(source), '--out', str(tmp_path / 'a'))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        'pfam_loader.py: error: sequence DEMO01:MKVACDEFGHIKLACDEFGH... has 2,000,000 residues, '
        f'more than --max_length {pfam_build.MAX_LENGTH:,}; raise --max_length, or pass '
        '--skip_long to leave such sequences out')
    assert not (tmp_path / 'a' / 'pfamB_metadata.json').exists()
    result = _cli('build', '--input', str(source), '--out', str(tmp_path / 'b'), '--skip_long')
    assert result.returncode == 0, result.stderr
    assert 'skipped 1 sequence(s) longer than --max_length 40,000 residues' in result.stderr
    meta = json.load(open(tmp_path / 'b' / 'pfamB_metadata.json'))
    assert meta['skipped_long'] == 1 and meta['max_length'] == 40_000
    assert meta['n_sequences'] == len(frame) - 1 and meta['len_max'] < 1000
    result = _cli('build', '--input', str(source), '--out', str(tmp_path / 'c'),
                  '--max_length', '2000000')                       # the user's own bound
    assert result.returncode == 0, result.stderr
    assert json.load(open(tmp_path / 'c' / 'pfamB_metadata.json'))['len_max'] == 2_000_000
    help_text = ' '.join(_cli('build', '--help').stdout.split())
    assert '--max_length RESIDUES' in help_text and '--skip_long' in help_text


def test_max_length_of_build_dataset_counts_and_checks(tmp_path):
    frame = pfam_build.make_demo_records(n_families=2, seed=2)
    longest = int(frame['sequence'].str.len().max())
    source = tmp_path / 'in.csv'
    frame.to_csv(source, index=False)
    with pytest.raises(pfam_loader.DataError, match=r'more than --max_length 50 \(and \d+ more\)'):
        pfam_build.build_dataset([str(source)], str(tmp_path / 'a'), 'Z', max_length=50)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(pfam_loader.DataError, match='--max_length must be a positive'):
            pfam_build.build_dataset([str(source)], str(tmp_path / 'a'), 'Z', max_length=bad)
    meta = pfam_build.build_dataset([str(source)], str(tmp_path / 'b'), 'Z',
                                     max_length=longest)              # the longest fits
    assert meta['skipped_long'] == 0 and meta['len_max'] == longest


# ---------------------------------------------------------------- fuzzed inputs
def test_random_and_truncated_inputs_parse_or_raise_data_errors(tmp_path):
    """Random, truncated, corrupted and truncated-gzip bytes (seeded) fed to every reader:
    each parses or raises `DataError`/`FileNotFoundError`, never another exception."""
    import predict
    rng = np.random.default_rng(2024)
    seeds = [b'>a desc\nACDEFGHIKL\n>b\nMKV\n', b'id,sequence\nx,ACDE\ny,MKV\n',
             b'sequence,family_accession\nACDE,PF00001.1\nMKV,PF00002.2\n',
             b'# STOCKHOLM 1.0\n#=GF AC PF00001.1\na ACD-E\nb MK.V\n//\n',
             b'>x/1-10 PF00001.1;fam;\nACDEF\n', b'string,label\nACDE,PF00001.1\n',
             b'\xef\xbb\xbf>a\nACD\n']
    readers = [predict.read_sequences, pfam_formats.read_records, pfam_loader.read_fold_csv]
    for case in range(50):
        base = seeds[case % len(seeds)]
        kind = case % 5
        if kind == 0:
            data = rng.bytes(int(rng.integers(0, 200)))
        elif kind == 1:
            data = base[:int(rng.integers(0, len(base)))]
        elif kind == 2:
            data = bytearray(base)
            for position in rng.integers(0, len(data), 3):
                data[position] = int(rng.integers(0, 256))
            data = bytes(data)
        elif kind == 3:
            whole = gzip.compress(base)
            data = whole[:int(rng.integers(0, len(whole)))]
        else:
            data = gzip.compress(base + rng.bytes(20))
        for suffix in ('.fa', '.csv', '.sto', '.txt'):
            path = tmp_path / f'in{suffix}'
            path.write_bytes(data)
            for read in readers:
                try:
                    read(str(path))
                except (pfam_loader.DataError, FileNotFoundError):
                    pass
        folds = tmp_path / f'folds{case}'               # one damaged fold of five
        folds.mkdir()
        for k in range(5):
            (folds / f'pfamB_fold_{k}.csv').write_bytes(data if k == case % 5 else seeds[5])
        try:
            pfam_loader.load_rotation(str(folds), 0, 'B')
        except (pfam_loader.DataError, FileNotFoundError):
            pass


@pytest.mark.parametrize('argv, message', [
    (['demo', '--seed', '-5'], '--seed must be in 0 .. 2**32 - 1, got -5'),
    (['demo', '--seed', str(2 ** 32)], '--seed must be in 0 .. 2**32 - 1'),
    (['build', '--input', 'x.csv', '--seed', '-1'], '--seed must be in'),
    (['build', '--input', 'x.csv', '--top', '0'], '--top must be a positive integer'),
])
def test_out_of_range_build_options_are_one_line_errors(tmp_path, argv, message):
    result = run_cli('pfam_loader.py', *argv, '--out', str(tmp_path / 'out'))
    assert result.returncode == 2 and result.stderr.count('\n') == 1, result.stderr
    assert message in result.stderr and not (tmp_path / 'out').exists()

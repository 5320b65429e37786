"""Pfam data layer: the course's loader API on Keras 3, rotations, tf.data pipelines, the CLI.

Course API (CS 5043 HW6; same names, signatures and defaults; the suite's extras are keywords)::

    dat = load_rotation('data/pfam', rotation=0, version='B')    # works on course directories too
    train, valid, test = create_tf_datasets(dat, 64, -1, 1000)  # batch, prefetch, shuffle buffer
    frames = load_pfam_dataset('data/pfam', rotation=0, version='B')   # DataFrames per split
    dat = prepare_data_set('data/pfam', rotation=0, version='B')

Command line::

    python pfam_loader.py build --input data/pfam46/pfam46_seed.csv.gz --out data/pfam --version B
    python pfam_loader.py demo --out data/demo        # synthetic 46-family data, no download
    python pfam_loader.py convert --input <course dir> --out data/course --version B

What `load_rotation` reads, in this order (``V`` = version):

1. the suite's datasets (``pfamV_fold_k.csv`` + ``pfamV_metadata.json``, `pfam_build`): read
   under the dataset's lock after finishing any replacement whose builder was killed, so a load
   sees the old dataset or the new one whole (`pfam_build.reading`); the folds' hashes are also
   checked against the metadata, so folds mixed by other means are refused;
2. a course directory with fold CSVs: re-tokenized from the strings with the suite's vocabulary
   (the course's rotation pickles are not read: they are left-padded, truncate validation/test
   rows and do not record their letter map);
3. course rotation pickles alone (``pfamV_rotation_r.pkl``, 2022 and later vintages): converted
   to right padding (lossless) with classes re-indexed; the token ids stay the file's, and
   ``dat['vocabulary']`` is None because the letter map is unknown. They are read by
   `fileio.load_pickle`, which takes arrays and plain values only and runs no code.

Whatever the source, the dict has the course's keys (`ROTATION_KEYS`) with Python ints, right
padding and class ``i`` = the i-th sorted family name in every rotation (0-based
``out_index_word``), plus ``vocabulary`` (letters of tokens 1, 2, ... or None) and ``source``.
Tokens and padding: `pfam_tokens`. Rotation ``r`` of ``k`` folds: train = folds ``r .. r+k-3``
(mod k), validation = ``r+k-2``, test = ``r+k-1``, as in the course.
"""
import argparse
import itertools
import os
import pickle
import re
import sys

import numpy as np
import pandas as pd

from fileio import command as fileio_command  # noqa: E402
from fileio import DataError, load_pickle, atomic_write, log, open_text, sha256  # noqa: F401 (re-exported)
from pfam_build import (DEFAULT_BASEDIR, DEFAULT_VERSION, DEMO_BASEDIR,  # noqa: F401
                        MAX_DEMO_FAMILIES, MAX_LENGTH, N_FOLDS, build_dataset, build_demo,
                        convert_course, count_folds, ensure_demo, fold_path, make_demo_records,
                        metadata_path, read_fold_csv, read_metadata, reading, rotation_path,
                        versions_in)
from pfam_formats import FORMATS, read_family_list, read_records  # noqa: F401 (re-exported)
from pfam_tokens import (AMBIGUOUS, AMINO_ACIDS, BUCKET_GROWTH, N_TOKENS,  # noqa: F401 (re-exported)
                         PAD_TOKEN, VOCABULARY, decode, default_bucket_lengths, encode,
                         length_batches, length_order, padding_rows, right_padded,
                         sequence_lengths)

ROTATION_KEYS = ('ins_train', 'outs_train', 'ins_valid', 'outs_valid', 'ins_test', 'outs_test',
                 'len_max', 'n_tokens', 'out_index_word', 'out_word_index', 'rotation', 'n_classes')
SPLITS = ('train', 'valid', 'test')
_PFAM_LOWER = re.compile(r'pf\d{5}(\.\d+)?')     # the course's label tokenizer lower-cases names


# ---------------------------------------------------------------- the course API
def load_pfam_file(basedir, fold, version=''):
    """Fold ``fold`` as a DataFrame with columns ``string`` and ``label``."""
    return _read_fold(basedir, fold, version)[0]


def _read_fold(basedir, fold, version):
    """(DataFrame, SHA-256 of the file) of fold ``fold``: one read serves both."""
    path = fold_path(basedir, fold, version)
    with reading(basedir, version):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path} not found' + _versions_hint(basedir, version))
        return read_fold_csv(path)


def rotation_folds(rotation, nfolds=N_FOLDS, ntrain_folds=3):
    """Fold indices ``(train list, validation, test)`` of a rotation (`DataError` if invalid)."""
    if isinstance(rotation, bool) or not isinstance(rotation, (int, np.integer)) \
            or not 0 <= rotation < nfolds:
        raise DataError(f'rotation must be an integer in 0..{nfolds - 1}, got {rotation!r}')
    if not 1 <= ntrain_folds <= nfolds - 2:
        raise DataError(f'ntrain_folds must be in 1..{nfolds - 2}, got {ntrain_folds}')
    rotation = int(rotation)
    train = [(rotation + i) % nfolds for i in range(ntrain_folds)]
    return train, (rotation + ntrain_folds) % nfolds, (rotation + ntrain_folds + 1) % nfolds


def load_pfam_dataset(basedir=DEFAULT_BASEDIR, rotation=0, nfolds=N_FOLDS, ntrain_folds=3,
                      version=''):
    """``{'train', 'valid', 'test'}`` DataFrames (``string``, ``label``) of one rotation."""
    train, valid, test = rotation_folds(rotation, nfolds, ntrain_folds)
    return {split: pd.concat([load_pfam_file(basedir, k, version) for k in folds],
                             ignore_index=True)
            for split, folds in zip(SPLITS, (train, [valid], [test]))}


def prepare_data_set(basedir=DEFAULT_BASEDIR, rotation=0, nfolds=N_FOLDS, ntrain_folds=3,
                     version=''):
    """One rotation's dict (`ROTATION_KEYS` + ``vocabulary``, ``source``) built from the fold
    CSVs with the suite's vocabulary; ``len_max`` is the longest sequence of all folds, so no
    row is truncated. Classes: the dataset's metadata, else the sorted labels of all folds."""
    with reading(basedir, version):                # one dataset, not one being replaced
        metadata = read_metadata(basedir, version)
        frames, hashes = zip(*(_read_fold(basedir, k, version) for k in range(nfolds)))
    if metadata is not None:
        _check_folds_match(basedir, version, metadata, hashes)
        classes = list(metadata['classes'])
    else:
        classes = sorted(set().union(*(set(frame['label']) for frame in frames)))
    return _assemble(frames, classes, rotation, nfolds, ntrain_folds,
                     'dataset' if metadata is not None else 'course fold CSVs')


def save_data_sets(basedir=DEFAULT_BASEDIR, out_basedir=None, nfolds=N_FOLDS, ntrain_folds=3,
                   version=''):
    """Write ``pfam{version}_rotation_{r}.pkl`` for every rotation (atomically), as the course
    does. The suite itself never needs them: `load_rotation` assembles rotations from the folds."""
    out_basedir = basedir if out_basedir is None else out_basedir
    for rotation in range(nfolds):
        dat = prepare_data_set(basedir, rotation, nfolds, ntrain_folds, version)
        atomic_write(rotation_path(out_basedir, rotation, version),
                     lambda f, dat=dat: pickle.dump(dat, f, protocol=pickle.HIGHEST_PROTOCOL))
        log(f'rotation {rotation}: {len(dat["ins_train"]):,} train, {len(dat["ins_valid"]):,} '
            f'validation, {len(dat["ins_test"]):,} test')


def load_rotation(basedir=DEFAULT_BASEDIR, rotation=0, version=''):
    """One rotation of a suite dataset or a course directory (see the module docstring).

    Returns:
        dict with `ROTATION_KEYS`, ``vocabulary`` and ``source``: ``ins_*`` (N, len_max) uint8
        (int32 from course pickles) right-padded tokens, ``outs_*`` int32 (N, 1) class indices,
        ``out_index_word[i]`` the name of class i.

    Raises:
        FileNotFoundError: no dataset of that version in ``basedir``.
        DataError: a damaged, mixed or malformed dataset, or a bad rotation (one-line message).
    """
    with reading(basedir, version):                # metadata and folds of one dataset
        metadata = read_metadata(basedir, version)
        n_folds = int(metadata['n_folds']) if metadata is not None else \
            count_folds(basedir, version)
        if metadata is not None or n_folds >= 3:
            rotation_folds(rotation, n_folds, n_folds - 2)
            return prepare_data_set(basedir, rotation, n_folds, n_folds - 2, version)
        rotation_folds(rotation)
        path = rotation_path(basedir, rotation, version)
        if os.path.isfile(path):
            return _from_course_pickle(path, rotation)
    hint = ('python pfam_loader.py demo --out ' + basedir if 'demo' in basedir else
            'python pfam_loader.py build --input ... --out ' + basedir)
    raise FileNotFoundError(f'no dataset of version {version!r} in {basedir!r} (neither '
                            f'{os.path.basename(fold_path(basedir, 0, version))} nor '
                            f'{os.path.basename(path)})' + _versions_hint(basedir, version)
                            + f'; build one with: {hint}')


def _versions_hint(basedir, version):
    others = [v for v in versions_in(basedir) if v != version]
    return f' (versions present: {", ".join(map(repr, others))}; pass that version)' \
        if others else ''


def _check_folds_match(basedir, version, metadata, hashes):
    """`DataError` when a fold file (``hashes``: their SHA-256s) is not the one the metadata was
    written with."""
    expected_hashes = metadata.get('fold_sha256')
    if expected_hashes is None:                         # datasets of older suite versions
        return
    if len(hashes) != len(expected_hashes):
        raise DataError(f'{basedir}: dataset {version!r} has {len(expected_hashes)} folds, not '
                        f'{len(hashes)}')
    for k, (actual, expected) in enumerate(zip(hashes, expected_hashes)):
        if actual != expected:
            raise DataError(f'{fold_path(basedir, k, version)} does not match '
                            f'{os.path.basename(metadata_path(basedir, version))}: the dataset '
                            'mixes files of different builds (copied or edited by hand?); '
                            'rebuild it with --force')


def _assemble(frames, classes, rotation, nfolds, ntrain_folds, source):
    """The rotation dict from the fold DataFrames and the ordered class names."""
    word_index = {c: i for i, c in enumerate(classes)}
    len_max = max(int(frame['string'].str.len().max()) for frame in frames)
    dat = {'rotation': int(rotation), 'len_max': len_max, 'n_tokens': N_TOKENS,
           'n_classes': len(classes), 'out_index_word': dict(enumerate(classes)),
           'out_word_index': word_index, 'vocabulary': VOCABULARY, 'source': source}
    train, valid, test = rotation_folds(rotation, nfolds, ntrain_folds)
    for split, folds in zip(SPLITS, (train, [valid], [test])):
        part = pd.concat([frames[k] for k in folds], ignore_index=True)
        outs = part['label'].map(word_index)
        if outs.isna().any():
            raise DataError(f'label {part["label"][outs.isna()].iloc[0]!r} of the {split} folds '
                            f'is not one of the dataset\'s {len(classes)} classes')
        dat[f'ins_{split}'] = encode(part['string'].tolist(), len_max,
                                     names=[f'{split} row {i}' for i in range(len(part))])
        dat[f'outs_{split}'] = outs.to_numpy(dtype=np.int32).reshape(-1, 1)
    return dat


def canonical_label(name):
    """A class name as the suite spells it: lower-cased Pfam accessions (the course's label
    tokenizer lower-cases) get their upper case back; other names are kept."""
    name = str(name).strip()
    return name.upper() if _PFAM_LOWER.fullmatch(name) else name


def _course_class_map(path, out_index_word):
    """``{class index: canonical name}`` of a course pickle's ``out_index_word`` (0- or 1-based
    indices, Python or NumPy integers); `DataError` for anything else."""
    try:
        names = {int(k): canonical_label(v) for k, v in out_index_word.items()
                 if not isinstance(k, (bool, float))}
        if len(names) != len(out_index_word) or not names or min(names) < 0 \
                or max(names) > 10 * len(names) + 10:        # a sparse map of few classes
            raise ValueError
    except (AttributeError, TypeError, ValueError):
        raise DataError(f'{path}: out_index_word is not a map of class indices (0 or 1 on) to '
                        'class names') from None
    return names


def _course_count(path, raw, key, minimum):
    """``raw[key]`` (a count: ``n_tokens``, ``n_classes``) as an int >= ``minimum``, or None
    when the pickle does not record it; `DataError` for another value."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise DataError(f'{path}: {key} is {value!r}, not a count (an integer >= {minimum})')
    return int(value)


def _check_course_split(path, split, ins, outs, n_tokens, n_labels, new_index):
    """`DataError` naming the split and the bad values: an empty split, token ids < 0 or >=
    ``n_tokens`` (when recorded), class indices < 0, >= ``n_labels`` or of no class."""
    if len(outs) == 0 or ins.shape[1] == 0:
        raise DataError(f'{path}: the {split} split is empty (ins_{split} has shape '
                        f'{ins.shape}); a rotation needs training, validation and test '
                        'sequences')
    if ins.min() < 0 or (n_tokens is not None and ins.max() >= n_tokens):
        bad = (ins < 0) | (ins >= n_tokens) if n_tokens is not None else ins < 0
        values = ', '.join(map(str, np.unique(ins[bad])[:5].tolist()))
        allowed = f'0..{n_tokens - 1} (n_tokens {n_tokens})' if n_tokens is not None else \
            '0 and up'
        raise DataError(f'{path}: ins_{split} holds {int(bad.sum()):,} token id(s) outside '
                        f'{allowed}, e.g. {values} in row {int(np.argmax(bad.any(axis=1)))}')
    bad = (outs < 0) | (outs >= n_labels)
    bad[~bad] = new_index[outs[~bad]] < 0                 # an index the class map skips
    if bad.any():
        values = np.unique(outs[bad])
        raise DataError(f'{path}: outs_{split} holds {int(bad.sum()):,} class index(es) '
                        f'outside 0..{n_labels - 1} ({n_labels} classes in out_index_word), '
                        f'e.g. {", ".join(map(str, values[:5].tolist()))} in row '
                        f'{int(np.argmax(bad))}')


def _from_course_pickle(path, rotation):
    """A course rotation pickle → the suite's dict (right padding, canonical class order)."""
    try:
        with open(path, 'rb') as f:
            raw = load_pickle(f)          # plain values and arrays only: runs no code
    except Exception as err:          # unpickling can raise almost anything on a damaged file
        raise DataError(f'{path}: not a readable rotation pickle ({type(err).__name__}: '
                        f'{str(err).splitlines()[0] if str(err) else "no detail"})') from None
    needed = {f'{kind}_{split}' for kind in ('ins', 'outs') for split in SPLITS} | \
        {'out_index_word'}
    if not isinstance(raw, dict) or not needed <= set(raw):
        what = f'lacks {", ".join(sorted(needed - set(raw)))}' if isinstance(raw, dict) else \
            f'holds a {type(raw).__name__}, not a rotation dict'
        raise DataError(f'{path}: not a rotation pickle: it {what}')
    names = _course_class_map(path, raw['out_index_word'])
    first = 0 if 0 in names else 1            # the course's maps are 1-based, outs = index - 1
    classes = sorted(set(names.values()))
    new_index = np.full(max(names) + 1 - first, -1, dtype=np.int32)
    for k, name in names.items():
        new_index[k - first] = classes.index(name)
    n_tokens = _course_count(path, raw, 'n_tokens', 2)
    n_labels = min(len(new_index), _course_count(path, raw, 'n_classes', 1) or len(new_index))
    recorded = _course_count(path, raw, 'rotation', 0)
    dat = {'rotation': rotation if recorded is None else recorded, 'n_classes': len(classes),
           'out_index_word': dict(enumerate(classes)),
           'out_word_index': {c: i for i, c in enumerate(classes)},
           'vocabulary': None, 'source': 'course pickle'}
    shifted, full = 0, 0
    for split in SPLITS:
        ins = np.asarray(raw[f'ins_{split}'])
        outs = np.asarray(raw[f'outs_{split}']).reshape(-1)
        if ins.ndim != 2 or not np.issubdtype(ins.dtype, np.integer) \
                or not (np.issubdtype(outs.dtype, np.integer) or outs.size == 0):
            raise DataError(f'{path}: ins_{split}/outs_{split} are not a token matrix and its '
                            'class indices')
        if len(ins) != len(outs):
            raise DataError(f'{path}: ins_{split}/outs_{split} are not a token matrix and its '
                            f'class indices: {len(ins):,} rows but {len(outs):,} labels')
        _check_course_split(path, split, ins, outs, n_tokens, n_labels, new_index)
        rows = padding_rows(ins)
        shifted += len(rows)
        if split != 'train':
            full += int(np.count_nonzero(sequence_lengths(ins) == ins.shape[1]))
        dat[f'ins_{split}'] = right_padded(ins, rows).astype(np.int32, copy=False)
        dat[f'outs_{split}'] = new_index[outs].reshape(-1, 1)
    dat['len_max'] = int(dat['ins_train'].shape[1])
    dat['n_tokens'] = n_tokens or int(dat['ins_train'].max()) + 2
    log(f'{path}: course pickle: {shifted:,} rows moved from left to right padding; {full:,} '
        f'validation/test rows fill all {dat["len_max"]} positions (the course loader may have '
        'cut them); the letter of each token id is not recorded, so models trained on it cannot '
        'read new sequences: keep the fold CSVs beside the pickles to have them re-tokenized')
    return dat


# ---------------------------------------------------------------- tf.data pipelines
def _checked_bucket_lengths(bucket_lengths, lengths):
    """``bucket_lengths`` as a list, checked: increasing, the last >= the longest of ``lengths``."""
    bucket_lengths = list(bucket_lengths)
    if bucket_lengths != sorted(bucket_lengths) or bucket_lengths[-1] < lengths.max():
        raise DataError(f'bucket lengths must increase and end at >= {lengths.max()}, got '
                        f'{bucket_lengths}')
    return bucket_lengths


def padding_overhead(lengths, bucket_lengths):
    """Padded positions per residue when each sequence is padded to its bucket's length."""
    lengths = np.asarray(lengths)
    widths = np.asarray(bucket_lengths)[np.searchsorted(bucket_lengths, lengths)]
    return float(widths.sum() / lengths.sum() - 1)


def _right_padded_splits(dat):
    """``dat`` with every ``ins_*`` right-padded (a copy when one needed shifting)."""
    fixed = dict(dat)
    for split in SPLITS:
        rows = padding_rows(dat[f'ins_{split}'])
        if len(rows):
            log(f'create_tf_datasets: ins_{split} is not right-padded ({len(rows):,} rows, e.g. '
                'pad_sequences\' default padding="pre"): moving every residue to the start of '
                'its row')
            fixed[f'ins_{split}'] = right_padded(dat[f'ins_{split}'], rows)
    return fixed


def _variable_length_dataset(ins, outs):
    """Examples trimmed to their own length (int32 tokens), ready for bucketing.

    Built from the residues alone (a ragged tensor), not from the padded matrix: at the
    course's scale (200K rows padded to 3,934) that saves TensorFlow a copy of ~0.8 GB.
    """
    import tensorflow as tf                        # deferred: building data needs no TensorFlow
    ins = np.asarray(ins)
    ragged = tf.RaggedTensor.from_row_lengths(ins[ins != PAD_TOKEN],
                                              sequence_lengths(ins).astype(np.int64))
    ds = tf.data.Dataset.from_tensor_slices((ragged, np.asarray(outs)))
    return ds.map(lambda x, y: (tf.cast(x, tf.int32), y), num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=True)


def create_tf_datasets(dat, batch=8, prefetch=None, shuffle=None, repeat=False, cache=False, *,
                       bucket=False, bucket_lengths=None, seed=None):
    """Training, validation and test ``tf.data.Dataset``s of ``(ins, outs)`` batches.

    The course's semantics for the positional arguments: training data is cached, repeated,
    shuffled, batched and prefetched in that order; validation and test are cached, batched and
    prefetched, in order.

    Args:
        dat: a rotation dict (`load_rotation`); left-padded ``ins_*`` are shifted to the right
            (lossless, with a message), since bucketing trims on the right.
        batch: examples per batch.
        prefetch: batches to prefetch; None or 0 for none, -1 for AUTOTUNE.
        shuffle: training shuffle buffer: None/0/False for none, an int for that buffer size,
            True for the whole training set (the folds are sorted by class).
        repeat: repeat the training set forever (use with ``steps_per_epoch``).
        cache: cache the prepared examples in memory.
        bucket: (suite) batch training examples of similar length (buckets `bucket_lengths`) and
            pad a batch only to its bucket's length instead of ``len_max``. Validation and test
            batches are then formed in `length_order` of their examples (each padded to its
            batch's longest); map predictions back with ``np.argsort(length_order(ins))``.
        bucket_lengths: (suite) increasing padded lengths of the buckets, the last >= the
            longest sequence; default `default_bucket_lengths`.
        seed: (suite) shuffle seed (None: a fresh one per run).

    Returns:
        (train, valid, test) datasets. Every training example appears exactly once per pass.
    """
    import tensorflow as tf                        # deferred: building data needs no TensorFlow
    dat = _right_padded_splits(dat)
    prefetch = tf.data.AUTOTUNE if prefetch == -1 else prefetch
    buffer = len(dat['ins_train']) if shuffle is True else int(shuffle or 0)

    def training(ds):
        ds = ds.cache() if cache else ds
        ds = ds.repeat() if repeat else ds
        return ds.shuffle(buffer, seed=seed) if buffer else ds

    def finish(ds):
        return ds.prefetch(prefetch) if prefetch else ds

    if not bucket:
        def padded(split):
            ds = tf.data.Dataset.from_tensor_slices((dat[f'ins_{split}'], dat[f'outs_{split}']))
            ds = ds.map(lambda x, y: (tf.cast(x, tf.int32), y))
            ds = training(ds) if split == 'train' else (ds.cache() if cache else ds)
            return finish(ds.batch(batch))
        return tuple(padded(split) for split in SPLITS)

    train_lengths = sequence_lengths(dat['ins_train'])
    lengths = _checked_bucket_lengths(bucket_lengths or default_bucket_lengths(dat['len_max']),
                                      train_lengths)
    train = training(_variable_length_dataset(dat['ins_train'], dat['outs_train']))
    # bucket_by_sequence_length: length in [b[i-1], b[i]) goes to bucket i, padded to b[i] - 1.
    boundaries = [n + 1 for n in lengths]
    train = train.bucket_by_sequence_length(
        lambda x, y: tf.shape(x)[0], bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch] * (len(lengths) + 1), pad_to_bucket_boundary=True)
    if not repeat:
        # Every bucket ends with one partial batch: tell Keras the exact number of batches per
        # pass (progress bars, no "ran out of data" warning).
        buckets = np.searchsorted(boundaries, train_lengths, side='right')
        n_batches = int(sum(-(-count // batch) for count in np.bincount(buckets) if count))
        train = train.apply(tf.data.experimental.assert_cardinality(n_batches))

    def sorted_by_length(split):
        ins, outs = dat[f'ins_{split}'], dat[f'outs_{split}']
        order = length_order(ins)
        ds = _variable_length_dataset(ins[order], outs[order])
        ds = ds.cache() if cache else ds
        return finish(ds.padded_batch(batch))
    return finish(train), sorted_by_length('valid'), sorted_by_length('test')


# ---------------------------------------------------------------- NumPy batches (no TensorFlow)
def _pass_plan(order, buckets, batch):
    """The batches (row indices) of one pass that visits the rows in ``order``: each bucket's
    rows are batched as they arrive, a batch closing when full, each bucket's partial batch at
    the end of the pass (as ``tf.data``'s ``bucket_by_sequence_length`` does)."""
    arrival = buckets[order]
    plan = []
    for bucket in np.unique(arrival):
        seen = np.flatnonzero(arrival == bucket)
        for start in range(0, len(seen), batch):
            part = seen[start:start + batch]
            plan.append((part[-1] if len(part) == batch else len(order) + bucket, order[part]))
    plan.sort(key=lambda closed: closed[0])
    return [rows for _, rows in plan]


def full_batch(ins, outs, batch):
    """``(ins, outs, weights)`` filled up to ``batch`` rows with copies of the first row of
    weight 0: every batch of one width then has one shape (one compiled program, the same in
    every rotation), and a loss or metric weighted by ``weights`` is that of the real rows."""
    weights = np.ones(batch, dtype=np.float32)
    if len(ins) < batch:
        fill = np.zeros(batch - len(ins), dtype=np.int64)
        ins, outs = np.concatenate([ins, ins[fill]]), np.concatenate([outs, outs[fill]])
        weights[len(weights) - len(fill):] = 0
    return ins, outs, weights


def training_batches(dat, batch, bucket_lengths=None, *, shuffle=True, seed=0):
    """The training set as an endless stream of NumPy batches, made without TensorFlow (for the
    JAX backend; `create_tf_datasets` feeds TensorFlow).

    Pass ``p`` over the training set visits it in the order ``np.random.default_rng([seed, p])``
    draws (``shuffle=False``: in file order); each batch holds rows of one length bucket
    (``bucket_lengths``; default one bucket of ``len_max``) trimmed to the bucket's length, and
    each bucket's last, partial batch is filled up with rows of weight 0 (`full_batch`), so that
    the stream has one shape per bucket.

    Args:
        dat: a rotation dict (left-padded rows are shifted right first).
        batch: examples per batch.
        bucket_lengths: increasing padded lengths, the last >= the longest training sequence.
        shuffle, seed: the pass order.

    Returns:
        (batches per pass, ``stream``): ``stream(skip=0)`` generates the stream's batches (int32
        (batch, width) tokens, (batch, 1) labels, (batch,) float32 weights) from batch ``skip``
        on; the skipped ones (a resumed run's finished epochs) are not made.
    """
    ins, outs = right_padded(np.asarray(dat['ins_train'])), np.asarray(dat['outs_train'])
    lengths = sequence_lengths(ins)
    widths = np.asarray(_checked_bucket_lengths(bucket_lengths or [dat['len_max']], lengths))
    buckets = np.searchsorted(widths, np.maximum(lengths, 1))
    per_pass = int(sum(-(-count // batch) for count in np.bincount(buckets) if count))

    def stream(skip=0):
        for number in itertools.count(skip // per_pass):
            order = (np.random.default_rng([seed, number]).permutation(len(ins)) if shuffle
                     else np.arange(len(ins)))
            for rows in _pass_plan(order, buckets, batch)[skip % per_pass:]:
                yield full_batch(ins[rows, :widths[buckets[rows[0]]]].astype(np.int32),
                                 outs[rows], batch)
            skip = 0
    return per_pass, stream


# ---------------------------------------------------------------- command line
def create_parser():
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(
        description='Build cross-validation folds of Pfam families for the classifiers.',
        formatter_class=formatter)
    commands = parser.add_subparsers(dest='command', required=True)
    build = commands.add_parser(
        'build', help='folds from real Pfam files', formatter_class=formatter,
        description='Read real Pfam data, keep the chosen families, split them into stratified '
                    'folds (no sequence in two folds) and write the fold CSVs and a metadata JSON '
                    '(rotations are assembled from the folds when loaded). Standard benchmark: '
                    '--input data/pfam46/pfam46_seed.csv.gz --out data/pfam --version B')
    build.add_argument('--input', nargs='+', required=True, metavar='FILE',
                       help='CSV/TSV(.gz) with sequence,family_accession columns; a Kaggle "Pfam '
                            'seed random split" directory; Pfam FASTA; or Stockholm')
    build.add_argument('--format', default='auto', choices=FORMATS, help='input format')
    build.add_argument('--out', default=DEFAULT_BASEDIR, help='output directory')
    which = build.add_mutually_exclusive_group()
    which.add_argument('--families', metavar='FILE', help='file of accessions to keep, one a line')
    which.add_argument('--top', type=int, metavar='K', help='keep the K largest families')
    build.add_argument('--folds', type=int, default=N_FOLDS, help='number of folds')
    build.add_argument('--seed', type=int, default=0, help='seed of the stratified split')
    build.add_argument('--max_length', type=int, default=MAX_LENGTH, metavar='RESIDUES',
                       help='a longer sequence is an error naming it (training pads sequences '
                            'to the longest: one of 2,000,000 residues needs ~10 GB); the '
                            'course data\'s longest is 3,934')
    build.add_argument('--skip_long', action='store_true',
                       help='leave sequences longer than --max_length out (counted) instead')
    demo = commands.add_parser('demo', help='synthetic, learnable dataset; no download',
                               formatter_class=formatter)
    demo.add_argument('--out', default=DEMO_BASEDIR, help='output directory')
    demo.add_argument('--families', type=int, default=46,
                      help=f'number of synthetic families (2..{MAX_DEMO_FAMILIES})')
    demo.add_argument('--seed', type=int, default=0, help='generator and split seed')
    convert = commands.add_parser(
        'convert', help="a course directory → the suite's format", formatter_class=formatter,
        description="Read the fold CSVs of a course data directory (pfam{V}_fold_{k}.csv, "
                    "columns string,label) and write the same folds as a dataset of the suite's "
                    "own format. Not needed to train (--dataset accepts course directories); "
                    "useful to keep a checked, hash-pinned copy.")
    convert.add_argument('--input', required=True, metavar='DIR', help='the course directory')
    convert.add_argument('--out', required=True, metavar='DIR', help='output directory')
    convert.add_argument('--out_version', help='version of the output (default: --version)')
    for command in (build, demo, convert):
        command.add_argument('--version', default=DEFAULT_VERSION,
                             help='dataset name in file names (pfam{VERSION}_fold_0.csv ...)')
        command.add_argument('--force', action='store_true',
                             help='replace an existing dataset of this version in --out')
    return parser


@fileio_command()
def main(argv=None):
    parser = create_parser()
    args = parser.parse_args(argv)
    if not 0 <= getattr(args, 'seed', 0) < 2 ** 32:
        raise DataError(f'--seed must be in 0 .. 2**32 - 1, got {args.seed}')
    for option in ('top', 'folds', 'max_length'):
        if getattr(args, option, None) is not None and getattr(args, option) < 1:
            raise DataError(f'--{option} must be a positive integer, got {getattr(args, option)}')
    if args.command == 'build':
        families = read_family_list(args.families) if args.families else None
        build_dataset(args.input, args.out, args.version, families, args.top, args.folds,
                      args.seed, args.format, force=args.force, max_length=args.max_length,
                      skip_long=args.skip_long)
    elif args.command == 'demo':
        build_demo(args.out, args.version, args.families, args.seed, force=args.force)
    else:
        convert_course(args.input, args.out, args.version, args.out_version, args.force)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Pfam data layer: build cross-validation folds, tokenize, load rotations, make tf.data pipelines.

Library API (compatible with the course's ``pfam_loader.py``, but on Keras 3 and with class
indices that are identical in every rotation)::

    dat = load_rotation('data/pfam', rotation=0, version='B')
    train, valid, test = create_tf_datasets(dat, batch=64, bucket=True)

Command line::

    python pfam_loader.py build --input ../shared/data/pfam32_seed_real.csv.gz \\
        --families ../shared/data/pfam46_families.txt --out data/pfam --version B
    python pfam_loader.py demo --out data/demo        # synthetic 46-family data, no download

Conventions (pinned; the rest of the suite relies on them):

* Tokens: 0 is padding; the 20 standard amino acids ``ACDEFGHIKLMNPQRSTVWY`` are 1..20 and the
  ambiguous letters ``BZXUO`` are 21..25, so ``n_tokens == 26``. Lower case is folded to upper
  case. Any other character is an error naming the sequence: there is no unknown token, because a
  silently dropped residue shifts every motif behind it.
* Padding is on the **right** (``'post'``): a sequence's tokens start at position 0 whatever the
  padding, which is what length bucketing, masked recurrent layers (cuDNN needs right padding) and
  positional encodings want.
* Classes are the sorted family accessions, so class ``i`` means the same family in every
  rotation and test predictions of all rotations can be pooled.
* Rotation ``r`` of ``k`` folds: train = folds ``r .. r+k-3`` (mod k), validation = ``r+k-2``,
  test = ``r+k-1``; for k = 5 that is train (r, r+1, r+2), validation r+3, test r+4.
"""
import argparse
import json
import os
import pickle
import sys
import time

import numpy as np
import pandas as pd

from fileio import DataError, atomic_write, log, open_text, sha256  # noqa: F401 (re-exported)
from pfam_formats import FORMATS, read_family_list, read_records  # noqa: F401 (re-exported)

# ---------------------------------------------------------------- vocabulary
AMINO_ACIDS = 'ACDEFGHIKLMNPQRSTVWY'   # the 20 standard residues: tokens 1..20
AMBIGUOUS = 'BZXUO'                    # Asx, Glx, unknown, selenocysteine, pyrrolysine: 21..25
VOCABULARY = AMINO_ACIDS + AMBIGUOUS
PAD_TOKEN = 0
N_TOKENS = len(VOCABULARY) + 1         # 26, padding included

# ---------------------------------------------------------------- defaults and names
DEFAULT_BASEDIR = 'data/pfam'
DEMO_BASEDIR = 'data/demo'
DEFAULT_VERSION = 'B'
N_FOLDS = 5
ROTATION_KEYS = ('ins_train', 'outs_train', 'ins_valid', 'outs_valid', 'ins_test', 'outs_test',
                 'len_max', 'n_tokens', 'out_index_word', 'out_word_index', 'rotation', 'n_classes')

_TOKEN_OF_BYTE = np.zeros(256, dtype=np.uint8)          # 0 marks "not in the vocabulary"
for _token, _letter in enumerate(VOCABULARY, start=1):
    _TOKEN_OF_BYTE[ord(_letter)] = _token
    _TOKEN_OF_BYTE[ord(_letter.lower())] = _token


# ---------------------------------------------------------------- tokenization
def encode(strings, len_max=None, names=None, truncate=False):
    """Turn amino-acid strings into a right-padded uint8 token matrix.

    Args:
        strings: sequence of str, e.g. ``['ACD', 'MKV']``.
        len_max: width of the result; default the longest string.
        names: optional identifiers used in error messages (default: the index).
        truncate: cut strings longer than ``len_max`` instead of raising.

    Returns:
        ``np.ndarray`` of shape (N, len_max), dtype uint8; 0 is padding.

    Raises:
        DataError: an empty sequence, a character outside ``VOCABULARY`` or, unless
        ``truncate``, a string longer than ``len_max``.

    Example:
        >>> encode(['ACD', 'Y'])
        array([[ 1,  2,  3],
               [20,  0,  0]], dtype=uint8)
    """
    strings = list(strings)
    lengths = [len(s) for s in strings]
    if len_max is None:
        len_max = max(lengths, default=0)
    out = np.zeros((len(strings), len_max), dtype=np.uint8)
    for i, s in enumerate(strings):
        name = names[i] if names is not None else f'#{i}'
        if not s:
            raise DataError(f'sequence {name} is empty')
        if len(s) > len_max and not truncate:
            raise DataError(f'sequence {name} has {len(s)} residues, more than len_max={len_max}')
        raw = np.frombuffer(s[:len_max].encode('latin-1', errors='replace'), dtype=np.uint8)
        tokens = _TOKEN_OF_BYTE[raw]
        if not tokens.all():
            bad = s[int(np.argmin(tokens))]
            raise DataError(f'sequence {name} has the character {bad!r}, which is not one of '
                            f'{VOCABULARY} (nor lower case)')
        out[i, :len(tokens)] = tokens
    return out


def decode(tokens):
    """Inverse of `encode` for one row: token ids → string, padding dropped."""
    return ''.join(VOCABULARY[t - 1] for t in np.asarray(tokens) if t != PAD_TOKEN)


def sequence_lengths(ins):
    """Number of non-padding tokens of each row of a token matrix."""
    return np.count_nonzero(np.asarray(ins), axis=1)


def length_order(ins):
    """Stable order of the rows by length: the order of bucketed validation/test batches.

    ``probabilities[np.argsort(length_order(ins))]`` puts predictions made in that order back in
    the order of ``ins`` (and of ``outs``).
    """
    return np.argsort(sequence_lengths(ins), kind='stable')



def _select_families(frame, families=None, top=None):
    """Restrict records to a list of accessions (a version-less entry matches any version) or to
    the ``top`` largest families (ties broken by accession)."""
    counts = frame['family'].value_counts()
    if families is not None:
        present = set(counts.index)
        unversioned = {}
        for accession in present:
            unversioned.setdefault(accession.split('.')[0], []).append(accession)
        chosen, absent = [], []
        for family in dict.fromkeys(families):
            if family in present:
                chosen.append(family)
            elif '.' not in family and len(unversioned.get(family, [])) == 1:
                chosen.append(unversioned[family][0])
            else:
                absent.append(family)
        if absent:
            raise DataError(f'{len(absent)} listed famil{"y is" if len(absent) == 1 else "ies are"}'
                            f' not in the data: {", ".join(absent[:5])}'
                            + (' ...' if len(absent) > 5 else ''))
    elif top is not None:
        if top < 2:
            raise DataError(f'--top must be at least 2, got {top}')
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        chosen = [family for family, _ in ranked[:top]]
    else:
        chosen = list(counts.index)
    return frame[frame['family'].isin(set(chosen))]


def build_dataset(inputs, out_dir, version=DEFAULT_VERSION, families=None, top=None,
                  n_folds=N_FOLDS, seed=0, fmt='auto'):
    """Build stratified folds and rotation pickles from real Pfam data.

    Args:
        inputs: list of paths (CSV/TSV(.gz), Kaggle split directory, FASTA, Stockholm).
        out_dir: where ``pfam{version}_fold_{k}.csv``, ``pfam{version}_rotation_{r}.pkl`` and
            ``pfam{version}_metadata.json`` go.
        version: the dataset's name in file names (the course uses 'B').
        families: list of accessions to keep, or None.
        top: keep the ``top`` largest families instead (ignored when ``families`` is given).
        n_folds: number of folds (and rotations), at least 3.
        seed: seed of the stratified split; same inputs + seed → identical files.
        fmt: input format, or 'auto' to detect it per input.

    Returns:
        The metadata dict that is also written as JSON.

    Exact duplicate (sequence, family) records are kept once, and sequences labelled with more
    than one family are dropped entirely, so no sequence can sit in two folds.
    """
    from sklearn.model_selection import StratifiedKFold
    if n_folds < 3:
        raise DataError(f'--folds must be at least 3 (train, validation, test), got {n_folds}')
    if not inputs:
        raise DataError('no input given')
    started = time.time()
    frames = []
    for path in inputs:
        log(f'reading {path} ...')
        frames.append(read_records(path, fmt))
        log(f'  {len(frames[-1]):,} records, {frames[-1]["family"].nunique():,} families')
    frame = pd.concat(frames, ignore_index=True)
    n_read = len(frame)

    frame = frame.drop_duplicates(['sequence', 'family'])
    n_duplicates = n_read - len(frame)
    labels_per_sequence = frame.groupby('sequence')['family'].transform('nunique')
    ambiguous = frame[labels_per_sequence > 1]
    frame = frame[labels_per_sequence == 1]
    log(f'dropped {n_duplicates:,} duplicate records and {ambiguous["sequence"].nunique():,} '
        f'sequences labelled with more than one family ({len(ambiguous):,} records)')

    frame = _select_families(frame, families, top)
    counts = frame['family'].value_counts()
    small = counts[counts < n_folds]
    if len(small):
        raise DataError(f'family {small.index[0]} has {small.iloc[0]} sequence(s), fewer than '
                        f'{n_folds} folds' + (f' (and {len(small) - 1} more)' if len(small) > 1
                                               else ''))
    if len(counts) < 2:
        raise DataError(f'need at least 2 families, found {len(counts)}')
    encode(frame['sequence'].tolist(), names=[f'{f}:{s[:20]}...' for f, s in
                                               zip(frame['family'], frame['sequence'])])

    # Deterministic: sort first so the input order does not matter, then split stratified.
    frame = frame.sort_values(['family', 'sequence'], ignore_index=True)
    folds = np.empty(len(frame), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_index) in enumerate(splitter.split(frame['sequence'], frame['family'])):
        folds[test_index] = k
    frame['fold'] = folds

    os.makedirs(out_dir, exist_ok=True)
    for k in range(n_folds):
        fold = frame[frame['fold'] == k].rename(columns={'sequence': 'string', 'family': 'label'})
        atomic_write(fold_path(out_dir, k, version),
                     lambda f, fold=fold: fold[['string', 'label']].to_csv(f, index=False), 'w')
    log(f'wrote {n_folds} folds of {len(frame):,} sequences, {len(counts)} families, to {out_dir}')
    save_data_sets(out_dir, nfolds=n_folds, version=version)

    classes = sorted(counts.index)
    metadata = {
        'version': version, 'n_folds': n_folds, 'seed': seed, 'n_sequences': len(frame),
        'n_classes': len(classes), 'classes': classes,
        'len_max': int(frame['sequence'].str.len().max()),
        'vocabulary': {'padding': PAD_TOKEN, 'letters': VOCABULARY, 'n_tokens': N_TOKENS,
                       'padding_side': 'right'},
        'counts_per_fold': {c: [int(n) for n in row] for c, row in
                            pd.crosstab(frame['family'], frame['fold']).iterrows()},
        'dropped': {'duplicate_records': int(n_duplicates),
                    'multi_family_sequences': int(ambiguous['sequence'].nunique()),
                    'multi_family_records': int(len(ambiguous))},
        'inputs': [{'path': os.path.abspath(p), 'sha256': sha256(p)} for p in inputs],
        'format': fmt, 'top': top, 'families_given': families is not None,
        'build_seconds': round(time.time() - started, 2),
    }
    atomic_write(metadata_path(out_dir, version),
                 lambda f: json.dump(metadata, f, indent=1), 'w')
    log(f'done in {time.time() - started:.1f} s')
    return metadata


# ---------------------------------------------------------------- folds → rotations (course API)
def fold_path(basedir, k, version=DEFAULT_VERSION):
    return os.path.join(basedir, f'pfam{version}_fold_{k}.csv')


def rotation_path(basedir, rotation, version=DEFAULT_VERSION):
    return os.path.join(basedir, f'pfam{version}_rotation_{rotation}.pkl')


def metadata_path(basedir, version=DEFAULT_VERSION):
    return os.path.join(basedir, f'pfam{version}_metadata.json')


def rotation_folds(rotation, nfolds=N_FOLDS, ntrain_folds=None):
    """Fold indices ``(train list, validation, test)`` of a rotation."""
    ntrain_folds = nfolds - 2 if ntrain_folds is None else ntrain_folds
    if not 0 <= rotation < nfolds:
        raise DataError(f'rotation must be in 0..{nfolds - 1}, got {rotation}')
    if ntrain_folds != nfolds - 2:
        raise DataError(f'ntrain_folds must be nfolds - 2 = {nfolds - 2}, got {ntrain_folds}')
    train = [(rotation + i) % nfolds for i in range(ntrain_folds)]
    return train, (rotation + ntrain_folds) % nfolds, (rotation + ntrain_folds + 1) % nfolds


def prepare_data_set(basedir=DEFAULT_BASEDIR, rotation=0, nfolds=N_FOLDS, ntrain_folds=None,
                     version=DEFAULT_VERSION):
    """Assemble one rotation's dict (the keys of `ROTATION_KEYS`) from the fold CSVs."""
    paths = [fold_path(basedir, k, version) for k in range(nfolds)]
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f'{path} not found; build the folds first '
                            '(python pfam_loader.py build ... or demo)')
    folds = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths]
    classes = sorted(set().union(*(set(f['label']) for f in folds)))
    word_index = {c: i for i, c in enumerate(classes)}
    len_max = max(int(f['string'].str.len().max()) for f in folds)
    train, valid, test = rotation_folds(rotation, nfolds, ntrain_folds)

    def arrays(indices):
        part = pd.concat([folds[k] for k in indices], ignore_index=True)
        ins = encode(part['string'].tolist(), len_max)
        outs = part['label'].map(word_index).to_numpy(dtype=np.int32).reshape(-1, 1)
        return ins, outs

    dat = {'rotation': rotation, 'len_max': len_max, 'n_tokens': N_TOKENS,
           'n_classes': len(classes), 'out_index_word': dict(enumerate(classes)),
           'out_word_index': word_index}
    for split, indices in (('train', train), ('valid', [valid]), ('test', [test])):
        dat[f'ins_{split}'], dat[f'outs_{split}'] = arrays(indices)
    return dat


def save_data_sets(basedir=DEFAULT_BASEDIR, out_basedir=None, nfolds=N_FOLDS, ntrain_folds=None,
                   version=DEFAULT_VERSION):
    """Write ``pfam{version}_rotation_{r}.pkl`` for every rotation (atomically)."""
    out_basedir = basedir if out_basedir is None else out_basedir
    for rotation in range(nfolds):
        dat = prepare_data_set(basedir, rotation, nfolds, ntrain_folds, version)
        atomic_write(rotation_path(out_basedir, rotation, version),
                     lambda f, dat=dat: pickle.dump(dat, f, protocol=pickle.HIGHEST_PROTOCOL))
        log(f'rotation {rotation}: {len(dat["ins_train"]):,} train, {len(dat["ins_valid"]):,} '
            f'validation, {len(dat["ins_test"]):,} test')


def load_rotation(basedir=DEFAULT_BASEDIR, rotation=0, version=DEFAULT_VERSION):
    """Load ``{basedir}/pfam{version}_rotation_{rotation}.pkl``.

    Returns:
        dict with exactly `ROTATION_KEYS`: ``ins_*`` uint8 (N, len_max) right-padded tokens,
        ``outs_*`` int32 (N, 1) class indices, ``out_index_word[i]`` the accession of class i.
    """
    if not isinstance(rotation, (int, np.integer)) or rotation < 0:
        raise DataError(f'rotation must be a non-negative integer, got {rotation!r}')
    path = rotation_path(basedir, rotation, version)
    if not os.path.isfile(path):
        hint = ('python pfam_loader.py demo --out ' + basedir if 'demo' in basedir else
                'python pfam_loader.py build --input ... --out ' + basedir)
        raise FileNotFoundError(f'{path} not found (rotations of version {version!r} in '
                                f'{basedir!r}); build it with: {hint}')
    with open(path, 'rb') as f:
        dat = pickle.load(f)
    missing = set(ROTATION_KEYS) - set(dat)
    if missing:
        raise DataError(f'{path} lacks {", ".join(sorted(missing))}; rebuild it')
    return dat


# ---------------------------------------------------------------- tf.data pipelines
def default_bucket_lengths(len_max):
    """Padded lengths of the length buckets: steps of 32 up to 256, then ~25 % apart, ending at
    ``len_max``. A small fixed set keeps the number of distinct batch shapes (and of XLA
    recompilations on GPU) low while wasting little on padding."""
    lengths, length = [], 32
    while length < len_max:
        lengths.append(length)
        length = length + 32 if length < 256 else int(np.ceil(length * 1.25 / 32) * 32)
    return lengths + [int(len_max)]


def _variable_length_dataset(ins, outs):
    """Examples trimmed to their own length (int32 tokens), ready for bucketing."""
    import tensorflow as tf
    lengths = sequence_lengths(ins).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((ins, outs, lengths))
    return ds.map(lambda x, y, n: (tf.cast(x[:n], tf.int32), y),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def create_tf_datasets(dat, batch=8, prefetch=2, shuffle=True, repeat=False, cache=True,
                       bucket=False, bucket_lengths=None, seed=None):
    """Training, validation and test ``tf.data.Dataset``s of ``(ins, outs)`` batches.

    Args:
        dat: a rotation dict from `load_rotation`.
        batch: examples per batch.
        prefetch: batches to prefetch; None or 0 for none, -1 for AUTOTUNE.
        shuffle: training shuffle: True for a buffer of the whole training set (mixes classes,
            the folds are sorted by class), an int for that buffer size, False/None/0 for none.
        repeat: repeat the training set forever (use with ``steps_per_epoch``).
        cache: cache the prepared examples in memory.
        bucket: batch training examples of similar length (buckets `bucket_lengths`) and pad a
            batch only to its bucket's length instead of ``len_max``. Validation and test
            batches are then formed in `length_order` of their examples (each padded to its
            batch's longest) — map predictions back with ``np.argsort(length_order(ins))``.
            Without bucketing everything is padded to ``len_max`` and kept in order.
        bucket_lengths: increasing padded lengths of the buckets, the last >= the longest
            sequence; default `default_bucket_lengths`.
        seed: shuffle seed (None: a fresh one per run).

    Returns:
        (train, valid, test) datasets. Every training example appears exactly once per pass.
    """
    import tensorflow as tf
    if prefetch == -1:
        prefetch = tf.data.AUTOTUNE
    n_train = len(dat['ins_train'])
    buffer = n_train if shuffle is True else int(shuffle or 0)

    def finish(ds, training):
        if training and repeat:
            ds = ds.repeat()
        return ds.prefetch(prefetch) if prefetch else ds

    if not bucket:
        def padded(ins, outs, training):
            ds = tf.data.Dataset.from_tensor_slices((ins, outs)).map(
                lambda x, y: (tf.cast(x, tf.int32), y))
            ds = ds.cache() if cache else ds
            ds = ds.shuffle(buffer, seed=seed) if training and buffer else ds
            return finish(ds.batch(batch), training)
        return (padded(dat['ins_train'], dat['outs_train'], True),
                padded(dat['ins_valid'], dat['outs_valid'], False),
                padded(dat['ins_test'], dat['outs_test'], False))

    lengths = list(bucket_lengths or default_bucket_lengths(dat['len_max']))
    longest = int(sequence_lengths(dat['ins_train']).max())
    if lengths != sorted(lengths) or lengths[-1] < longest:
        raise DataError(f'bucket lengths must increase and end at >= {longest}, got {lengths}')
    train = _variable_length_dataset(dat['ins_train'], dat['outs_train'])
    train = train.cache() if cache else train
    train = train.shuffle(buffer, seed=seed) if buffer else train
    # bucket_by_sequence_length: length in [b[i-1], b[i]) goes to bucket i, padded to b[i] - 1.
    boundaries = [n + 1 for n in lengths]
    train = train.bucket_by_sequence_length(
        lambda x, y: tf.shape(x)[0], bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch] * (len(lengths) + 1), pad_to_bucket_boundary=True)
    # Every bucket ends with one partial batch: tell Keras the exact number of batches per pass
    # (progress bars, no "ran out of data" warning).
    buckets = np.searchsorted(boundaries, sequence_lengths(dat['ins_train']), side='right')
    n_batches = int(sum(-(-count // batch) for count in np.bincount(buckets) if count))
    train = train.apply(tf.data.experimental.assert_cardinality(n_batches))

    def sorted_by_length(ins, outs):
        order = length_order(ins)
        ds = _variable_length_dataset(ins[order], outs[order])
        ds = ds.cache() if cache else ds
        return finish(ds.padded_batch(batch), False)
    return (finish(train, True), sorted_by_length(dat['ins_valid'], dat['outs_valid']),
            sorted_by_length(dat['ins_test'], dat['outs_test']))


# ---------------------------------------------------------------- synthetic demo data
def make_demo_records(n_families=46, seed=0, min_count=40, max_count=100):
    """A learnable synthetic stand-in for Pfam: each family is a random ordered combination of 3
    motifs (6-10 residues) from a shared pool of 80, embedded with 15 % point mutations in random
    background of a family-typical length (median ~100, like real domains).

    Returns:
        DataFrame with columns ``sequence`` and ``family_accession`` (``DEMO00`` ... ).
    """
    rng = np.random.default_rng(seed)
    letters = np.array(list(AMINO_ACIDS))
    pool = [rng.choice(letters, size=rng.integers(6, 11)) for _ in range(80)]
    combinations = set()
    while len(combinations) < n_families:
        combinations.add(tuple(rng.choice(len(pool), size=3, replace=False)))
    rows = []
    for family, motif_ids in enumerate(sorted(combinations)):
        typical_length = int(np.clip(rng.lognormal(np.log(100), 0.35), 50, 260))
        for _ in range(rng.integers(min_count, max_count + 1)):
            motifs = [pool[m].copy() for m in motif_ids]
            for motif in motifs:
                mutated = rng.random(len(motif)) < 0.15
                motif[mutated] = rng.choice(letters, size=mutated.sum())
            length = max(int(rng.normal(typical_length, 0.15 * typical_length)),
                         sum(len(m) for m in motifs) + 4)
            free = length - sum(len(m) for m in motifs)
            gaps = np.diff(np.sort(np.r_[0, rng.integers(0, free + 1, size=3), free]))
            pieces = []
            for gap, motif in zip(gaps, motifs + [np.array([], dtype=letters.dtype)]):
                pieces += [rng.choice(letters, size=gap), motif]
            rows.append((''.join(np.concatenate(pieces)), f'DEMO{family:02d}'))
    return pd.DataFrame(rows, columns=['sequence', 'family_accession'])


def build_demo(out_dir=DEMO_BASEDIR, version=DEFAULT_VERSION, n_families=46, seed=0):
    """Generate the synthetic dataset as ``demo_sequences.csv.gz`` and build its rotations with
    the same builder as real data."""
    if n_families < 2:
        raise DataError(f'--families must be at least 2, got {n_families}')
    log(f'generating {n_families} synthetic families (seed {seed}) ...')
    frame = make_demo_records(n_families, seed)
    source = os.path.join(out_dir, 'demo_sequences.csv.gz')
    atomic_write(source, lambda f: frame.to_csv(f, index=False, compression='gzip'))
    return build_dataset([source], out_dir, version=version, seed=seed)


def ensure_demo(basedir=DEMO_BASEDIR, version=DEFAULT_VERSION):
    """Build the demo dataset unless its rotations are already there."""
    if not all(os.path.isfile(rotation_path(basedir, r, version)) for r in range(N_FOLDS)):
        build_demo(basedir, version)


# ---------------------------------------------------------------- command line
def create_parser():
    parser = argparse.ArgumentParser(
        description='Build cross-validation rotations of Pfam families for the classifiers.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    build = commands.add_parser(
        'build', help='folds + rotations from real Pfam files',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description='Read real Pfam data, keep the chosen families, split them into stratified '
                    'folds (no sequence in two folds) and write fold CSVs, rotation pickles and a '
                    'metadata JSON. Standard benchmark: --input '
                    '../shared/data/pfam32_seed_real.csv.gz --families '
                    '../shared/data/pfam46_families.txt --out data/pfam --version B')
    build.add_argument('--input', nargs='+', required=True, metavar='FILE',
                       help='CSV/TSV(.gz) with sequence,family_accession columns; a Kaggle "Pfam '
                            'seed random split" directory; Pfam FASTA; or Stockholm')
    build.add_argument('--format', default='auto', choices=FORMATS, help='input format')
    build.add_argument('--out', default=DEFAULT_BASEDIR, help='output directory')
    build.add_argument('--version', default=DEFAULT_VERSION, help='dataset name in file names')
    which = build.add_mutually_exclusive_group()
    which.add_argument('--families', metavar='FILE', help='file of accessions to keep, one a line')
    which.add_argument('--top', type=int, metavar='K', help='keep the K largest families')
    build.add_argument('--folds', type=int, default=N_FOLDS, help='number of folds')
    build.add_argument('--seed', type=int, default=0, help='seed of the stratified split')
    demo = commands.add_parser('demo', help='synthetic, learnable dataset; no download',
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_argument('--out', default=DEMO_BASEDIR, help='output directory')
    demo.add_argument('--version', default=DEFAULT_VERSION, help='dataset name in file names')
    demo.add_argument('--families', type=int, default=46, help='number of synthetic families')
    demo.add_argument('--seed', type=int, default=0, help='generator and split seed')
    return parser


def main(argv=None):
    args = create_parser().parse_args(argv)
    try:
        if args.command == 'build':
            families = read_family_list(args.families) if args.families else None
            build_dataset(args.input, args.out, args.version, families, args.top, args.folds,
                          args.seed, args.format)
        else:
            build_demo(args.out, args.version, args.families, args.seed)
    except (DataError, OSError) as err:
        print(f'pfam_loader.py: error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())

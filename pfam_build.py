"""Dataset building: real Pfam inputs, a course directory or the synthetic demo → a dataset.

A dataset (version ``V``, in directory ``D``) is ``D/pfamV_fold_{k}.csv`` (columns ``string,label``,
the course's fold files: each sequence stored once, unpadded) plus ``D/pfamV_metadata.json``
(classes, vocabulary, counts, the SHA-256 of every fold file ...). Rotations are assembled from
the folds at load time (`pfam_loader.load_rotation`); nothing padded and nothing executable is
stored.

A build writes into a hidden temporary directory beside the dataset and moves the files into
place with the metadata last; the metadata's fold hashes let the loader detect a dataset whose
files come from different builds (a build killed while moving). Replacing an existing dataset
needs ``force=True`` (``--force``).
"""
import glob
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time

import numpy as np
import pandas as pd

from fileio import DataError, atomic_write, log, open_text, sha256
from pfam_formats import read_records
from pfam_tokens import AMINO_ACIDS, N_TOKENS, PAD_TOKEN, VOCABULARY, check_sequences

DEFAULT_BASEDIR = 'data/pfam'
DEMO_BASEDIR = 'data/demo'
DEFAULT_VERSION = 'B'          # the course's data set name; the course API's own default is ''
N_FOLDS = 5
FOLD_COLUMNS = ('string', 'label')


# ---------------------------------------------------------------- file names
def fold_path(basedir, k, version=''):
    return os.path.join(basedir, f'pfam{version}_fold_{k}.csv')


def rotation_path(basedir, rotation, version=''):
    return os.path.join(basedir, f'pfam{version}_rotation_{rotation}.pkl')


def metadata_path(basedir, version=''):
    return os.path.join(basedir, f'pfam{version}_metadata.json')


def count_folds(basedir, version=''):
    """Number of consecutive fold files ``pfam{version}_fold_0.csv, _1 ...`` in ``basedir``."""
    k = 0
    while os.path.isfile(fold_path(basedir, k, version)):
        k += 1
    return k


_DATASET_FILE = re.compile(r'pfam(.*)_(fold_\d+\.csv|rotation_\d+\.pkl|metadata\.json)')


def versions_in(basedir):
    """Dataset versions that have any fold, rotation or metadata file in ``basedir``."""
    names = os.listdir(basedir) if os.path.isdir(basedir) else []
    return sorted({m.group(1) for m in map(_DATASET_FILE.fullmatch, names) if m})


def read_fold_csv(path):
    """A fold file as (DataFrame with columns ``string``, ``label``; SHA-256 of its bytes).

    Sequences are upper-cased and stripped, labels stripped. Raises `DataError` (one line) for a
    file that is empty, not a CSV or lacks the columns.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise DataError(f'{path}: cannot read: {err.strerror}') from None
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f'{path}: not a fold CSV ({str(err).splitlines()[0] or "empty"})') \
            from None
    missing = set(FOLD_COLUMNS) - set(frame.columns)
    if missing:
        raise DataError(f'{path}: missing column(s) {", ".join(sorted(missing))}; found '
                        f'{", ".join(map(str, frame.columns[:6]))}')
    frame = pd.DataFrame({'string': frame['string'].str.strip().str.upper(),
                          'label': frame['label'].str.strip()})
    if len(frame) == 0:
        raise DataError(f'{path}: the fold has no rows')
    return frame, hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- writing a dataset atomically
def dataset_files(basedir, version):
    """The files of dataset ``version`` present in ``basedir`` (folds, rotations, metadata)."""
    names = os.listdir(basedir) if os.path.isdir(basedir) else []
    return sorted(n for n in names if (m := _DATASET_FILE.fullmatch(n)) and m.group(1) == version)


def refuse_to_replace(out_dir, version, force):
    """`DataError` unless ``force`` when ``out_dir`` already holds dataset ``version``."""
    existing = dataset_files(out_dir, version)
    if existing and not force:
        raise DataError(f'{out_dir} already holds dataset version {version!r} ({existing[0]} ...); '
                        'pass --force to replace it')
    return existing


def write_dataset(out_dir, version, frame, n_folds, metadata, force=False):
    """Write the fold CSVs of ``frame`` (columns ``sequence``, ``family``, ``fold``) and the
    metadata JSON (``metadata`` plus the common fields), replacing dataset ``version`` in
    ``out_dir`` only when ``force``. Returns the full metadata."""
    existing = refuse_to_replace(out_dir, version, force)
    os.makedirs(out_dir, exist_ok=True)
    for stale in glob.glob(os.path.join(glob.escape(out_dir), f'.pfam{version}-build-*')):
        shutil.rmtree(stale, ignore_errors=True)          # left by a killed build
    staging = tempfile.mkdtemp(dir=out_dir, prefix=f'.pfam{version}-build-')
    try:
        hashes, rows = [], []
        for k in range(n_folds):
            fold = frame[frame['fold'] == k]
            path = fold_path(staging, k, version)
            pd.DataFrame({'string': fold['sequence'], 'label': fold['family']}).to_csv(
                path, index=False)
            hashes.append(sha256(path))
            rows.append(len(fold))
        classes = sorted(frame['family'].unique())
        metadata = {
            'version': version, 'n_folds': n_folds, 'n_sequences': int(len(frame)),
            'n_residues': int(frame['sequence'].str.len().sum()),
            'n_classes': len(classes), 'classes': classes,
            'len_max': int(frame['sequence'].str.len().max()),
            'vocabulary': {'padding': PAD_TOKEN, 'letters': VOCABULARY, 'n_tokens': N_TOKENS,
                           'padding_side': 'right'},
            'fold_rows': rows, 'fold_sha256': hashes,
            'counts_per_fold': {c: [int(n) for n in row] for c, row in
                                pd.crosstab(frame['family'], frame['fold']).iterrows()},
            **metadata}
        with open(metadata_path(staging, version), 'w') as f:
            json.dump(metadata, f, indent=1)
        # Swap in: stale files of the old dataset first, then the folds, the metadata last.
        for name in existing:
            os.remove(os.path.join(out_dir, name))
        for name in sorted(os.listdir(staging), key=lambda n: n.endswith('_metadata.json')):
            os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f'wrote {n_folds} folds of {len(frame):,} sequences, {len(classes)} families, to '
        f'{out_dir} (version {version!r})')
    return metadata


# ---------------------------------------------------------------- building from real data
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
                  n_folds=N_FOLDS, seed=0, fmt='auto', force=False):
    """Build stratified fold CSVs and the metadata JSON from real Pfam data.

    Args:
        inputs: list of paths (CSV/TSV(.gz), Kaggle split directory, FASTA, Stockholm).
        out_dir: where ``pfam{version}_fold_{k}.csv`` and ``pfam{version}_metadata.json`` go.
        version: the dataset's name in file names (the course uses 'B').
        families: list of accessions to keep, or None.
        top: keep the ``top`` largest families instead (ignored when ``families`` is given).
        n_folds: number of folds (and rotations), at least 3.
        seed: seed of the stratified split; same inputs + seed → identical files.
        fmt: input format, or 'auto' to detect it per input.
        force: replace an existing dataset of this version in ``out_dir``.

    Returns:
        The metadata dict that is also written as JSON.

    Exact duplicate (sequence, family) records are kept once, and sequences labelled with more
    than one family are dropped entirely, so no sequence can sit in two folds.
    """
    if n_folds < 3:
        raise DataError(f'--folds must be at least 3 (train, validation, test), got {n_folds}')
    if not inputs:
        raise DataError('no input given')
    refuse_to_replace(out_dir, version, force)          # before minutes of reading
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
    check_sequences(frame['sequence'].tolist(),
                    names=[f'{f}:{s[:20]}...' for f, s in zip(frame['family'], frame['sequence'])])

    # Deterministic: sort first so the input order does not matter, then split stratified.
    from sklearn.model_selection import StratifiedKFold   # deferred: 1 s, after the checks
    frame = frame.sort_values(['family', 'sequence'], ignore_index=True)
    folds = np.empty(len(frame), dtype=int)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test_index) in enumerate(splitter.split(np.zeros(len(frame)), frame['family'])):
        folds[test_index] = k
    frame['fold'] = folds
    metadata = write_dataset(out_dir, version, frame, n_folds, {
        'seed': seed, 'source': 'build',
        'dropped': {'duplicate_records': int(n_duplicates),
                    'multi_family_sequences': int(ambiguous['sequence'].nunique()),
                    'multi_family_records': int(len(ambiguous))},
        'inputs': [{'path': os.path.abspath(p), 'sha256': sha256(p)} for p in inputs],
        'format': fmt, 'top': top, 'families_given': families is not None,
        'build_seconds': round(time.time() - started, 2)}, force=force)
    log(f'done in {time.time() - started:.1f} s')
    return metadata


def convert_course(in_dir, out_dir, version='', out_version=None, force=False):
    """A course directory's fold CSVs → a dataset of the suite's own format (same folds, same
    sequences; tokens and classes are assigned at load time, identical in every rotation).

    The course's rotation pickles are not needed (and not enough: they do not record which
    letter each token id stands for)."""
    out_version = version if out_version is None else out_version
    n_folds = count_folds(in_dir, version)
    if n_folds < 3:
        found = versions_in(in_dir) if os.path.isdir(in_dir) else []
        raise DataError(f'{in_dir}: no fold CSVs pfam{version}_fold_0..{N_FOLDS - 1}.csv'
                        + (f' (versions present: {", ".join(map(repr, found))}; use --version)'
                           if found else '') + '; convert needs the fold CSVs')
    if os.path.abspath(in_dir) == os.path.abspath(out_dir) and out_version == version:
        raise DataError('--out with the same --version would overwrite the course files; choose '
                        'another directory or --out_version')
    refuse_to_replace(out_dir, out_version, force)
    frames = []
    for k in range(n_folds):
        fold, _ = read_fold_csv(fold_path(in_dir, k, version))
        frames.append(pd.DataFrame({'sequence': fold['string'], 'family': fold['label'],
                                    'fold': k}))
    frame = pd.concat(frames, ignore_index=True)
    check_sequences(frame['sequence'].tolist(),
                    names=[f'fold {k} row {i}' for k, f in enumerate(frames) for i in range(len(f))])
    return write_dataset(out_dir, out_version, frame, n_folds, {
        'source': 'course', 'inputs': [{'path': os.path.abspath(fold_path(in_dir, k, version)),
                                        'sha256': sha256(fold_path(in_dir, k, version))}
                                       for k in range(n_folds)]}, force=force)


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


def build_demo(out_dir=DEMO_BASEDIR, version=DEFAULT_VERSION, n_families=46, seed=0, force=False):
    """Generate the synthetic dataset as ``demo_sequences.csv.gz`` and build its folds with the
    same builder as real data."""
    if n_families < 2:
        raise DataError(f'--families must be at least 2, got {n_families}')
    log(f'generating {n_families} synthetic families (seed {seed}) ...')
    frame = make_demo_records(n_families, seed)
    source = os.path.join(out_dir, 'demo_sequences.csv.gz')
    atomic_write(source, lambda f: frame.to_csv(f, index=False, compression='gzip'))
    return build_dataset([source], out_dir, version=version, seed=seed, force=force)


def ensure_demo(basedir=DEMO_BASEDIR, version=DEFAULT_VERSION):
    """Build the demo dataset unless it is already there."""
    if not os.path.isfile(metadata_path(basedir, version)):
        build_demo(basedir, version, force=True)


def read_metadata(basedir, version):
    """The metadata JSON of a dataset, or None when there is none."""
    path = metadata_path(basedir, version)
    if not os.path.isfile(path):
        return None
    try:
        with open_text(path) as f:
            metadata = json.load(f)
    except (ValueError, OSError) as err:
        raise DataError(f'{path}: unreadable metadata ({err}); rebuild the dataset with '
                        '--force') from None
    if not isinstance(metadata, dict) or not {'classes', 'n_folds'} <= set(metadata):
        raise DataError(f'{path}: not a dataset metadata file; rebuild the dataset with --force')
    return metadata

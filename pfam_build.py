"""Dataset building: real Pfam inputs, a course directory or the synthetic demo → a dataset.

A dataset (version ``V``, in directory ``D``) is ``D/pfamV_fold_{k}.csv`` (columns ``string,label``,
the course's fold files: each sequence stored once, unpadded) plus ``D/pfamV_metadata.json``
(classes, vocabulary, counts, the SHA-256 of every fold file ...). Rotations are assembled from
the folds at load time (`pfam_loader.load_rotation`); nothing padded and nothing executable is
stored.

A dataset is replaced whole or not at all, whenever its builder is killed:

* a build writes the new files into a hidden staging folder ``D/.pfamV-build-*``;
* it then writes the journal ``D/.pfamV-switch.json`` (atomically: from then on the new dataset is
  the published one), listing the files to move in (with sizes and SHA-256s) and the old ones to
  delete, carries it out while holding the dataset lock ``D/.pfamV.lock`` exclusively, and
  deletes it;
* every reader (`reading`, through `pfam_loader.reading`: `load_rotation`, `count_folds`,
  `versions_in`, `read_metadata` ...) holds that lock shared while it reads, and first finishes
  a switch whose builder was killed (a journal whose lock is free), so it sees the old dataset
  or the new one, never a mix;
* builders of a dataset take turns (`building`, lock ``D/.pfamV-build.lock``): a staging folder
  that a builder finds is a killed builder's and is deleted, and `ensure_demo` called by several
  processes at once builds the demo once while the others wait for it.

Replacing an existing dataset needs ``force=True`` (``--force``). The metadata's fold hashes
still let the loader refuse a dataset whose files were mixed by other means (copied by hand).

The file names, the fold and metadata readers and the vocabulary are `pfam_loader`'s, which
works copied alone beside a student's script: it uses this module (the lock, the command line's
builders) when the suite is there.
"""
import contextlib
import glob
import itertools
import json
import math
import os
import shutil
import tempfile
import time

import numpy as np
import pandas as pd

from fileio import file_lock, sha256
from pfam_formats import read_records
from pfam_loader import (AMINO_ACIDS, DATASET_FILE, DEFAULT_VERSION, DEMO_BASEDIR, N_FOLDS,
                         N_TOKENS, PAD_TOKEN, VOCABULARY, DataError, atomic_write,
                         check_sequences, count_folds, fold_file, fold_path, journal_path, log,
                         metadata_path, read_fold_csv, versions_in)

MAX_DEMO_FAMILIES = 5000       # ~350,000 sequences: the course's scale
#: default ``--max_length`` of `build_dataset`: longer sequences are refused (or skipped). The
#: course data's longest is 3,934 residues and real Pfam domains are shorter; training pads
#: every sequence of a batch (without bucketing: of the whole set) to the longest one
MAX_LENGTH = 40000
TEST_PAUSE_VARIABLE = 'PFAM_BUILD_TEST_PAUSE'     # see `_step`


# ---------------------------------------------------------------- file names
def lock_path(basedir, version=''):
    """The dataset lock: held shared by readers, exclusively while files are switched."""
    return os.path.join(basedir, f'.pfam{version}.lock')


def build_lock_path(basedir, version=''):
    """The build lock: held by the one builder of the dataset at a time."""
    return os.path.join(basedir, f'.pfam{version}-build.lock')


# ---------------------------------------------------------------- replacing a dataset whole
_steps_taken = itertools.count(1)


def _step(what):
    """Test hook: with ``$PFAM_BUILD_TEST_PAUSE`` set, log each step of writing and switching a
    dataset and pause after it, so that a test can kill a build between any two steps: ``S``
    pauses S seconds after every step, ``S@N`` after the N-th step only (from 1). Without it,
    nothing."""
    pause = os.environ.get(TEST_PAUSE_VARIABLE)
    if pause:
        number = next(_steps_taken)
        log(f'build step: {what}')
        seconds, _, only = pause.partition('@')
        if not only or int(only) == number:
            time.sleep(float(seconds))


@contextlib.contextmanager
def reading(basedir, version=''):
    """Keep dataset ``version`` of ``basedir`` unchanged while the ``with`` block reads it.

    Finishes first a replacement whose builder was killed mid-switch, then holds the dataset lock
    shared, so that no replacement switches files meanwhile (a replacement waits for the block).
    Folders without a lock file (course directories, read-only copies) are read unlocked.
    Re-entrant.

    Raises:
        DataError: an interrupted replacement that this process may not finish (no write access).
    """
    lock = lock_path(basedir, version)
    while True:
        with file_lock(lock, shared=True, create=False,
                       waiting=f'waiting for a build to finish switching {basedir} '
                               f'(version {version!r}) ...'):
            if not os.path.exists(journal_path(basedir, version)):
                yield
                return
        # A journal and a free lock: its builder was killed (a live one holds the lock).
        try:
            with file_lock(lock):
                _finish_switch(basedir, version)
        except OSError as err:
            raise DataError(f'{basedir}: cannot finish the interrupted replacement of dataset '
                            f'{version!r} ({err.strerror or err}); read it once as a user who may '
                            'write to the folder') from None


@contextlib.contextmanager
def building(out_dir, version=''):
    """Builders of dataset ``version`` in ``out_dir`` take turns for the ``with`` block (one
    process builds, the others wait for it). Re-entrant."""
    os.makedirs(out_dir, exist_ok=True)
    with file_lock(build_lock_path(out_dir, version),
                   waiting=f'waiting for another build of {out_dir} (version {version!r}) ...'):
        yield


def _finish_switch(basedir, version):
    """Carry out the journal of dataset ``version``, if there is one: delete the old files it
    lists, move the new ones in from its staging folder (the metadata last), then delete the
    journal and the staging folder. Each step can be repeated, so a switch killed at any point
    is finished by the next call. The caller holds the dataset lock exclusively."""
    journal = journal_path(basedir, version)
    try:
        with open(journal) as f:
            plan = json.load(f)
        staging = os.path.join(basedir, os.path.basename(plan['staging']))
        files, remove = plan['files'], plan['remove']
    except FileNotFoundError:
        return False
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f'{journal}: unreadable replacement journal ({err}); delete it and '
                        'rebuild the dataset with --force') from None
    for name in remove:
        try:
            os.remove(os.path.join(basedir, name))
        except FileNotFoundError:
            continue
        _step(f'removed {name}')
    for name, size, digest in files:
        source, target = os.path.join(staging, name), os.path.join(basedir, name)
        if os.path.isfile(source):
            os.replace(source, target)
            _step(f'moved {name}')
        elif not (os.path.isfile(target) and os.path.getsize(target) == size
                  and sha256(target) == digest):
            raise DataError(f'{basedir}: cannot finish the interrupted replacement of dataset '
                            f'{version!r}: {name} is neither in {os.path.basename(staging)} nor '
                            f'in place; delete {os.path.basename(journal)} and rebuild the '
                            'dataset with --force')
    os.remove(journal)
    _step('journal removed')
    shutil.rmtree(staging, ignore_errors=True)
    return True


def _remove_leftovers(out_dir, version):
    """Delete staging folders (and journal temporary files) of killed builds. The caller holds
    the build lock, so no live builder owns one, and has finished any pending switch."""
    folder, prefix = glob.escape(out_dir), glob.escape(f'.pfam{version}')
    for stale in glob.glob(os.path.join(folder, f'{prefix}-build-*')):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in glob.glob(os.path.join(folder, f'.{prefix}-switch.json.*')):
        with contextlib.suppress(OSError):
            os.remove(stale)


def dataset_files(basedir, version):
    """The files of dataset ``version`` present in ``basedir`` (folds, rotations, metadata)."""
    with reading(basedir, version):
        names = os.listdir(basedir) if os.path.isdir(basedir) else []
    return sorted(n for n in names if (m := DATASET_FILE.fullmatch(n)) and m.group(1) == version)


def refuse_to_replace(out_dir, version, force):
    """`DataError` unless ``force`` when ``out_dir`` already holds dataset ``version``."""
    existing = dataset_files(out_dir, version)
    if existing and not force:
        raise DataError(f'{out_dir} already holds dataset version {version!r} ({existing[0]} ...); '
                        'pass --force to replace it')
    return existing


def _file_entry(path):
    """``[name, size, SHA-256]`` of a file, as the journal lists it."""
    return [os.path.basename(path), os.path.getsize(path), sha256(path)]


def write_dataset(out_dir, version, frame, n_folds, metadata, force=False):
    """Write the fold CSVs of ``frame`` (columns ``sequence``, ``family``, ``fold``) and the
    metadata JSON (``metadata`` plus the common fields), replacing dataset ``version`` in
    ``out_dir`` (only when ``force``) whole or not at all (see the module docstring). Returns
    the full metadata."""
    with building(out_dir, version):
        existing = refuse_to_replace(out_dir, version, force)   # finishes a killed switch first
        _remove_leftovers(out_dir, version)
        staging = tempfile.mkdtemp(dir=out_dir, prefix=f'.pfam{version}-build-')
        try:
            files, rows = [], []
            for k in range(n_folds):
                fold = frame[frame['fold'] == k]
                path = fold_path(staging, k, version)
                pd.DataFrame({'string': fold['sequence'], 'label': fold['family']}).to_csv(
                    path, index=False)
                files.append(_file_entry(path))
                rows.append(len(fold))
                _step(f'staged {files[-1][0]}')
            classes = sorted(frame['family'].unique())
            metadata = {
                'version': version, 'n_folds': n_folds, 'n_sequences': int(len(frame)),
                'n_residues': int(frame['sequence'].str.len().sum()),
                'n_classes': len(classes), 'classes': classes,
                'len_max': int(frame['sequence'].str.len().max()),
                'vocabulary': {'padding': PAD_TOKEN, 'letters': VOCABULARY, 'n_tokens': N_TOKENS,
                               'padding_side': 'right'},
                'fold_rows': rows, 'fold_sha256': [digest for _, _, digest in files],
                'counts_per_fold': {c: [int(n) for n in row] for c, row in
                                    pd.crosstab(frame['family'], frame['fold']).iterrows()},
                **metadata}
            with open(metadata_path(staging, version), 'w') as f:
                json.dump(metadata, f, indent=1)
            files.append(_file_entry(metadata_path(staging, version)))     # moved in last
            _step(f'staged {files[-1][0]}')
            new = {name for name, _, _ in files}
            plan = {'staging': os.path.basename(staging), 'files': files,
                    'remove': [name for name in existing if name not in new]}
            with file_lock(lock_path(out_dir, version),
                           waiting=f'waiting for readers of {out_dir} (version {version!r}) ...'):
                atomic_write(journal_path(out_dir, version),
                             lambda f: json.dump(plan, f, indent=1), mode='w')
                _step('journal written')
                _finish_switch(out_dir, version)
        finally:
            if not os.path.exists(journal_path(out_dir, version)):   # else a reader finishes it
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


def _drop_long(frame, max_length, skip_long):
    """``frame`` without its sequences longer than ``max_length`` residues (``skip_long``; a
    line says how many), else `DataError` naming the first of them. Returns (frame, dropped)."""
    lengths = frame['sequence'].str.len()
    long = lengths > max_length
    n_long = int(long.sum())
    if not n_long:
        return frame, 0
    first = int(np.argmax(long.to_numpy()))
    name = f'{frame["family"].iloc[first]}:{frame["sequence"].iloc[first][:20]}...'
    if not skip_long:
        raise DataError(f'sequence {name} has {int(lengths.iloc[first]):,} residues, more than '
                        f'--max_length {max_length:,}' + (f' (and {n_long - 1:,} more)' if
                                                          n_long > 1 else '')
                        + '; raise --max_length, or pass --skip_long to leave such sequences out')
    log(f'skipped {n_long:,} sequence(s) longer than --max_length {max_length:,} residues (the '
        f'longest: {int(lengths.max()):,}; e.g. {name})')
    return frame[~long], n_long


def build_dataset(inputs, out_dir, version=DEFAULT_VERSION, families=None, top=None,
                  n_folds=N_FOLDS, seed=0, fmt='auto', force=False, max_length=MAX_LENGTH,
                  skip_long=False):
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
        max_length: a sequence (of the kept families) longer than this is a `DataError`: the
            training matrices are padded to the longest sequence, so one huge sequence costs
            gigabytes.
        skip_long: leave such sequences out instead (counted in a line and in the metadata).

    Returns:
        The metadata dict that is also written as JSON.

    Exact duplicate (sequence, family) records are kept once, and sequences labelled with more
    than one family are dropped entirely, so no sequence can sit in two folds.
    """
    if n_folds < 3:
        raise DataError(f'--folds must be at least 3 (train, validation, test), got {n_folds}')
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) \
            or max_length < 1:
        raise DataError(f'--max_length must be a positive integer, got {max_length!r}')
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
    frame, n_long = _drop_long(frame, max_length, skip_long)
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
        'max_length': int(max_length), 'skipped_long': n_long,
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
    paths = [fold_file(in_dir, k, version) for k in range(n_folds)]
    frames = []
    for k, path in enumerate(paths):
        fold, _ = read_fold_csv(path)
        frames.append(pd.DataFrame({'sequence': fold['string'], 'family': fold['label'],
                                    'fold': k}))
    frame = pd.concat(frames, ignore_index=True)
    check_sequences(frame['sequence'].tolist(),
                    names=[f'fold {k} row {i}' for k, f in enumerate(frames) for i in range(len(f))])
    return write_dataset(out_dir, out_version, frame, n_folds, {
        'source': 'course', 'inputs': [{'path': os.path.abspath(path), 'sha256': sha256(path)}
                                       for path in paths]}, force=force)


# ---------------------------------------------------------------- synthetic demo data
N_MOTIFS = 80
N_MOTIF_COMBINATIONS = math.perm(N_MOTIFS, 3)        # ordered triples of distinct motifs: 492,960


def make_demo_records(n_families=46, seed=0, min_count=40, max_count=100):
    """A learnable synthetic stand-in for Pfam: each family is a random ordered combination of 3
    motifs (6-10 residues) from a shared pool of 80, embedded with 15 % point mutations in random
    background of a family-typical length (median ~100, like real domains).

    Returns:
        DataFrame with columns ``sequence`` and ``family_accession`` (``DEMO00`` ... ).

    Raises:
        DataError: more families than the `N_MOTIF_COMBINATIONS` (492,960) ordered motif triples
            (the draw of distinct combinations would never end); `build_demo` stops at
            `MAX_DEMO_FAMILIES`, the course's scale.
    """
    if n_families > N_MOTIF_COMBINATIONS:
        raise DataError(f'{n_families:,} synthetic families asked for; only '
                        f'{N_MOTIF_COMBINATIONS:,} motif combinations exist')
    rng = np.random.default_rng(seed)
    letters = np.array(list(AMINO_ACIDS))
    pool = [rng.choice(letters, size=rng.integers(6, 11)) for _ in range(N_MOTIFS)]
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


def check_demo_families(n_families):
    """`DataError` unless ``n_families`` is in 2..`MAX_DEMO_FAMILIES`."""
    if not 2 <= n_families <= MAX_DEMO_FAMILIES:
        raise DataError(f'--families must be in 2..{MAX_DEMO_FAMILIES:,}, got {n_families:,} (the '
                        f'generator makes ~70 sequences a family; its motifs allow '
                        f'{N_MOTIF_COMBINATIONS:,} at most)')


def build_demo(out_dir=DEMO_BASEDIR, version=DEFAULT_VERSION, n_families=46, seed=0, force=False):
    """Generate the synthetic dataset as ``demo_sequences.csv.gz`` and build its folds with the
    same builder as real data."""
    check_demo_families(n_families)
    with building(out_dir, version):
        refuse_to_replace(out_dir, version, force)        # before generating
        log(f'generating {n_families} synthetic families (seed {seed}) ...')
        frame = make_demo_records(n_families, seed)
        source = os.path.join(out_dir, 'demo_sequences.csv.gz')
        atomic_write(source, lambda f: frame.to_csv(f, index=False, compression='gzip'))
        return build_dataset([source], out_dir, version=version, seed=seed, force=force)


def _has_metadata(basedir, version):
    with reading(basedir, version):
        return os.path.isfile(metadata_path(basedir, version))


def ensure_demo(basedir=DEMO_BASEDIR, version=DEFAULT_VERSION):
    """Build the demo dataset unless it is already there. Processes that call this at once (the
    first runs of a job array in a fresh clone) build it once: one builds, the others wait for
    it and use its dataset."""
    if _has_metadata(basedir, version):
        return
    with building(basedir, version):
        if not _has_metadata(basedir, version):        # not built while this process waited
            build_demo(basedir, version, force=True)


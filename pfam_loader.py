"""Pfam data layer: the course's loader API on Keras 3, rotations, tf.data pipelines, the CLI.

This file works copied alone beside a student's script (with `positional_encoder.py`): it
imports NumPy, pandas where a table is read (not at import: predict.py needs none) and
TensorFlow only inside `create_tf_datasets`, and no other file of the
suite. The suite's modules take their shared primitives from here: `DataError`, `log`,
`atomic_write`, `open_text`, `load_pickle` (re-exported by `fileio`), the vocabulary and padding
helpers, the dataset file names.

Course API (CS 5043 HW6; same names, signatures and defaults; the suite's extras are keywords)::

    dat = load_rotation('data/pfam', rotation=0, version='B')    # works on course directories too
    train, valid, test = create_tf_datasets(dat, 64, -1, 1000)  # batch, prefetch, shuffle buffer
    frames = load_pfam_dataset('data/pfam', rotation=0, version='B')   # DataFrames per split
    dat = prepare_data_set('data/pfam', rotation=0, version='B')

Command line (the suite's dataset tools: they need `pfam_build.py`, `pfam_formats.py` and
`fileio.py` beside this file; without them, one line says so and the status is 2)::

    python pfam_loader.py build --input data/pfam46/pfam46_seed.csv.gz --out data/pfam --version B
    python pfam_loader.py demo --out data/demo        # synthetic 46-family data, no download
    python pfam_loader.py convert --input <course dir> --out data/course --version B

What `load_rotation` reads (``V`` = version; ``source`` chooses between 2 and 3):

1. the suite's datasets (``pfamV_fold_k.csv`` + ``pfamV_metadata.json``, `pfam_build`): read
   under the dataset's lock after finishing any replacement whose builder was killed, so a load
   sees the old dataset or the new one whole (`pfam_build.reading`, used when the suite is
   there; a file copied alone refuses a dataset in the middle of a replacement); the folds'
   hashes are also checked against the metadata, so folds mixed by other means are refused;
2. a course directory's fold CSVs (``pfamV_fold_k.csv`` or ``.csv.gz``): re-tokenized from the
   strings with the suite's vocabulary, every residue kept. ``source=None`` (the default) reads
   them when present, ``source='csv'`` only them;
3. course rotation pickles (``pfamV_rotation_r.pkl``, or as the 2022 files were delivered,
   ``pfamV_rotation_r_2022.pkl``), read when there are no fold CSVs or with
   ``source='pickle'``: converted to right padding (lossless) with classes re-indexed; the token
   ids stay the file's, and ``dat['vocabulary']`` is None because the letter map is unknown.
   They are read by `load_pickle`, which takes arrays and plain values only and runs no code.

A folder that holds both fold CSVs and rotation pickles gets one line on stderr (once per
process, folder and source) saying which it read and how to read the other.

Whatever the source, the dict has the course's keys (`ROTATION_KEYS`) with Python ints, right
padding and class ``i`` = the i-th sorted family name in every rotation (0-based
``out_index_word``), plus ``vocabulary`` (letters of tokens 1, 2, ... or None) and ``source``.
Rotation ``r`` of ``k`` folds: train = folds ``r .. r+k-3`` (mod k), validation = ``r+k-2``,
test = ``r+k-1``, as in the course.

Tokens: 0 is padding; the 20 standard amino acids ``ACDEFGHIKLMNPQRSTVWY`` are 1..20 and the
ambiguous letters ``BZXUO`` are 21..25, so ``N_TOKENS == 26``. Lower case is folded to upper
case. Any other character is an error naming the sequence: there is no unknown token, because a
silently dropped residue shifts every motif behind it. Padding is on the **right**: a sequence's
tokens start at position 0 whatever the padding, which is what length bucketing, masked
recurrent layers (cuDNN needs right padding) and positional encodings want. Left-padded matrices
(the course's ``pad_sequences`` default) are shifted losslessly by `right_padded`.
"""
import argparse
import contextlib
import glob
import gzip
import hashlib
import io
import itertools
import json
import os
import pickle
import re
import sys
import tempfile
import zlib

import numpy as np

ROTATION_KEYS = ('ins_train', 'outs_train', 'ins_valid', 'outs_valid', 'ins_test', 'outs_test',
                 'len_max', 'n_tokens', 'out_index_word', 'out_word_index', 'rotation', 'n_classes')
SPLITS = ('train', 'valid', 'test')
#: What `load_rotation` may read of a course folder (``source``; None: the fold CSVs if present)
SOURCES = ('csv', 'pickle')
#: The suite's files that the command line and locked reading need beside this one
SUITE_MODULES = ('pfam_build', 'pfam_formats', 'fileio')
_PFAM_LOWER = re.compile(r'pf\d{5}(\.\d+)?')     # the course's label tokenizer lower-cases names


# ---------------------------------------------------------------- errors, progress, files
class DataError(ValueError):
    """A problem with the user's data or arguments, reported as one line (CLI exit code 2)."""


def log(message):
    """Progress output: one flushed line on stderr, so it shows up live in SLURM logs."""
    print(message, file=sys.stderr, flush=True)


def atomic_write(path, write, mode='wb'):
    """Write a file through a temporary file in the same folder and an atomic rename.

    Args:
        path: destination file.
        write: callable taking the open temporary file object, or with ``mode='path'`` its path
            (for savers that want a file name: Keras models and weights, matplotlib figures).
        mode: 'wb', 'w' or 'path'. The temporary name keeps the suffix of ``path`` (``.keras``,
            ``.weights.h5``, ``.png`` ...), which such savers check.

    A crash or a kill midway leaves either the old file or the new one, never half a file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix='.' + name + '.',
                                   suffix=name[name.find('.'):] if '.' in name else '')
    try:
        if mode == 'path':
            os.close(handle)
            write(tmp)
        else:
            with os.fdopen(handle, mode) as f:
                write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


#: What reading a truncated or damaged gzip file raises (`open_text` turns them into `DataError`).
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class _CheckedGzipFile(gzip.GzipFile):
    """A gzip file whose decompression errors raise `DataError` naming the file ``path`` (read
    from ``fileobj`` when given)."""

    def __init__(self, path, fileobj=None):
        super().__init__(None if fileobj is not None else path, 'rb', fileobj=fileobj)
        self.path = path

    def _checked(self, method, *args):
        try:
            return method(*args)
        except GZIP_ERRORS as err:
            raise DataError(f'{self.path}: truncated or damaged gzip file ({err})') from None

    def read(self, size=-1):
        return self._checked(super().read, size)

    def read1(self, size=-1):
        return self._checked(super().read1, size)

    def peek(self, n):
        return self._checked(super().peek, n)

    def readline(self, size=-1):
        return self._checked(super().readline, size)

    def seek(self, offset, whence=io.SEEK_SET):
        return self._checked(super().seek, offset, whence)


#: What a results or course pickle may hold besides plain Python values: NumPy arrays, dtypes and
#: scalars (and the helpers NumPy pickles them with). Nothing that runs code.
SAFE_PICKLE_GLOBALS = {
    (module, name)
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray', 'numpy.core.numeric',
                   'numpy._core.numeric', 'numpy')
    for name in ('_reconstruct', 'scalar', '_frombuffer', 'ndarray', 'dtype')
} | {('_codecs', 'encode'), ('collections', 'OrderedDict'), ('builtins', 'set'),
     ('builtins', 'frozenset'), ('builtins', 'complex'), ('builtins', 'slice'),
     ('builtins', 'range')}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in SAFE_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f'it refers to {module}.{name}: this reader only takes '
                                         'arrays, numbers, strings, lists and dicts')
        return super().find_class(module, name)


def load_pickle(handle):
    """Unpickle a results or course pickle from an open binary file, refusing anything but plain
    values and NumPy arrays (`SAFE_PICKLE_GLOBALS`): a crafted pickle raises
    ``pickle.UnpicklingError`` instead of running its code."""
    return _SafeUnpickler(handle).load()


def open_text(path):
    """Open a text file, gzip-compressed or not, for reading.

    A UTF-8 byte-order mark at the start is skipped; undecodable bytes (Pfam files are latin-1
    in places) become U+FFFD. Reading a truncated or damaged gzip file raises `DataError` naming
    it, not ``EOFError``.
    """
    with open(path, 'rb') as f:
        gzipped = f.read(2) == b'\x1f\x8b'
    if gzipped:
        return io.TextIOWrapper(_CheckedGzipFile(path), encoding='utf-8-sig', errors='replace')
    return open(path, 'rt', encoding='utf-8-sig', errors='replace')


# ---------------------------------------------------------------- tokens and padding
AMINO_ACIDS = 'ACDEFGHIKLMNPQRSTVWY'   # the 20 standard residues: tokens 1..20
AMBIGUOUS = 'BZXUO'                    # Asx, Glx, unknown, selenocysteine, pyrrolysine: 21..25
VOCABULARY = AMINO_ACIDS + AMBIGUOUS
PAD_TOKEN = 0
N_TOKENS = len(VOCABULARY) + 1         # 26, padding included
_ROWS_PER_CHUNK = 8192                 # bounds the temporary memory of the vectorised steps

_TOKEN_OF_BYTE = np.zeros(256, dtype=np.uint8)          # 0 marks "not in the vocabulary"
for _token, _letter in enumerate(VOCABULARY, start=1):
    _TOKEN_OF_BYTE[ord(_letter)] = _token
    _TOKEN_OF_BYTE[ord(_letter.lower())] = _token


def encode(strings, len_max=None, names=None, truncate=False):
    """Turn amino-acid strings into a right-padded uint8 token matrix (vectorised).

    Args:
        strings: sequence of str, e.g. ``['ACD', 'MKV']``.
        len_max: width of the result; default the longest string.
        names: optional identifiers used in error messages (default: the index).
        truncate: cut strings longer than ``len_max`` (keeping their start) instead of raising.

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
    name = lambda i: names[i] if names is not None else f'#{i}'          # noqa: E731
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    len_max = int(lengths.max(initial=0)) if len_max is None else int(len_max)
    if (lengths == 0).any():
        raise DataError(f'sequence {name(int(np.argmax(lengths == 0)))} is empty')
    if not truncate and (lengths > len_max).any():
        i = int(np.argmax(lengths > len_max))
        raise DataError(f'sequence {name(i)} has {lengths[i]} residues, more than '
                        f'len_max={len_max}')
    out = np.zeros((len(strings), len_max), dtype=np.uint8)
    positions = np.arange(len_max)
    for start in range(0, len(strings), _ROWS_PER_CHUNK):
        chunk = strings[start:start + _ROWS_PER_CHUNK]
        text = ''.join(s[:len_max] for s in chunk) if truncate else ''.join(chunk)
        tokens = _TOKEN_OF_BYTE[np.frombuffer(text.encode('latin-1', errors='replace'),
                                              dtype=np.uint8)]
        kept = np.minimum(lengths[start:start + len(chunk)], len_max)
        if not tokens.all():
            position = int(np.argmin(tokens))
            row = int(np.searchsorted(np.cumsum(kept), position, side='right'))
            raise DataError(f'sequence {name(start + row)} has the character {text[position]!r}, '
                            f'which is not one of {VOCABULARY} (nor lower case)')
        # Boolean-mask assignment fills row by row, in the order of the concatenated text.
        out[start:start + len(chunk)][positions[None, :] < kept[:, None]] = tokens
    return out


def check_sequences(strings, names=None):
    """Raise `DataError` for the first empty sequence or foreign character, without building a
    token matrix (memory: one byte per residue)."""
    strings = list(strings)
    name = lambda i: names[i] if names is not None else f'#{i}'          # noqa: E731
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    if (lengths == 0).any():
        raise DataError(f'sequence {name(int(np.argmax(lengths == 0)))} is empty')
    text = ''.join(strings)
    tokens = _TOKEN_OF_BYTE[np.frombuffer(text.encode('latin-1', errors='replace'), np.uint8)]
    if not tokens.all():
        position = int(np.argmin(tokens))
        row = int(np.searchsorted(np.cumsum(lengths), position, side='right'))
        raise DataError(f'sequence {name(row)} has the character {text[position]!r}, which is '
                        f'not one of {VOCABULARY} (nor lower case)')


def decode(tokens):
    """Inverse of `encode` for one row: token ids → string, padding dropped."""
    return ''.join(VOCABULARY[t - 1] for t in np.asarray(tokens) if t != PAD_TOKEN)


def substitute(tokens, rate, seed):
    """Point-substitution augmentation: ``tokens`` with each residue replaced, with probability
    ``rate``, by one of the 20 standard amino acids drawn uniformly (it may draw the same one).
    Padding stays padding; the result has the dtype of ``tokens``; the same ``seed`` (anything
    `numpy.random.default_rng` takes) gives the same substitutions."""
    tokens = np.asarray(tokens)
    rng = np.random.default_rng(seed)
    hit = (rng.random(tokens.shape) < rate) & (tokens != PAD_TOKEN)
    out = tokens.copy()
    out[hit] = rng.integers(1, len(AMINO_ACIDS) + 1, size=int(hit.sum()))
    return out


def sequence_lengths(ins):
    """Number of non-padding tokens of each row of a token matrix."""
    return np.count_nonzero(np.asarray(ins), axis=1)


def length_order(ins):
    """Stable order of the rows by length: the order of bucketed validation/test batches.

    ``probabilities[np.argsort(length_order(ins))]`` puts predictions made in that order back in
    the order of ``ins`` (and of ``outs``).
    """
    return np.argsort(sequence_lengths(ins), kind='stable')


def padding_rows(ins):
    """Indices of the rows that are not right-padded: padding (0) before a residue."""
    ins = np.asarray(ins)
    if ins.ndim != 2:
        raise DataError(f'a token matrix must have 2 dimensions (sequences, positions), got shape '
                        f'{ins.shape}')
    if ins.shape[1] == 0:
        return np.zeros(0, dtype=np.int64)
    # A right-padded row is non-increasing in "is a residue": no 0 → non-0 step anywhere.
    real = ins != PAD_TOKEN
    return np.flatnonzero((~real[:, :-1] & real[:, 1:]).any(axis=1))


def right_padded(ins, rows=None):
    """``ins`` with the residues of every row moved to its start, in order (lossless).

    Left padding (Keras ``pad_sequences``' default ``'pre'``), or padding anywhere else, becomes
    right padding; already right-padded rows are untouched, and then ``ins`` itself is returned.

    Args:
        ins: (N, T) token matrix.
        rows: the rows to fix, default `padding_rows` (pass it when already computed).

    Example:
        >>> right_padded(np.array([[0, 0, 5, 3], [4, 0, 0, 0]]))
        array([[5, 3, 0, 0],
               [4, 0, 0, 0]])
    """
    ins = np.asarray(ins)
    rows = padding_rows(ins) if rows is None else rows
    if len(rows) == 0:
        return ins
    out = ins.copy()
    for start in range(0, len(rows), _ROWS_PER_CHUNK):
        chunk = rows[start:start + _ROWS_PER_CHUNK]
        # A stable sort on "is padding" keeps the residues' order and moves padding to the end.
        order = np.argsort(ins[chunk] == PAD_TOKEN, axis=1, kind='stable')
        out[chunk] = np.take_along_axis(ins[chunk], order, axis=1)
    return out


# ---------------------------------------------------------------- length buckets
BUCKET_GROWTH = 1.25       # each bucket ~25 % longer than the one before (see bucket_lengths)


def default_bucket_lengths(len_max, growth=BUCKET_GROWTH):
    """Padded lengths of the length buckets: multiples of 32 from 32, each about ``growth``
    times the one before (at least 32 longer), ending at ``len_max``.

    A small fixed set keeps the number of distinct batch shapes low (each is traced once by
    TensorFlow, and compiled once by XLA/JAX on a GPU) while wasting little on padding: the
    padding of a sequence is below ``growth - 1`` of its length beyond the first buckets.
    ``python bench.py --buckets`` prints shapes vs padding for several ``growth`` values.
    """
    if growth <= 1:
        raise DataError(f'the bucket growth must be > 1, got {growth}')
    lengths, length = [], 32
    while length < len_max:
        lengths.append(length)
        length = max(length + 32, int(np.ceil(length * growth / 32) * 32))
    return lengths + [int(len_max)]


def length_batches(ins, batch, widths):
    """``(rows, width)`` of batches of ``ins`` in `length_order`: each holds ``batch`` rows (the
    last fewer) of similar length, to be trimmed to ``width``, the smallest of ``widths`` that
    holds its longest row (right padding). Validation, test and prediction batches."""
    order = length_order(ins)
    lengths = sequence_lengths(ins)[order]
    for start in range(0, len(order), batch):
        stop = min(start + batch, len(order))
        yield order[start:stop], widths[int(np.searchsorted(widths, max(int(lengths[stop - 1]), 1)))]


# ---------------------------------------------------------------- the files of a dataset
DEFAULT_BASEDIR = 'data/pfam'
DEMO_BASEDIR = 'data/demo'
DEFAULT_VERSION = 'B'          # the course's data set name; the course API's own default is ''
N_FOLDS = 5
FOLD_COLUMNS = ('string', 'label')
#: Any file of a dataset: group 1 is its version
DATASET_FILE = re.compile(r'pfam(.*)_(fold_\d+\.csv(?:\.gz)?|rotation_\d+(?:_\d{4})?\.pkl'
                          r'|metadata\.json)')
#: The journal of a replacement in progress (`pfam_build`): group 1 is the dataset's version
JOURNAL_FILE = re.compile(r'\.pfam(.*)-switch\.json')


def fold_path(basedir, k, version=''):
    """The name a fold file is written under (``pfam{version}_fold_{k}.csv``)."""
    return os.path.join(basedir, f'pfam{version}_fold_{k}.csv')


def fold_file(basedir, k, version=''):
    """The fold file present: `fold_path`, else it gzipped (``.csv.gz``), else None."""
    path = fold_path(basedir, k, version)
    return next((p for p in (path, path + '.gz') if os.path.isfile(p)), None)


def rotation_path(basedir, rotation, version=''):
    """The name a rotation pickle is written under (``pfam{version}_rotation_{r}.pkl``)."""
    return os.path.join(basedir, f'pfam{version}_rotation_{rotation}.pkl')


def rotation_file(basedir, rotation, version=''):
    """The rotation pickle present: `rotation_path`, else one with the year of its vintage
    (``pfam_rotation_0_2022.pkl``, as the course delivered the 2022 files), else None.

    Raises:
        DataError: pickles of several vintages and none without a year.
    """
    path = rotation_path(basedir, rotation, version)
    if os.path.isfile(path):
        return path
    stem = glob.escape(path[:-len('.pkl')])
    found = sorted(p for p in glob.glob(stem + '_*.pkl') if re.fullmatch(r'_\d{4}\.pkl',
                                                                          p[len(path) - 4:]))
    if len(found) > 1:
        raise DataError(f'{basedir}: rotation {rotation} has pickles of several vintages ('
                        f'{", ".join(map(os.path.basename, found))}); keep one')
    return found[0] if found else None


def metadata_path(basedir, version=''):
    return os.path.join(basedir, f'pfam{version}_metadata.json')


def journal_path(basedir, version=''):
    """The journal of a replacement in progress (`pfam_build`)."""
    return os.path.join(basedir, f'.pfam{version}-switch.json')


def count_folds(basedir, version=''):
    """Number of consecutive fold files ``pfam{version}_fold_0.csv(.gz), _1 ...`` in
    ``basedir``."""
    with reading(basedir, version):
        k = 0
        while fold_file(basedir, k, version):
            k += 1
        return k


def versions_in(basedir):
    """Dataset versions that have any fold, rotation or metadata file in ``basedir``."""
    names = os.listdir(basedir) if os.path.isdir(basedir) else []
    pending = {m.group(1) for m in map(JOURNAL_FILE.fullmatch, names) if m}
    for version in pending:                     # finish replacements whose builder was killed
        with reading(basedir, version):
            pass
    if pending:
        names = os.listdir(basedir)
    return sorted({m.group(1) for m in map(DATASET_FILE.fullmatch, names) if m})


def read_fold_csv(path):
    """A fold file, gzipped or not, as (DataFrame with columns ``string``, ``label``; SHA-256 of
    the file's bytes).

    Sequences are upper-cased and stripped, labels stripped. Raises `DataError` (one line) for a
    file that is empty, not a CSV, a damaged gzip file or lacks the columns.
    """
    import pandas as pd
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise DataError(f'{path}: cannot read: {err.strerror}') from None
    digest = hashlib.sha256(data).hexdigest()
    if data[:2] == b'\x1f\x8b':
        with _CheckedGzipFile(path, io.BytesIO(data)) as unzipped:
            data = unzipped.read()
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
    return frame, digest


def read_metadata(basedir, version):
    """The metadata JSON of a dataset, or None when there is none."""
    path = metadata_path(basedir, version)
    try:
        with reading(basedir, version):
            if not os.path.isfile(path):
                return None
            with open_text(path) as f:
                metadata = json.load(f)
    except (ValueError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f'{path}: unreadable metadata ({err}); rebuild the dataset with '
                        '--force') from None
    if not isinstance(metadata, dict) or not {'classes', 'n_folds'} <= set(metadata):
        raise DataError(f'{path}: not a dataset metadata file; rebuild the dataset with --force')
    return metadata


# ---------------------------------------------------------------- the rest of the suite
def suite(purpose):
    """The suite's dataset modules ``(pfam_build, pfam_formats, fileio)``, imported for
    ``purpose`` (words for the message).

    Raises:
        DataError: this file was copied without them; the message names the files to copy.
    """
    try:
        import fileio
        import pfam_build
        import pfam_formats
    except ModuleNotFoundError as err:
        if err.name not in SUITE_MODULES:
            raise
        raise DataError(f'{purpose} needs the suite\'s '
                        f'{", ".join(name + ".py" for name in SUITE_MODULES)} beside '
                        f'pfam_loader.py ({err.name}.py is missing): copy them from the suite') \
            from None
    return pfam_build, pfam_formats, fileio


def reading(basedir, version=''):
    """Keep dataset ``version`` of ``basedir`` unchanged while the ``with`` block reads it:
    `pfam_build.reading` (the dataset lock; a replacement whose builder was killed is finished
    first). Copied without the suite, this file reads unlocked, and refuses a dataset whose
    replacement journal is there (a suite folder in the middle of a replacement)."""
    try:
        pfam_build = suite('finishing it')[0]
    except DataError as err:
        if os.path.exists(journal_path(basedir, version)):
            journal = os.path.basename(journal_path(basedir, version))
            raise DataError(f'{basedir}: dataset {version!r} is in the middle of a replacement '
                            f'({journal}); {err}') from None
        return contextlib.nullcontext()
    return pfam_build.reading(basedir, version)


def ensure_demo(basedir=DEMO_BASEDIR, version=DEFAULT_VERSION):
    """Build the demo dataset unless it is already there (`pfam_build.ensure_demo`)."""
    suite('the demo dataset')[0].ensure_demo(basedir, version)


# ---------------------------------------------------------------- the course API
def load_pfam_file(basedir, fold, version=''):
    """Fold ``fold`` (``pfam{version}_fold_{fold}.csv`` or ``.csv.gz``) as a DataFrame with
    columns ``string`` and ``label``."""
    return _read_fold(basedir, fold, version)[0]


def _read_fold(basedir, fold, version):
    """(DataFrame, SHA-256 of the file) of fold ``fold``: one read serves both."""
    with reading(basedir, version):
        path = fold_file(basedir, fold, version)
        if path is None:
            raise FileNotFoundError(f'{fold_path(basedir, fold, version)} not found'
                                    + _versions_hint(basedir, version))
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
    import pandas as pd
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


def load_rotation(basedir=DEFAULT_BASEDIR, rotation=0, version='', *, source=None):
    """One rotation of a suite dataset or a course directory (see the module docstring).

    Args:
        basedir, rotation, version: the course's: ``{basedir}/pfam{version}_...`` files.
        source: (suite) what to read of a folder: 'csv' the fold CSVs, 'pickle' the rotation
            pickles, None the fold CSVs when there are any, else the pickles.

    Returns:
        dict with `ROTATION_KEYS`, ``vocabulary`` and ``source``: ``ins_*`` (N, len_max) uint8
        (int32 from course pickles) right-padded tokens, ``outs_*`` int32 (N, 1) class indices,
        ``out_index_word[i]`` the name of class i.

    Raises:
        FileNotFoundError: no dataset of that version (or of that source) in ``basedir``.
        DataError: a damaged, mixed or malformed dataset, a bad rotation or source (one line).
    """
    if source not in (None, *SOURCES):
        raise DataError(f"source must be one of {', '.join(map(repr, SOURCES))} or None, got "
                        f'{source!r}')
    with reading(basedir, version):                # metadata and folds of one dataset
        metadata = read_metadata(basedir, version)
        n_folds = int(metadata['n_folds']) if metadata is not None else \
            count_folds(basedir, version)
        has_folds = metadata is not None or n_folds >= 3
        n_rotations = n_folds if has_folds else N_FOLDS
        rotation_folds(rotation, n_rotations, n_rotations - 2)
        pickled = rotation_file(basedir, rotation, version)
        chosen = source or ('csv' if has_folds else 'pickle')
        if has_folds and pickled:
            _say_source(basedir, version, chosen)
        if chosen == 'csv' and has_folds:
            return prepare_data_set(basedir, rotation, n_folds, n_folds - 2, version)
        if chosen == 'pickle' and pickled:
            return _from_course_pickle(pickled, rotation)
    what = {'csv': f'{os.path.basename(fold_path(basedir, 0, version))}(.gz)',
            'pickle': os.path.basename(rotation_path(basedir, rotation, version))}
    hint = ('python pfam_loader.py demo --out ' + basedir if 'demo' in basedir else
            'python pfam_loader.py build --input ... --out ' + basedir)
    raise FileNotFoundError(f'no dataset of version {version!r} in {basedir!r} ('
                            + (f'no {what[source]}; source={source!r}' if source else
                               f'neither {what["csv"]} nor {what["pickle"]}') + ')'
                            + _versions_hint(basedir, version) + f'; build one with: {hint}')


_SOURCE_SAID = set()           # (folder, version, source) of the lines `_say_source` printed


def _say_source(basedir, version, source):
    """One line, once per process, folder, version and source: which of a folder's two sources
    `load_rotation` read, and how to read the other."""
    key = (os.path.realpath(basedir), version, source)
    if key in _SOURCE_SAID:
        return
    _SOURCE_SAID.add(key)
    if source == 'csv':
        log(f"{basedir}: read the fold CSVs (re-tokenized with the suite's "
            f"{len(VOCABULARY)}-letter vocabulary, every residue kept); pass source='pickle' "
            "(hw6_base.py --source pickle) to read the rotation pickles")
    else:
        log(f"{basedir}: read the rotation pickles (the course's tokens and padding); pass "
            "source='csv' (hw6_base.py --source csv) to read the fold CSVs")


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
    import pandas as pd
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
    """The parser of the suite's dataset tools (`DataError` without the suite: `suite`)."""
    pfam_build, pfam_formats, _ = suite('the command line (build, demo, convert)')
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
    build.add_argument('--format', default='auto', choices=pfam_formats.FORMATS,
                       help='input format')
    build.add_argument('--out', default=DEFAULT_BASEDIR, help='output directory')
    which = build.add_mutually_exclusive_group()
    which.add_argument('--families', metavar='FILE', help='file of accessions to keep, one a line')
    which.add_argument('--top', type=int, metavar='K', help='keep the K largest families')
    build.add_argument('--folds', type=int, default=N_FOLDS, help='number of folds')
    build.add_argument('--seed', type=int, default=0, help='seed of the stratified split')
    build.add_argument('--max_length', type=int, default=pfam_build.MAX_LENGTH, metavar='RESIDUES',
                       help='a longer sequence is an error naming it (training pads sequences '
                            'to the longest: one of 2,000,000 residues needs ~10 GB); the '
                            'course data\'s longest is 3,934')
    build.add_argument('--skip_long', action='store_true',
                       help='leave sequences longer than --max_length out (counted) instead')
    demo = commands.add_parser('demo', help='synthetic, learnable dataset; no download',
                               formatter_class=formatter)
    demo.add_argument('--out', default=DEMO_BASEDIR, help='output directory')
    demo.add_argument('--families', type=int, default=46,
                      help=f'number of synthetic families (2..{pfam_build.MAX_DEMO_FAMILIES})')
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


def main(argv=None):
    """``python pfam_loader.py build|demo|convert``: errors are one line and status 2, also the
    absence of the suite's files that the tools need (`suite`)."""
    try:
        fileio = suite('the command line (build, demo, convert)')[2]
    except DataError as err:
        print(f'pfam_loader.py: error: {err}', file=sys.stderr, flush=True)
        return 2
    return fileio.command()(_run)(argv)


def _run(argv):
    pfam_build, pfam_formats, _ = suite('the command line (build, demo, convert)')
    parser = create_parser()
    args = parser.parse_args(argv)
    if not 0 <= getattr(args, 'seed', 0) < 2 ** 32:
        raise DataError(f'--seed must be in 0 .. 2**32 - 1, got {args.seed}')
    for option in ('top', 'folds', 'max_length'):
        if getattr(args, option, None) is not None and getattr(args, option) < 1:
            raise DataError(f'--{option} must be a positive integer, got {getattr(args, option)}')
    if args.command == 'build':
        families = pfam_formats.read_family_list(args.families) if args.families else None
        pfam_build.build_dataset(args.input, args.out, args.version, families, args.top,
                                 args.folds, args.seed, args.format, force=args.force,
                                 max_length=args.max_length, skip_long=args.skip_long)
    elif args.command == 'demo':
        pfam_build.build_demo(args.out, args.version, args.families, args.seed, force=args.force)
    else:
        pfam_build.convert_course(args.input, args.out, args.version, args.out_version,
                                  args.force)
    return 0


if __name__ == '__main__':
    import pfam_loader            # the module the suite imports: one DataError class, not two
    sys.exit(pfam_loader.main())

"""The suite's amino-acid vocabulary: strings ↔ right-padded token matrices, and padding repair.

* Tokens: 0 is padding; the 20 standard amino acids ``ACDEFGHIKLMNPQRSTVWY`` are 1..20 and the
  ambiguous letters ``BZXUO`` are 21..25, so ``N_TOKENS == 26``. Lower case is folded to upper
  case. Any other character is an error naming the sequence: there is no unknown token, because a
  silently dropped residue shifts every motif behind it.
* Padding is on the **right** (``'post'``): a sequence's tokens start at position 0 whatever the
  padding, which is what length bucketing, masked recurrent layers (cuDNN needs right padding) and
  positional encodings want. Left-padded matrices (the course's ``pad_sequences`` default) are
  shifted losslessly by `right_padded`.
"""
import numpy as np

from fileio import DataError

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

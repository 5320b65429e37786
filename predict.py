"""Predict the Pfam family of new sequences with a trained model, or "none of these families".

    python predict.py --input new.fasta --out preds.csv     # the default (below)
    python predict.py --model results/pfam46/mha_rot0.keras --input new.fasta --out preds.csv --top_k 3
    python predict.py --model results/pfam46/*_rot0.keras --input new.fasta      # an ensemble

The default, ``results/pfam46_small/mha_rot0.npz`` (`numpy_model.DEFAULT_FILE`, written by
open_set.py), is rotation 0's MHA of the ``mha_small`` preset run in NumPy (`numpy_model`: no
TensorFlow, the same probabilities) with an open-set check: the sequence's bit score against the
profile HMM of the family the network chose (`profile_check`), minus that family's calibrated
threshold, is the ``score`` column (bits; ``inf`` where HMMER's MSV filter saturates and the
full search is skipped, unless ``--full_scores``), and a sequence whose score is below
``--threshold`` (default 0) gets the family ``none``.
``--min_probability`` does the same on the top probability, for any model.

Input: FASTA (multi-line records fine), a CSV with a ``sequence`` column (and optionally ``id``),
or plain text with one sequence per line. Output: CSV with columns ``id,family,probability``
(top 1), ``family_2,probability_2 ...`` up to ``--top_k``, ``network_family,score`` (models
with the open-set check: the network's top family, kept when ``family`` is ``none``, and its
score), then ``note``; ``family`` is the Pfam accession, or ``none``. ``note`` is ``short`` for a sequence shorter than any in training (the metadata's
``len_min``; without it, shorter than 15 residues: the 46-family benchmark's shortest has 18),
``long`` for one longer than any (``len_max``; predicted whole, the network takes any length),
else empty. Class names come from ``{model}_meta.json``, which hw6_base.py writes beside every
model with the model's ``fingerprint`` (`network.model_fingerprint`) and a ``meta_hash`` of its
own content (`fileio.content_hash`). Refused, with one line naming the problem: metadata without
either, of another model (class count or fingerprint), edited (its content no longer matches its
hash: class names swapped, renamed or replaced ...), with repeated class names or with a field
of the wrong type (`artefacts.META_TYPES`); re-copying the metadata written with the model mends
it.

Several ``--model`` files form an ensemble: the mean of their probabilities (models of several
rotations and/or types; they must name the same classes in the same order, else an error).

Sequences are batched by length, never padded to the training maximum; a batch of sequences
longer than 800 residues holds fewer of them, so that it needs no more memory than ``--batch``
800-residue ones. A sequence longer than ``--max_length`` (default 4,000 residues: about 0.9 GB
with the reference MHA model, whose memory grows with the square of the length) is reported by id
and skipped, like a record with an invalid residue (``--strict``: an error instead). Duplicate
ids are predicted, one row per record, with one warning.
Exit codes: 0 done, 2 bad input (missing or unreadable model or input, metadata of another
model or edited, an ``--out`` that cannot be written or is one of the inputs, empty input,
nothing valid), all checked before inference.
"""
import argparse
import csv
import io
import os
import sys
import tempfile
import time

# NumPy's matrix products on one thread (set before NumPy is first imported): the NumPy
# model's matrices are small, where more threads cost more CPU time than they save
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np  # noqa: E402

import artefacts  # noqa: E402
import fileio  # noqa: E402
import job_control  # noqa: E402
import numpy_model  # noqa: E402
import pfam_loader  # noqa: E402
import settings  # noqa: E402
from parser import growth_factor  # noqa: E402
from pfam_loader import DataError  # noqa: E402

#: without ``len_min`` in the metadata, sequences shorter than this are flagged ``short``
SHORT_LENGTH = 15
#: default ``--max_length``: longer sequences are skipped (MHA memory grows with length squared)
MAX_LENGTH = 4000
#: batches of sequences longer than this hold fewer sequences (see `batch_size_for`)
REFERENCE_LENGTH = 800
#: the default ``--model``: rotation 0's mha_small in NumPy with the open-set check (open_set.py)
DEFAULT_MODEL = numpy_model.DEFAULT_FILE
#: the reference ensemble of rotation 0 (the default before the open-set check)
DEFAULT_ENSEMBLE = [
    artefacts.paths(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results', 'pfam46'),
                    artefacts.run_name(model_type, 0))['model']
    for model_type in job_control.REFERENCE_TYPES]
meta_path = artefacts.meta_of_model
#: a model file of `numpy_model` (written by open_set.py)
NUMPY_SUFFIX = '.npz'

#: CSV columns read as the sequence (the course's fold CSVs call it ``string``), and as the id
SEQUENCE_COLUMNS = ('sequence', 'string')
ID_COLUMNS = ('id', 'sequence_name')
#: the family of a sequence the open-set check (or --min_probability) rejects
NONE = 'none'
#: invalid records reported one by one; the rest are counted
REPORTED_SKIPS = 10


def read_sequences(path):
    """``[(id, sequence)]`` from FASTA, a CSV with a ``sequence`` (or ``string``) column, or one
    sequence per line; gzipped or not (`fileio.open_text`: a UTF-8 byte-order mark is skipped,
    a truncated gzip file is a `DataError`). The first non-blank line decides: ``>`` is FASTA,
    a comma-separated header naming a sequence column is a CSV, else one sequence a line.

    Raises:
        DataError: a missing, empty, truncated or malformed file (one line).
    """
    if not os.path.isfile(path):
        raise pfam_loader.DataError(f'{path}: no such file')
    with pfam_loader.open_text(path) as handle:
        try:
            text = handle.read()
        except UnicodeDecodeError:
            raise pfam_loader.DataError(f'{path}: not a text file') from None
    text = text.lstrip('\ufeff')                       # a second byte-order mark, if any
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise pfam_loader.DataError(f'{path}: empty input')
    if lines[0].lstrip().startswith('>'):
        return [((title.split() or [f'record{i + 1}'])[0], sequence)
                for i, (title, sequence) in enumerate(fasta_records(text.lstrip()))]
    header = [cell.strip().lower() for cell in lines[0].split(',')]
    column = next((name for name in SEQUENCE_COLUMNS if name in header), None)
    if column:
        return _read_csv_sequences(path, text, column)
    return [(f'line{i + 1}', line.strip()) for i, line in enumerate(lines)]


def fasta_records(text):
    """``[(title, sequence)]`` of FASTA ``text`` (starting with ``>``): the title line without
    its ``>``, the lines up to the next title joined with all whitespace removed (what
    Biopython's SimpleFastaParser gives, without importing Biopython: about 0.15 CPU s)."""
    records = []
    for chunk in ('\n' + text).split('\n>')[1:]:
        title, _, body = chunk.partition('\n')
        records.append((title.strip(), ''.join(body.split())))
    return records


def _read_csv_sequences(path, text, column):
    """The ``(id, sequence)`` rows of CSV ``text`` whose header names ``column``; ids from an
    `ID_COLUMNS` column, else ``row1, row2 ...``. Fields longer than the csv module's default
    limit (a long sequence) are read whole."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip()))
        fields = [name for name in reader.fieldnames or [] if name is not None]
        key = next((k for k in fields if k.strip().lower() == column), None)
        id_key = next((k for k in fields if k.strip().lower() in ID_COLUMNS), None)
        rows = [(str(row.get(id_key) or f'row{i + 1}').strip() if id_key else f'row{i + 1}',
                 str(row.get(key) or '').strip())
                for i, row in enumerate(reader)]
    except csv.Error as err:
        raise pfam_loader.DataError(f'{path}: not readable as CSV (line {reader.line_num}: '
                                    f'{fileio.one_line(err)})') from None
    finally:
        csv.field_size_limit(limit)
    if key is None:
        raise pfam_loader.DataError(f'{path}: no {column} column in the CSV header '
                                    f'{", ".join(fields[:6])}')
    if not rows:
        raise pfam_loader.DataError(f'{path}: a header but no rows')
    return rows


def ensemble_meta(metas):
    """The metadata of one model or an ensemble (``{model path: (meta file, meta)}``): the class
    names, which every member must share in the same order, and the widest training length
    range of the members (for the ``note`` column)."""
    (first_path, (_, first)), *others = metas.items()
    for path, (meta_file, meta) in others:
        if meta['class_names'] != first['class_names']:
            raise DataError(f'{path} and {first_path} name different classes (or in another '
                            'order): they cannot form an ensemble')
    merged = dict(first)
    lengths = [meta for _, meta in metas.values()]
    if all(m.get('len_min') for m in lengths):
        merged['len_min'] = min(m['len_min'] for m in lengths)
    else:
        merged.pop('len_min', None)
    if all(m.get('len_max') for m in lengths):
        merged['len_max'] = max(m['len_max'] for m in lengths)
    return merged


def check_meta(meta, model, meta_file, model_path):
    """Refuse metadata (checked by `artefacts.load_meta`) that belongs to another model: a class
    count other than the model's output width, or a ``fingerprint`` other than
    `network.model_fingerprint` of the model."""
    import network
    width, n_names = model.output_shape[-1], len(meta['class_names'])
    if n_names != width:
        raise DataError(f'{meta_file}: {n_names} class names but {model_path} has {width} '
                        'outputs; the metadata belongs to another model')
    recorded = meta['fingerprint']
    actual = network.model_fingerprint(model)
    if recorded != actual:
        raise DataError(f'{meta_file}: written for another model (fingerprint {recorded}, '
                        f'{model_path} has {actual}); use the metadata saved beside it')


def check_output(out, inputs):
    """Refuse, before any work, an ``--out`` that cannot be written or that is one of ``inputs``
    (``{what: path}``; the same file under any spelling, links included)."""
    if os.path.isdir(out):
        raise DataError(f'--out {out}: is a directory')
    if os.path.exists(out):
        for what, path in inputs.items():
            if os.path.exists(path) and os.path.samefile(out, path):
                raise DataError(f'--out {out} is the {what} file {path}; refusing to overwrite it')
        if not os.path.isfile(out):                     # /dev/null, /dev/stdout, a fifo
            if not os.access(out, os.W_OK):
                raise DataError(f'--out {out}: not writable')
            return
    folder = os.path.dirname(os.path.abspath(out))
    while not os.path.exists(folder):                   # atomic_write creates missing folders
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise DataError(f'--out {out}: {folder} is a file, not a directory')
    try:
        tempfile.TemporaryFile(dir=folder).close()      # the real test: permissions, ACLs, ro
    except OSError as err:
        raise DataError(f'--out {out}: cannot write in {folder} ({err.strerror})') from None


def warn_duplicate_ids(records):
    """One warning line when ids repeat: how many records repeat an earlier id, and one of them."""
    seen, repeats, example = set(), 0, None
    for record_id, _ in records:
        if record_id in seen:
            repeats += 1
            example = example or record_id
        seen.add(record_id)
    if repeats:
        print(f'predict.py: warning: {repeats} record(s) repeat an earlier id (e.g. {example!r}); '
              'each record gets its own row, in input order', file=sys.stderr)
    return repeats


def select_records(records, strict=False, max_length=MAX_LENGTH):
    """The valid records: an invalid residue, an empty sequence or more than ``max_length``
    residues is reported by id and skipped (an error with ``strict``).

    Returns:
        (ids, sequences), both lists.
    """
    if all(0 < len(sequence) <= max_length for _, sequence in records):
        try:                                   # all valid (the usual case): one vectorised check
            pfam_loader.check_sequences([sequence for _, sequence in records])
            return [i for i, _ in records], [sequence for _, sequence in records]
        except DataError:
            pass                               # each record on its own, below
    ids, sequences, skipped = [], [], 0
    for record_id, sequence in records:
        try:
            if len(sequence) > max_length:
                raise DataError(f'sequence {record_id} has {len(sequence):,} residues, more than '
                                f'--max_length {max_length:,}')
            pfam_loader.encode([sequence], names=[record_id])
        except DataError as err:
            if strict:
                raise
            skipped += 1
            if skipped <= REPORTED_SKIPS:
                print(f'predict.py: skipping {err}', file=sys.stderr)
            continue
        ids.append(record_id)
        sequences.append(sequence)
    if skipped > REPORTED_SKIPS:
        print(f'predict.py: skipped {skipped:,} records in all (the first {REPORTED_SKIPS} are '
              'named above)', file=sys.stderr)
    if not sequences:
        raise DataError('no valid sequence in the input (FASTA, a CSV with a header naming a '
                        f'{" or ".join(SEQUENCE_COLUMNS)} column, or one sequence a line)')
    return ids, sequences


def batch_size_for(length, batch, quadratic, reference=REFERENCE_LENGTH):
    """Sequences per batch for sequences of ``length`` residues: ``batch`` up to ``reference``
    residues, then fewer, so that a batch needs about the memory of ``batch`` reference-length
    sequences (memory ∝ length² with attention, ∝ length otherwise); at least 1."""
    scale = (max(length, reference) / reference) ** (2 if quadratic else 1)
    return max(1, min(batch, int(batch / scale)))


def predict_sequences(models, sequences, batch=128, verbose=0, growth=None):
    """Mean class probabilities (N, n_classes) of one model or an ensemble (a list of models)
    for amino-acid strings, in their order. One batching pass serves every member: the
    sequences are grouped by `batch_size_for` (the smallest of the members' sizes when one of
    them attends, whose memory grows with the square of the length) and each group is encoded
    once, then given to the members together (`network.predict_probabilities`, which batches
    it by length and runs every member on each batch in one compiled call), so that one long
    sequence does not widen the matrix of all the others. ``growth``: of the length buckets
    (`pfam_loader.default_bucket_lengths`; default the suite's)."""
    import keras

    import network
    models = models if isinstance(models, (list, tuple)) else [models]
    quadratic = any(isinstance(layer, keras.layers.MultiHeadAttention)
                    for model in models for layer in model.layers)
    sizes = np.array([batch_size_for(len(s), batch, quadratic) for s in sequences])
    probabilities = np.zeros((len(sequences), models[0].output_shape[-1]), dtype=np.float32)
    for size in sorted(set(sizes.tolist()), reverse=True):
        index = np.flatnonzero(sizes == size)
        tokens = pfam_loader.encode([sequences[i] for i in index])
        probabilities[index] = network.predict_probabilities(
            models, tokens, size, verbose=verbose if size == batch else 0,
            growth=growth or settings.DEFAULTS['bucket_growth'])
    return probabilities


def length_notes(sequences, meta):
    """``'short'``, ``'long'`` or ``''`` per sequence against the training lengths recorded in
    the metadata (``len_min``, else `SHORT_LENGTH`; ``len_max``), with a line on stderr each."""
    lengths = np.array([len(s) for s in sequences])
    shortest, longest = meta.get('len_min'), meta.get('len_max')
    short = lengths < (shortest or SHORT_LENGTH)
    long = lengths > longest if longest else np.zeros(len(lengths), dtype=bool)
    if short.any():
        threshold = (f'the shortest in training ({shortest})' if shortest else
                     f'{SHORT_LENGTH} residues (the metadata records no len_min)')
        print(f'predict.py: note: {short.sum()} sequence(s) shorter than {threshold}; '
              'note "short"', file=sys.stderr)
    if long.any():
        print(f'predict.py: note: {long.sum()} sequence(s) longer than the longest in training '
              f'({longest}); predicted whole, note "long"', file=sys.stderr)
    return np.where(short, 'short', np.where(long, 'long', '')).tolist()


def top_k_table(ids, probabilities, class_names, k, notes=None, scores=None, threshold=0.0,
                min_probability=0.0):
    """Rows ``[id, family, probability, family_2, probability_2, ..., (network_family, score),
    (note)]`` and the header; ``family`` is ``none`` where ``scores`` (given: the open-set
    check's, in bits, of the network's top family, ``network_family``) are below ``threshold``
    or the top probability is below ``min_probability``."""
    k = min(k, probabilities.shape[1])
    top = probabilities.max(1)
    rejected = top < min_probability
    if scores is not None:
        rejected |= np.asarray(scores) < threshold
    order = np.argsort(-probabilities, axis=1, kind='stable')[:, :k]
    header = ['id']
    for rank in range(1, k + 1):
        suffix = '' if rank == 1 else f'_{rank}'
        header += [f'family{suffix}', f'probability{suffix}']
    if scores is not None:
        header += ['network_family', 'score']
    if notes is not None:
        header.append('note')
    rows = []
    for i, record_id in enumerate(ids):
        row = [record_id]
        for j in order[i]:
            row += [class_names[j], f'{probabilities[i, j]:.6f}']
        if rejected[i]:
            row[1] = NONE
        if scores is not None:                 # the family the score is of (also when none)
            row += [class_names[order[i][0]], f'{scores[i]:.1f}']
        if notes is not None:
            row.append(notes[i])
        rows.append(row)
    return header, rows


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', nargs='+', default=[DEFAULT_MODEL],
                        help='a .keras model written by hw6_base.py, several (an ensemble: the '
                             'mean of their probabilities), or one .npz written by open_set.py '
                             '(NumPy, with the open-set check). Default: rotation 0\'s mha_small as '
                             '.npz (docs/predict.md: its accuracy, "none" rates and speed)')
    parser.add_argument('--input', required=True,
                        help='FASTA, CSV with a sequence (or string) column, or one sequence per '
                             'line')
    parser.add_argument('--out', default=None, help='output CSV (default: standard output)')
    parser.add_argument('--top_k', type=int, default=1, help='families reported per sequence')
    parser.add_argument('--bucket_growth', type=growth_factor,
                        default=settings.DEFAULTS['bucket_growth'],
                        help='each length bucket about this factor times the one before: larger '
                             'means fewer batch shapes and more padding')
    parser.add_argument('--batch', type=int, default=128,
                        help=f'sequences per batch (fewer above {REFERENCE_LENGTH} residues: a '
                             f'batch then needs no more memory than BATCH {REFERENCE_LENGTH}-'
                             'residue sequences)')
    parser.add_argument('--max_length', type=int, default=MAX_LENGTH,
                        help='a longer sequence is reported by id and skipped (--strict: an '
                             'error); bounds the memory, which grows with the square of the '
                             'length for MHA models (docs/predict.md gives figures)')
    parser.add_argument('--strict', action='store_true',
                        help='an invalid or too long record is an error instead of being '
                             'skipped')
    parser.add_argument('--threshold', type=float, default=0.0,
                        help='.npz models: family "none" when the score (bits above the '
                             'family\'s calibrated threshold) is below this; higher: fewer '
                             'other-family sequences assigned, fewer in-family ones right '
                             '(results/open_set/open_set.md: the curve); -inf: never none')
    parser.add_argument('--full_scores', action='store_true',
                        help='.npz models: the full HMMER search for every sequence; without '
                             'it, a sequence whose MSV filter saturates (far above its '
                             'family\'s threshold) gets the score inf, six times cheaper')
    parser.add_argument('--min_probability', type=float, default=0.0,
                        help='family "none" when the top probability is below this (any model; '
                             '0: never)')
    parser.add_argument('--meta', default=None,
                        help='metadata JSON with class_names (default: {model}_meta.json; one '
                             'model only); refused when it belongs to another model')
    return parser


@fileio.command(errors=(ValueError, OSError))   # DataError and the libraries' ValueErrors
def main(argv=None):
    args = create_parser().parse_args(argv)
    if args.top_k < 1 or args.batch < 1 or args.max_length < 1:
        raise DataError('--top_k, --batch and --max_length must be positive')
    if not 0 <= args.min_probability <= 1:
        raise DataError(f'--min_probability must be in [0, 1], got {args.min_probability}')
    if any(path.endswith(NUMPY_SUFFIX) for path in args.model):
        return main_numpy(args)
    if args.threshold != 0:
        raise DataError('--threshold goes with a .npz model (open_set.py writes one); '
                        '--min_probability works with any')
    if args.full_scores:
        raise DataError('--full_scores goes with a .npz model (open_set.py writes one)')
    if args.meta and len(args.model) > 1:
        raise DataError('--meta goes with a single --model (an ensemble uses each model\'s '
                        'own metadata)')
    metas = {}
    for model_path in args.model:
        if not os.path.isfile(model_path):
            raise DataError(f'{model_path}: no such model file')
        fileio.check_model_file(model_path)             # empty or truncated: before Keras loads
        meta_file = args.meta or meta_path(model_path)
        if not os.path.isfile(meta_file):
            raise DataError(f'{meta_file}: metadata (class names) not found beside the model; '
                            'give it with --meta')
        metas[model_path] = (meta_file, artefacts.load_meta(meta_file))
    meta = ensemble_meta(metas)
    if args.out:
        numbered = lambda what, i: what if len(metas) == 1 else f'{what} {i + 1}'  # noqa
        check_output(args.out, {
            'input': args.input,
            **{numbered('model', i): path for i, path in enumerate(metas)},
            **{numbered('metadata', i): file for i, (file, _) in enumerate(metas.values())}})
    ids, sequences = read_input(args)

    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

    import network
    models = []
    for model_path, (meta_file, model_meta) in metas.items():
        models.append(network.load_model(model_path))          # ValueError: not a model
        check_meta(model_meta, models[-1], meta_file, model_path)
    notes = length_notes(sequences, meta)
    started = time.time()
    probabilities = predict_sequences(models, sequences, args.batch, growth=args.bucket_growth,
                                      verbose=1 if args.out and len(ids) > 20000 else 0)
    write_predictions(args, ids, probabilities, meta, notes, time.time() - started)
    return 0


def main_numpy(args):
    """predict.py with a .npz model: NumPy inference, then the open-set check (when the file
    has profiles), without TensorFlow."""
    if len(args.model) > 1:
        raise DataError(f'a {NUMPY_SUFFIX} model goes alone (no ensemble): {" ".join(args.model)}')
    if args.meta:
        raise DataError(f'--meta: a {NUMPY_SUFFIX} model carries its own metadata')
    path = args.model[0]
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such model file')
    numpy_model.reuse_freed_memory()
    model = numpy_model.NumpyModel.load(path)          # ValueError: one line
    meta = artefacts.checked_meta(model.meta, path, remedy='rewrite it with open_set.py')
    if args.out:
        check_output(args.out, {'input': args.input, 'model': path})
    ids, sequences = read_input(args)
    notes = length_notes(sequences, meta)
    started = time.time()
    probabilities, _ = model.predict(sequences)
    scores = None
    if model.profiles is not None and model.open_set is not None and \
            args.threshold != -np.inf:
        import profile_check
        profiles = profile_check.profiles_from_bytes(model.profiles, path)
        predicted = probabilities.argmax(1)
        thresholds = np.asarray(model.open_set['thresholds'])
        # a saturated MSV filter stands for a score above the threshold (full search skipped)
        # up to the threshold at which that held for every calibration sequence
        fast = not args.full_scores and args.threshold <= model.open_set.get(
            'saturated_margin', -np.inf)
        scores = profile_check.family_scores(profiles, sequences, predicted,
                                             model.open_set['unfiltered'],
                                             skip_saturated=fast) - thresholds[predicted]
    write_predictions(args, ids, probabilities, meta, notes, time.time() - started, scores,
                      say_none=True)
    return 0


def read_input(args):
    """``(ids, sequences)`` of ``--input`` that are kept (`select_records`), duplicate ids
    warned of."""
    records = read_sequences(args.input)
    warn_duplicate_ids(records)
    return select_records(records, args.strict, args.max_length)


def write_predictions(args, ids, probabilities, meta, notes, seconds, scores=None,
                      say_none=False):
    """The table (`top_k_table`) to ``--out``, then one line on stderr: how many sequences in
    how long (and, with ``say_none``, how many of them are none)."""
    header, rows = top_k_table(ids, probabilities, meta['class_names'], args.top_k, notes,
                               scores, args.threshold, args.min_probability)
    write_rows(args.out, header, rows)
    none = f', {sum(row[1] == NONE for row in rows):,} of them none' if say_none else ''
    print(f'predict.py: {len(ids):,} sequences in {seconds:.2f} s '
          f'({len(ids) / max(seconds, 1e-9):,.0f} sequences/s){none}', file=sys.stderr)


def write_rows(out, header, rows):
    """The CSV to ``out`` (atomically; a device or fifo written in place) or standard output."""
    def write(handle):
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)
    try:
        if out and os.path.exists(out) and not os.path.isfile(out):
            with open(out, 'w') as handle:         # a device or fifo: never replaced
                write(handle)
        elif out:
            pfam_loader.atomic_write(out, write, 'w')
        else:
            write(sys.stdout)
    except OSError as err:
        raise DataError(f'--out {out}: {fileio.one_line(err)}') from None


if __name__ == '__main__':
    fileio.run_main(main)

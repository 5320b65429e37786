"""Predict the Pfam family of new sequences with a trained model.

    python predict.py --model results/pfam46/mha_rot0.keras --input new.fasta --out preds.csv --top_k 3

Input: FASTA (multi-line records fine), a CSV with a ``sequence`` column (and optionally ``id``),
or plain text with one sequence per line. Output: CSV with columns ``id,family,probability``
(top 1) and ``family_2,probability_2 ...`` up to ``--top_k``; ``family`` is the Pfam accession.
Class names come from ``{model}_meta.json``, which hw6_base.py writes beside every model.

Sequences are batched by length, never padded to the training maximum; a sequence longer than
any seen in training is predicted whole (the network takes any length) and counted in a note.
A record with an invalid residue is reported by id and skipped (``--strict``: an error instead).
Exit codes: 0 done, 2 bad input (missing model or file, empty input, nothing valid).
"""
import argparse
import csv
import io
import json
import os
import sys
import time

import numpy as np

import pfam_loader


def meta_path(model_path):
    """The metadata JSON saved beside a model: ``x.keras`` → ``x_meta.json``."""
    return (model_path[:-len('.keras')] if model_path.endswith('.keras') else model_path) + \
        '_meta.json'


def read_sequences(path):
    """``[(id, sequence)]`` from FASTA, a CSV with a ``sequence`` column, or one per line."""
    if not os.path.isfile(path):
        raise pfam_loader.DataError(f'{path}: no such file')
    with pfam_loader.open_text(path) as handle:
        try:
            text = handle.read()
        except UnicodeDecodeError:
            raise pfam_loader.DataError(f'{path}: not a text file') from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise pfam_loader.DataError(f'{path}: empty input')
    if lines[0].startswith('>'):
        from Bio.SeqIO.FastaIO import SimpleFastaParser
        return [((title.split() or [f'record{i + 1}'])[0], sequence.replace(' ', ''))
                for i, (title, sequence) in enumerate(SimpleFastaParser(io.StringIO(text)))]
    header = [cell.strip().lower() for cell in lines[0].split(',')]
    if 'sequence' in header:
        rows = list(csv.DictReader(io.StringIO(text)))
        key = next(k for k in rows[0] if k.strip().lower() == 'sequence') if rows else None
        if key is None:
            raise pfam_loader.DataError(f'{path}: a header but no rows')
        id_key = next((k for k in rows[0] if k.strip().lower() in ('id', 'sequence_name')), None)
        return [(row[id_key] if id_key else f'row{i + 1}', (row[key] or '').strip())
                for i, row in enumerate(rows)]
    return [(f'line{i + 1}', line.strip()) for i, line in enumerate(lines)]


def encode_records(records, strict=False):
    """Tokens of the valid records; invalid ones are reported (or fatal with ``strict``).

    Returns:
        (ids, tokens) with tokens an (N, longest) uint8 matrix.
    """
    ids, sequences = [], []
    for record_id, sequence in records:
        try:
            pfam_loader.encode([sequence], names=[record_id])
        except pfam_loader.DataError as err:
            if strict:
                raise
            print(f'predict.py: skipping {err}', file=sys.stderr)
            continue
        ids.append(record_id)
        sequences.append(sequence)
    if not sequences:
        raise pfam_loader.DataError('no valid sequence in the input')
    return ids, pfam_loader.encode(sequences)


def top_k_table(ids, probabilities, class_names, k):
    """Rows ``[id, family, probability, family_2, probability_2, ...]`` and the header."""
    k = min(k, probabilities.shape[1])
    order = np.argsort(-probabilities, axis=1, kind='stable')[:, :k]
    header = ['id']
    for rank in range(1, k + 1):
        suffix = '' if rank == 1 else f'_{rank}'
        header += [f'family{suffix}', f'probability{suffix}']
    rows = []
    for i, record_id in enumerate(ids):
        row = [record_id]
        for j in order[i]:
            row += [class_names[j], f'{probabilities[i, j]:.6f}']
        rows.append(row)
    return header, rows


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', required=True, help='a .keras model written by hw6_base.py')
    parser.add_argument('--input', required=True, help='FASTA, CSV with a sequence column, or '
                                                       'one sequence per line')
    parser.add_argument('--out', default=None, help='output CSV (default: standard output)')
    parser.add_argument('--top_k', type=int, default=1, help='families reported per sequence')
    parser.add_argument('--batch', type=int, default=128, help='sequences per batch')
    parser.add_argument('--strict', action='store_true',
                        help='an invalid record is an error instead of being skipped')
    parser.add_argument('--meta', default=None,
                        help='metadata JSON with class_names (default: {model}_meta.json)')
    return parser


def main(argv=None):
    args = create_parser().parse_args(argv)
    try:
        if args.top_k < 1 or args.batch < 1:
            raise pfam_loader.DataError('--top_k and --batch must be positive')
        if not os.path.isfile(args.model):
            raise pfam_loader.DataError(f'{args.model}: no such model file')
        meta_file = args.meta or meta_path(args.model)
        if not os.path.isfile(meta_file):
            raise pfam_loader.DataError(f'{meta_file}: metadata (class names) not found beside '
                                        'the model; give it with --meta')
        with open(meta_file) as f:
            meta = json.load(f)
        ids, tokens = encode_records(read_sequences(args.input), args.strict)
    except (pfam_loader.DataError, OSError, json.JSONDecodeError) as err:
        print(f'predict.py: error: {err}', file=sys.stderr)
        return 2

    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

    import network
    model = network.load_model(args.model)
    longer = int(np.sum(pfam_loader.sequence_lengths(tokens) > meta.get('len_max', np.inf)))
    if longer:
        print(f'predict.py: note: {longer} sequence(s) longer than the longest in training '
              f'({meta["len_max"]}); predicted whole', file=sys.stderr)
    started = time.time()
    probabilities = network.predict_probabilities(
        model, tokens, args.batch, verbose=1 if args.out and len(ids) > 20000 else 0)
    seconds = time.time() - started
    header, rows = top_k_table(ids, probabilities, meta['class_names'], args.top_k)

    def write(handle):
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(rows)
    if args.out:
        pfam_loader.atomic_write(args.out, write, 'w')
    else:
        write(sys.stdout)
    print(f'predict.py: {len(ids):,} sequences in {seconds:.2f} s '
          f'({len(ids) / max(seconds, 1e-9):,.0f} sequences/s)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())

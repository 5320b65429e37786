"""Readers of real Pfam inputs: CSV/TSV(.gz), the Kaggle "Pfam seed random split" directory,
Pfam FASTA and Stockholm. Each returns a DataFrame with columns ``sequence`` and ``family``.

Any of them may be gzipped and may start with a UTF-8 byte-order mark; a truncated or damaged
gzip file is a `DataError` naming it."""
import os
import re

import numpy as np
import pandas as pd

from pfam_loader import GZIP_ERRORS, DataError, open_text

FORMATS = ('auto', 'csv', 'tsv', 'kaggle', 'fasta', 'stockholm')
PFAM_ACCESSION = re.compile(r'\b(PF\d{5}(?:\.\d+)?)\b')


def _read_table(path, sep):
    """A CSV/TSV, gzipped or not (told by its content, not its name); a UTF-8 byte-order mark at
    the start is skipped."""
    with open(path, 'rb') as f:
        compression = 'gzip' if f.read(2) == b'\x1f\x8b' else None
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                            compression=compression, encoding='utf-8-sig')
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            *GZIP_ERRORS) as err:
        raise DataError(f'{path}: cannot read as a table: {str(err).splitlines()[0]}') from None
    missing = {'sequence', 'family_accession'} - set(frame.columns)
    if missing:
        raise DataError(f'{path}: missing column(s) {", ".join(sorted(missing))}; '
                        f'found {", ".join(map(str, frame.columns[:8]))}')
    return pd.DataFrame({'sequence': frame['sequence'], 'family': frame['family_accession']})


def _read_kaggle(path):
    """The Kaggle "Pfam seed random split" layout: {train,dev,test}/data-*-of-* CSV shards."""
    shards = sorted(os.path.join(path, split, name) for split in ('train', 'dev', 'test')
                    if os.path.isdir(os.path.join(path, split))
                    for name in os.listdir(os.path.join(path, split)) if not name.startswith('.'))
    if not shards:
        raise DataError(f'{path}: no train/, dev/ or test/ shards (Kaggle "Pfam seed random '
                        'split" layout expected)')
    return pd.concat([_read_table(shard, ',') for shard in shards], ignore_index=True)


def _read_fasta(path):
    """FASTA whose headers carry the family, Pfam style: ``>NAME/start-end PF00001.21;7tm_1;``."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser
    sequences, families = [], []
    with open_text(path) as handle:
        first = handle.readline()
        if not first.startswith('>'):
            raise DataError(f'{path}: not FASTA (the first line does not start with ">")')
        handle.seek(0)
        for title, sequence in SimpleFastaParser(handle):
            match = PFAM_ACCESSION.search(title)
            if match is None:
                raise DataError(f'{path}: record {title.split()[0] if title else "?"!r} has no Pfam '
                                'accession (PFnnnnn) in its header')
            sequences.append(sequence.replace('-', '').replace('.', ''))
            families.append(match.group(1))
    return pd.DataFrame({'sequence': sequences, 'family': families})


def _read_stockholm(path):
    """Stockholm (``Pfam-A.seed`` style, interleaved blocks included): family from ``#=GF AC``,
    gaps removed. Every alignment needs its ``# STOCKHOLM`` header and its closing ``//``: a file
    cut short is an error, not a silently missing family."""
    sequences, families = [], []
    alignment = None          # {'number', 'line', 'accession', 'rows': {name: [pieces]}} inside

    def close(alignment):
        if not alignment['accession']:
            raise DataError(f'{path}: alignment {alignment["number"]} (line {alignment["line"]}) '
                            'has no "#=GF AC" line')
        for pieces in alignment['rows'].values():
            sequences.append(''.join(pieces).replace('-', '').replace('.', ''))
            families.append(alignment['accession'])

    number = 0
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            line = line.rstrip('\r\n')
            if line.startswith('# STOCKHOLM'):
                if alignment is not None:
                    raise DataError(f'{path}: line {line_number}: a new "# STOCKHOLM" header '
                                    f'before the "//" that closes alignment {alignment["number"]}')
                number += 1
                alignment = {'number': number, 'line': line_number, 'accession': None,
                             'rows': {}}
            elif alignment is None:
                if line.strip():
                    raise DataError(f'{path}: line {line_number}: expected a "# STOCKHOLM 1.0" '
                                    f'header, got {line[:40]!r}')
            elif line.startswith('//'):
                close(alignment)
                alignment = None
            elif line.startswith('#=GF AC'):
                alignment['accession'] = line[len('#=GF AC'):].strip().rstrip(';')
            elif line.strip() and not line.startswith('#'):
                fields = line.split()
                if len(fields) != 2:
                    raise DataError(f'{path}: line {line_number}: expected "name sequence", got '
                                    f'{line[:40]!r}')
                alignment['rows'].setdefault(fields[0], []).append(fields[1])   # blocks join
    if alignment is not None:
        raise DataError(f'{path}: alignment {alignment["number"]} (line {alignment["line"]}) has '
                        'no closing "//": is the file truncated?')
    if not sequences:
        raise DataError(f'{path}: no Stockholm alignment found')
    return pd.DataFrame({'sequence': sequences, 'family': families})


def detect_format(path):
    """Guess an input's format from its layout, name or first line."""
    if os.path.isdir(path):
        return 'kaggle'
    name = path.lower().removesuffix('.gz')
    for suffixes, fmt in ((('.csv',), 'csv'), (('.tsv', '.tab'), 'tsv'),
                          (('.fa', '.fasta', '.faa', '.fas'), 'fasta'),
                          (('.sto', '.stk', '.stockholm', '.seed'), 'stockholm')):
        if name.endswith(suffixes):
            return fmt
    with open_text(path) as handle:
        first = handle.readline()
    if first.startswith('>'):
        return 'fasta'
    if first.startswith('# STOCKHOLM'):
        return 'stockholm'
    if 'family_accession' in first:
        return 'tsv' if '\t' in first else 'csv'
    raise DataError(f'{path}: unknown format (not CSV/TSV with sequence,family_accession columns, '
                    'FASTA, Stockholm, or a Kaggle split directory); choose one with --format')


def read_records(path, fmt='auto'):
    """Read one input into a DataFrame with columns ``sequence`` and ``family`` (accession)."""
    if not os.path.exists(path):
        raise DataError(f'{path}: no such file or directory')
    readers = {'csv': lambda p: _read_table(p, ','), 'tsv': lambda p: _read_table(p, '\t'),
               'kaggle': _read_kaggle, 'fasta': _read_fasta, 'stockholm': _read_stockholm}
    if fmt not in readers and fmt != 'auto':
        raise DataError(f'unknown format {fmt!r}; choose one of {", ".join(FORMATS)}')
    try:
        frame = readers[detect_format(path) if fmt == 'auto' else fmt](path)
    except GZIP_ERRORS as err:          # open_text reports these itself; this is a safety net
        raise DataError(f'{path}: truncated or damaged gzip file ({err})') from None
    frame['sequence'] = frame['sequence'].str.strip().str.upper()
    frame['family'] = frame['family'].str.strip()
    empty = frame['sequence'].eq('') | frame['family'].eq('')
    if empty.any():
        raise DataError(f'{path}: record {int(np.argmax(empty.to_numpy()))} has an empty '
                        'sequence or family')
    return frame


def read_family_list(path):
    """Accessions, one a line; blank lines and ``#`` comments are skipped."""
    if not os.path.isfile(path):
        raise DataError(f'{path}: family list not found')
    with open_text(path) as handle:
        families = [line.split('#')[0].strip() for line in handle]
    families = [f for f in families if f]
    if not families:
        raise DataError(f'{path}: the family list is empty')
    return families


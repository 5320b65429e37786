"""HMMER 3 (pyhmmer) beside the networks: profile HMMs built from each rotation's training folds.

    python hmmer_baseline.py --out results/open_set/hmmer_baseline.json     # the committed one
    python hmmer_baseline.py --hmms runs/pfam46_rot0.hmm --input new.fasta --out hits.csv   # scan

For each rotation and family, a profile HMM is built from the family's sequences in the training
folds (`profile_check.build_profile`; the validation fold is not used: nothing is tuned). The
test fold and the other-family sequences of odd accession numbers (data/pfam_others, never used
for calibration: `profile_check.other_sequences`) are then scanned against the 46 profiles (``hmmscan``, one
thread; E-values for 46 profiles). A sequence is given the family of its best hit; with an
E-value cut (`E_VALUE`), none when no hit passes.

Writes a JSON (per rotation: test accuracy of the best hit, in-family sequences right and
other-family sequences assigned at the E-value cut, CPU seconds per sequence of the scan and of
the build), after every rotation; a rerun of the same command skips the rotations in it.
``--hmms FILE --input SEQUENCES`` scans sequences against saved profiles (``--save_hmms`` of a
rotation), writing ``id,family,evalue`` (family ``none`` above ``--evalue``), like predict.py.
"""
import argparse
import collections
import csv
import json
import os
import sys
import time

import artefacts
import fileio
import profile_check
from parser import add_rotation_arguments
from pfam_loader import DataError

NAME = 'HMMER 3 profiles (pyhmmer hmmscan)'
#: the E-value cut of an assignment (per sequence, 46 profiles)
E_VALUE = 1e-3


def open_set_figures(families, evalues, truth, others_evalues, e_value=E_VALUE):
    """Test accuracy of the best hit, in-family right (best hit right and E <= ``e_value``) and
    the fraction of other-family sequences with a hit at E <= ``e_value``."""
    import numpy as np
    right = np.array([f == t for f, t in zip(families, truth)])
    return {'accuracy': float(right.mean()),
            'in_family_right': float(np.mean(right & (evalues <= e_value))),
            'others_assigned': float(np.mean(others_evalues <= e_value))}


def evaluate_rotation(dat, others, save=None):
    """The figures of one rotation dict against ``others`` (other-family strings)."""
    import pfam_loader
    started = time.process_time()
    class_names = [dat['out_index_word'][k] for k in range(len(dat['out_index_word']))]
    train = [pfam_loader.decode(row) for row in dat['ins_train']]
    hmms = profile_check.build_profiles(train, dat['outs_train'][:, 0], class_names)
    built = time.process_time()
    if save:
        profile_check.save_profiles(hmms, save)
    test = [pfam_loader.decode(row) for row in dat['ins_test']]
    scanned = time.process_time()
    families, evalues = profile_check.scan(hmms, test)
    _, others_evalues = profile_check.scan(hmms, others)
    done = time.process_time()
    truth = [class_names[k] for k in dat['outs_test'][:, 0]]
    result = open_set_figures(families, evalues, truth, others_evalues)
    missed = collections.Counter(t for f, e, t in zip(families, evalues, truth)
                                 if f != t or e > E_VALUE)
    result['missed_by_family'] = dict(missed.most_common())
    result.update(test_sequences=len(test), other_sequences=len(others),
                  build_cpu_s=round(built - started, 2),
                  scan_cpu_s_per_sequence=(done - scanned) / (len(test) + len(others)))
    return result


def scan_command(args):
    """``--hmms FILE --input SEQUENCES [--out CSV]``: rows ``id,family,evalue``; family
    ``none`` when the best E-value is above ``--evalue``."""
    pyhmmer = profile_check.pyhmmer_module()
    hmms = profile_check.load_profiles(args.hmms)
    if not os.path.isfile(args.input):
        raise DataError(f'--input {args.input}: no such file')
    try:                       # FASTA (any format HMMER reads), as hmmscan reads it
        with pyhmmer.easel.SequenceFile(args.input, digital=True,
                                        alphabet=profile_check.alphabet()) as f:
            sequences = f.read_block()
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f'--input {args.input}: not a sequence file HMMER reads '
                        f'({fileio.one_line(err)})') from None
    ids = [profile_check.text_of(sequence.name) for sequence in sequences]
    families, evalues = profile_check.scan(hmms, sequences)
    rows = [[i, f if e <= args.evalue else 'none', f'{e:.3g}']
            for i, f, e in zip(ids, families, evalues)]

    def write(handle):
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(['id', 'family', 'evalue'])
        writer.writerows(rows)
    if args.out:
        fileio.atomic_write(args.out, write, 'w')
    else:
        write(sys.stdout)
    return 0


def create_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_rotation_arguments(parser)
    parser.add_argument('--others', default=None,
                        help='other-family sequences (default: data/pfam_others, odd accessions)')
    parser.add_argument('--save_hmms', default=None,
                        help='write each rotation\'s profiles to this path, {rotation} replaced')
    parser.add_argument('--hmms', default=None,
                        help='scan mode: profiles (.hmm) to scan --input against')
    parser.add_argument('--input', default=None, help='scan mode: FASTA, CSV or one a line')
    parser.add_argument('--evalue', type=float, default=E_VALUE,
                        help='scan mode: family "none" above this E-value')
    parser.add_argument('--out', default='runs/hmmer_baseline.json',
                        help='the JSON of the evaluation; in scan mode the CSV (default: stdout)')
    return parser


@fileio.command(errors=(ValueError, OSError))
def main(argv=None):
    parser = create_parser()
    args = parser.parse_args(argv)
    if args.hmms or args.input:
        if not (args.hmms and args.input):
            raise DataError('scan mode needs both --hmms and --input')
        if args.out == parser.get_default('out'):
            args.out = None
        return scan_command(args)
    import numpy as np

    import pfam_loader
    others = profile_check.other_sequences(args.others, held_out=True)
    result = {'name': NAME, 'dataset': args.dataset, 'version': args.version,
              'e_value': E_VALUE, 'rounds': profile_check.ROUNDS, 'rotations': [],
              'per_rotation': [],
              'machine': fileio.machine(), 'date': time.strftime('%Y-%m-%d'),
              'commit': artefacts.commit(),
              'command': 'python hmmer_baseline.py ' + ' '.join(argv if argv is not None
                                                                else sys.argv[1:])}
    try:
        with open(args.out) as handle:
            earlier = json.load(handle)
        if all(earlier.get(k) == result[k] for k in ('name', 'dataset', 'version', 'rounds')):
            result['rotations'], result['per_rotation'] = earlier['rotations'], \
                earlier['per_rotation']
    except (OSError, ValueError, KeyError):
        pass
    for rotation in args.rotations:
        if rotation in result['rotations']:
            pfam_loader.log(f'rotation {rotation}: done before ({args.out})')
            continue
        dat = pfam_loader.load_rotation(args.dataset, rotation, args.version)
        save = args.save_hmms.replace('{rotation}', str(rotation)) if args.save_hmms else None
        figures = evaluate_rotation(dat, others, save)
        result['rotations'].append(rotation)
        result['per_rotation'].append(figures)
        for key in ('accuracy', 'in_family_right', 'others_assigned',
                    'scan_cpu_s_per_sequence'):
            result[f'mean_{key}'] = float(np.mean([r[key] for r in result['per_rotation']]))
        fileio.atomic_write(args.out, lambda f: json.dump(result, f, indent=1), 'w')
        pfam_loader.log(f'rotation {rotation}: accuracy {figures["accuracy"]:.4f}, in-family '
                        f'right {figures["in_family_right"]:.4f}, others assigned '
                        f'{figures["others_assigned"]:.4f}, '
                        f'{figures["scan_cpu_s_per_sequence"] * 1000:.2f} ms/sequence')
    print(f'{NAME}: mean accuracy {result["mean_accuracy"]:.4f} over rotations '
          f'{result["rotations"]}; wrote {args.out}')
    return 0


if __name__ == '__main__':
    fileio.run_main(main)

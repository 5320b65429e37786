"""Profile HMMs (HMMER 3 through pyhmmer) of the benchmark's families: building them from
unaligned training sequences, scanning sequences against all of them (``hmmscan``), and the
check predict.py makes before it names a family: the score of a sequence against the profile
of the family the network chose, against that family's calibrated threshold.

    profiles = build_profiles(sequences, labels, class_names)      # one HMM per class
    families, evalues = scan(profiles, sequences)                  # hmmscan, best hit
    scores = family_scores(profiles, sequences, predicted)         # bit score vs one profile

A profile is built as Pfam builds its own from a seed alignment, except that the alignment is
made here: a single-sequence HMM of the family's sequence of median length (BLOSUM62), every
sequence aligned to it (``hmmalign``), an HMM built from that alignment, and (`ROUNDS`) the
sequences aligned again to that HMM and the final one built.

Other-family sequences (`other_sequences`: data/pfam_others, 30 per family of the 354 families
of the Pfam 32.0 seed file outside the benchmark) are split by family: even accession numbers
for calibration, odd ones (`held_out`) for evaluation only.
"""
import csv
import functools
import io
import os

import numpy as np

import fileio
from pfam_loader import DataError

ROOT = os.path.dirname(os.path.abspath(__file__))
OTHERS = os.path.join(ROOT, 'data', 'pfam_others', 'pfam_others_seed.csv.gz')
#: rounds of aligning the sequences and building the profile from the alignment
ROUNDS = 2
#: the search without HMMER's filters, for families whose short or weak matches they drop
UNFILTERED = dict(F1=1.0, F2=1.0, F3=1.0, bias_filter=False, T=-1e6, domT=-1e6)
#: the sequence length `saturated` configures the profiles for (HMMER's default)
MSV_LENGTH = 400


def pyhmmer_module():
    """``pyhmmer``, or a one-line `DataError` saying how to install it."""
    try:
        import pyhmmer
    except ImportError:
        raise DataError('pyhmmer is not installed (pip install -r requirements.txt)') from None
    return pyhmmer


@functools.lru_cache(maxsize=None)
def alphabet():
    """The amino-acid alphabet: one object for every sequence and profile (pyhmmer's objects
    keep pointers into it)."""
    return pyhmmer_module().easel.Alphabet.amino()


def digital(sequences):
    """A ``DigitalSequenceBlock`` of amino-acid strings, named by their index."""
    easel = pyhmmer_module().easel
    return easel.TextSequenceBlock(
        easel.TextSequence(name=str(i).encode(), sequence=sequence)
        for i, sequence in enumerate(sequences)).digitize(alphabet())


def build_profile(family, sequences, rounds=ROUNDS):
    """A profile HMM named ``family`` from the unaligned ``sequences`` of one family."""
    pyhmmer = pyhmmer_module()
    builder = pyhmmer.plan7.Builder(alphabet())
    background = pyhmmer.plan7.Background(alphabet())
    block = digital(sequences)
    by_length = sorted(range(len(sequences)), key=lambda i: (len(sequences[i]), sequences[i]))
    hmm, _, _ = builder.build(block[by_length[len(by_length) // 2]], background)
    for _ in range(rounds):
        msa = pyhmmer.hmmer.hmmalign(hmm, block, digitize=True, trim=True, cpus=1)
        msa.name = family.encode()
        hmm, _, _ = builder.build_msa(msa, background)
    hmm.name = family.encode()
    return hmm


def build_profiles(sequences, labels, class_names):
    """One profile per class (``labels``: class indices of ``sequences``), in class order."""
    labels = np.asarray(labels)
    return [build_profile(name, [sequences[i] for i in np.flatnonzero(labels == k)])
            for k, name in enumerate(class_names)]


def text_of(name):
    return name.decode() if isinstance(name, bytes) else str(name)


def scan(profiles, sequences):
    """``hmmscan`` of amino-acid strings (or a ``DigitalSequenceBlock``) against ``profiles`` on
    one thread: the best hit's family per sequence (``''`` when nothing is reported, E > 10)
    and its E-value (inf)."""
    pyhmmer = pyhmmer_module()
    block = sequences if isinstance(sequences, pyhmmer.easel.DigitalSequenceBlock) \
        else digital(sequences)
    families = [''] * len(block)
    evalues = np.full(len(block), np.inf)
    for i, hits in enumerate(pyhmmer.hmmer.hmmscan(block, profiles, cpus=1)):
        if len(hits):
            best = min(hits, key=lambda hit: hit.evalue)
            families[i], evalues[i] = text_of(best.name), best.evalue
    return families, evalues


def saturated(profiles, sequences, predicted, block=None):
    """Whether HMMER's first filter (MSV, 8-bit) overflows on each sequence against the profile
    of its ``predicted`` class: an ungapped match so strong that its score leaves the filter's
    range. It costs a few microseconds a sequence; the full search of a true hit costs a
    hundred times more. (Profiles configured for `MSV_LENGTH` residues.)"""
    pyhmmer = pyhmmer_module()
    background = pyhmmer.plan7.Background(alphabet())
    block = digital(sequences) if block is None else block
    predicted = np.asarray(predicted)
    result = np.zeros(len(predicted), bool)
    for k in np.unique(predicted):
        profile = pyhmmer.plan7.Profile(profiles[k].M, alphabet())
        profile.configure(profiles[k], background, L=MSV_LENGTH)
        optimized = profile.to_optimized()
        for i in np.flatnonzero(predicted == k):
            result[i] = optimized.msv_filter(block[i]) == np.inf
    return result


def family_scores(profiles, sequences, predicted, unfiltered=(), skip_saturated=False):
    """The bit score of each sequence against the profile of its ``predicted`` class (-inf
    when HMMER's filters drop it); the profiles of the classes in ``unfiltered`` are searched
    without the filters (every sequence then gets a score). ``skip_saturated``: a sequence on
    which the MSV filter overflows (`saturated`) gets +inf without the full search."""
    pyhmmer = pyhmmer_module()
    background = pyhmmer.plan7.Background(alphabet())
    block = digital(sequences)
    predicted = np.asarray(predicted)
    scores = np.full(len(sequences), -np.inf)
    searched = np.ones(len(sequences), bool)
    if skip_saturated:
        skipped = saturated(profiles, sequences, predicted, block)
        scores[skipped], searched = np.inf, ~skipped
    for k in np.unique(predicted[searched]):
        rows = np.flatnonzero((predicted == k) & searched)
        options = UNFILTERED if int(k) in set(unfiltered) else {}
        pipeline = pyhmmer.plan7.Pipeline(alphabet(), background=background, Z=1, **options)
        subset = pyhmmer.easel.DigitalSequenceBlock(alphabet(), [block[i] for i in rows])
        for hit in pipeline.search_hmm(profiles[k], subset):
            scores[int(text_of(hit.name))] = hit.score          # named by index
    return scores


def profiles_to_bytes(profiles):
    """The profiles as the text of an HMMER ``.hmm`` file."""
    handle = io.BytesIO()
    for hmm in profiles:
        hmm.write(handle)
    return handle.getvalue()


def profiles_from_bytes(data, what='profiles'):
    """Profiles from the text (or binary) of an HMMER file. Raises DataError."""
    pyhmmer = pyhmmer_module()
    try:
        with pyhmmer.plan7.HMMFile(io.BytesIO(bytes(data))) as handle:
            return list(handle)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f'{what}: not HMMER profiles ({fileio.one_line(err)})') from None


def load_profiles(path):
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such file')
    with open(path, 'rb') as handle:
        return profiles_from_bytes(handle.read(), path)


def save_profiles(profiles, path):
    fileio.atomic_write(path, lambda f: f.write(profiles_to_bytes(profiles)))


def accession_number(accession):
    """``'PF00004.29'`` → 4."""
    return int(accession[2:].split('.')[0])


def other_sequences(path=None, held_out=False):
    """The other-family sequences of even accession numbers (calibration; ``held_out`` False)
    or of odd ones (evaluation only; ``held_out`` True)."""
    path = path or OTHERS
    if not os.path.isfile(path):
        raise DataError(f'{path}: no such file')
    with fileio.open_text(path) as handle:
        rows = list(csv.DictReader(handle))
    return [row['sequence'] for row in rows
            if accession_number(row['family_accession']) % 2 == int(held_out)]


def calibrate_thresholds(valid_scores, valid_right, valid_labels, other_scores, other_predicted,
                         n_classes, weight=1.0, default=10.0, grid=np.arange(-5, 40.25, 0.25)):
    """One bit-score threshold per class, like Pfam's gathering thresholds: for class k, the
    value of ``grid`` that minimises

        (in-family validation sequences of k, predicted right, scoring below it) / n_valid
        + weight * (other-family sequences predicted k scoring at or above it) / n_other

    the nearest to ``default`` among equals (a class no other sequence was predicted as gets
    ``default`` when that loses no validation sequence)."""
    valid_scores, other_scores = np.asarray(valid_scores), np.asarray(other_scores)
    thresholds = np.full(n_classes, float(default))
    for k in range(n_classes):
        inside = valid_scores[np.asarray(valid_right) & (np.asarray(valid_labels) == k)]
        outside = other_scores[np.asarray(other_predicted) == k]
        lost = (inside[None, :] < grid[:, None]).sum(1) / max(len(valid_scores), 1)
        passed = (outside[None, :] >= grid[:, None]).sum(1) / max(len(other_scores), 1)
        cost = lost + weight * passed + 1e-9 * np.abs(grid - default)
        thresholds[k] = float(grid[np.argmin(cost)])
    return thresholds

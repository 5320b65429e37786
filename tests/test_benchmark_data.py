"""The 46-family benchmark's records in the repository (data/pfam46) build exactly the dataset
of the committed results: the fold files' hashes are those of a build from the 400-family seed
file with the family list (data/pfam46/README.md)."""
import json
import os

import pytest

import pfam_build
import pfam_loader
from conftest import REAL_CSV, REAL_FAMILIES

#: SHA-256 of pfamB_fold_{0..4}.csv of the standard build (seed 0, 5 folds)
FOLD_SHA256 = [
    'ad028a67f3e4746794044913a780795a62655a3bbb7f3214548b8c81f5816f82',
    '4c25648359bc5526979b3271c399d55db78e75a8e0e8cea3aed16240cf0a6fb6',
    'bd98e9f7dcc97d96c24283ad13dc2b1b39325b88e40e35e7ff18376acbb272b5',
    '8528198bf50f10d515d08dc0c393c4c23cfc3be5ab3fbd916b64bfd35a776487',
    '41bd37c318fd33785df46b72e3a2c1b326cb20f5fdea0e11821e1313edcde9e0',
]


def test_the_records_are_small_and_hold_the_46_families_only():
    import pandas as pd
    assert os.path.getsize(REAL_CSV) <= 2_000_000
    frame = pd.read_csv(REAL_CSV)
    assert list(frame.columns) == ['sequence', 'family_accession', 'family_id']
    families = [line.strip() for line in open(REAL_FAMILIES) if line.strip()]
    assert len(families) == 46 and set(frame['family_accession']) == set(families)
    assert len(frame) == 15576


@pytest.mark.slow
def test_the_standard_build_command_gives_the_reference_folds(tmp_path):
    """`pfam_loader.py build --input data/pfam46/pfam46_seed.csv.gz --out DIR --version B`, as
    README and run_experiment.sh give it (no --families needed)."""
    pfam_build.build_dataset([REAL_CSV], str(tmp_path), 'B')
    meta = json.load(open(pfam_loader.metadata_path(str(tmp_path), 'B')))
    assert meta['fold_sha256'] == FOLD_SHA256
    assert meta['n_classes'] == 46 and meta['n_sequences'] == 15576 and meta['len_max'] == 782

"""Shared fixtures: a small synthetic dataset built once per test session, and the real data."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pfam_loader  # noqa: E402

SHARED_DATA = os.path.join(ROOT, '..', 'shared', 'data')
REAL_CSV = os.path.join(SHARED_DATA, 'pfam32_seed_real.csv.gz')
REAL_FAMILIES = os.path.join(SHARED_DATA, 'pfam46_families.txt')
needs_real_data = pytest.mark.skipif(
    not (os.path.isfile(REAL_CSV) and os.path.isfile(REAL_FAMILIES)),
    reason='real Pfam data not found at ../shared/data')


@pytest.fixture(scope='session')
def demo_dir(tmp_path_factory):
    """A 6-family synthetic dataset (about 400 sequences) with its 5 rotations."""
    out = tmp_path_factory.mktemp('demo')
    pfam_loader.build_demo(str(out), version='T', n_families=6, seed=1)
    return str(out)


@pytest.fixture(scope='session')
def demo_rotation(demo_dir):
    return pfam_loader.load_rotation(demo_dir, 0, 'T')


@pytest.fixture(scope='session')
def real_dir(tmp_path_factory):
    """The standard 46-family benchmark built from ../shared/data (skips when absent)."""
    if not (os.path.isfile(REAL_CSV) and os.path.isfile(REAL_FAMILIES)):
        pytest.skip('real Pfam data not found at ../shared/data')
    out = tmp_path_factory.mktemp('pfam46')
    pfam_loader.build_dataset([REAL_CSV], str(out), 'B',
                              families=pfam_loader.read_family_list(REAL_FAMILIES))
    return str(out)

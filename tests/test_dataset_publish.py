"""Datasets are replaced whole or not at all (real SIGKILLs of real builds), concurrent first use
of the demo builds it once, and input edge cases: impossible demo sizes, truncated gzip inputs,
byte-order marks."""
import gzip
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import pfam_build
import pfam_formats
import pfam_loader
from conftest import ROOT

VERSION = 'K'


def _state(basedir, first=0):
    """What readers see of dataset `VERSION`: (folds, rotation 0's split sizes, a hash of its
    training set), through `versions_in`, `count_folds` and `load_rotation`, reader ``first``
    (0, 1 or 2) of these first (the first reader finishes an interrupted switch)."""
    readers = [lambda: pfam_loader.versions_in(basedir),
               lambda: pfam_loader.count_folds(basedir, VERSION),
               lambda: pfam_loader.load_rotation(basedir, 0, VERSION)]
    seen = {first: readers[first]()}
    for k in range(3):
        seen.setdefault(k, readers[k]())
    versions, n_folds, dat = seen[0], seen[1], seen[2]
    assert versions == [VERSION]
    digest = hashlib.sha256(np.ascontiguousarray(dat['ins_train']).tobytes()
                            + dat['outs_train'].tobytes()).hexdigest()
    return n_folds, tuple(len(dat[f'ins_{s}']) for s in ('train', 'valid', 'test')), digest


def _leftovers(basedir):
    return sorted(n for n in os.listdir(basedir) if '-build-' in n or 'switch' in n)


@pytest.fixture(scope='module')
def old_and_new(tmp_path_factory):
    """A small input, the old dataset (5 folds, seed 0) and the new one a rebuild writes over it
    (4 folds, seed 1: one fold file fewer, every file different)."""
    root = tmp_path_factory.mktemp('publish')
    source = str(root / 'in.csv')
    pfam_build.make_demo_records(n_families=8, seed=1, min_count=20, max_count=30).to_csv(
        source, index=False)
    old, new = str(root / 'old'), str(root / 'new')
    pfam_build.build_dataset([source], old, VERSION, seed=0)
    pfam_build.build_dataset([source], new, VERSION, seed=1, n_folds=4)
    return source, old, new


def _rebuild(source, out, pause=None):
    env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'}
    env.pop(pfam_build.TEST_PAUSE_VARIABLE, None)
    if pause is not None:
        env[pfam_build.TEST_PAUSE_VARIABLE] = str(pause)
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'pfam_loader.py'), 'build',
                             '--input', source, '--out', out, '--version', VERSION, '--seed', '1',
                             '--folds', '4', '--force'],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_killed_replacement_leaves_the_old_or_the_new_dataset_whole(old_and_new, tmp_path):
    """SIGKILL a real ``build --force`` after each kind of step of writing and switching the
    files (the build pauses there; the first and last of a run of steps of one kind, e.g. the
    first and last file staged: the steps between repeat the same operation on another file),
    and at random moments of an unpaused build: every reader then sees the old dataset whole
    before the journal is written, the new one whole after it."""
    source, old_dir, new_dir = old_and_new
    old, new = _state(old_dir), _state(new_dir)
    assert old[0] == 5 and new[0] == 4 and old[2] != new[2]
    out = str(tmp_path / 'd')

    shutil.copytree(old_dir, out)                # a full run: the steps to kill after
    process = _rebuild(source, out, pause=0)
    steps = [line.split(':', 1)[1].strip() for line in process.communicate()[1].splitlines()
             if line.startswith('build step:')]
    assert process.returncode == 0 and _state(out) == new and not _leftovers(out)
    published = steps.index('journal written')
    assert 'removed pfamK_fold_4.csv' in steps and steps[-1] == 'journal removed'

    kinds = [step.split()[0] for step in steps]         # staged, journal, removed, moved
    ends = [number for number, kind in enumerate(kinds)
            if kinds[max(number - 1, 0):number + 2].count(kind) < 3]
    assert {kinds[number] for number in ends} == set(kinds) and published in ends
    for number in ends:
        step = steps[number]
        shutil.rmtree(out)
        shutil.copytree(old_dir, out)
        process = _rebuild(source, out, pause=f'1@{number + 1}')     # after that step only
        seen = 0
        for line in process.stderr:
            seen += line.startswith('build step:')
            if seen == number + 1:
                process.send_signal(signal.SIGKILL)     # during the pause after it
                break
        process.communicate()
        assert process.returncode == -signal.SIGKILL, f'the build ended before step {step!r}'
        assert _state(out, number % 3) == (new if number >= published else old), \
            f'killed after {step!r}'
        assert not [n for n in _leftovers(out) if 'switch' in n]     # a reader finished it

    # Kills at random moments of unpaused builds, from reading the input on to the end.
    def start_and_wait_for_the_split():
        process = _rebuild(source, out)
        for line in process.stderr:
            if line.startswith('dropped'):           # input read; the split and writes follow
                return process, time.time()
        raise AssertionError('the build did not get to the split')

    process, split = start_and_wait_for_the_split()
    process.communicate()
    window = time.time() - split
    assert process.returncode == 0
    rng = random.Random(5)
    for trial in range(3):
        shutil.rmtree(out)
        shutil.copytree(old_dir, out)
        delay = rng.uniform(0, 1.1 * window)
        process, _ = start_and_wait_for_the_split()
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert _state(out, trial % 3) in (old, new), \
            f'killed {delay:.3f} s after the split (the writes took {window:.3f} s)'

    # a later build removes what killed builds left (staging folders of builds killed early)
    os.makedirs(os.path.join(out, f'.pfam{VERSION}-build-killed'))
    assert _rebuild(source, out).wait() == 0
    assert _state(out) == new and not _leftovers(out)


@pytest.mark.slow
def test_a_reader_holds_a_replacement_back_until_it_has_read(old_and_new, tmp_path):
    """A load in progress keeps the files it reads: the switch waits for it."""
    source, old_dir, new_dir = old_and_new
    out = str(tmp_path / 'd')
    shutil.copytree(old_dir, out)
    with pfam_build.reading(out, VERSION):
        process = _rebuild(source, out)
        for line in process.stderr:
            if 'waiting for readers' in line:
                break
        assert _state(out) == _state(old_dir)        # nested reading: the same, old, dataset
        assert process.poll() is None
    process.communicate()
    assert process.returncode == 0 and _state(out) == _state(new_dir)


@pytest.mark.slow
def test_concurrent_first_use_of_the_demo_builds_it_once(tmp_path):
    """Three processes call `ensure_demo` at the same moment in an empty folder (the first runs
    of a job array in a fresh clone): one builds, the others wait and use its dataset."""
    code = ('import json, os, sys, time, pfam_build\n'
            'open(sys.argv[1], "w").close()\n'
            'while not os.path.exists("go"): time.sleep(0.005)\n'
            'pfam_build.ensure_demo("data/demo", "B")\n'
            'print(json.load(open("data/demo/pfamB_metadata.json"))["fold_sha256"])\n')
    env = {**os.environ, 'PYTHONPATH': ROOT, pfam_build.TEST_PAUSE_VARIABLE: '0.1'}
    processes = [subprocess.Popen([sys.executable, '-c', code, f'ready{i}'], cwd=tmp_path,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i in range(3)]
    deadline = time.time() + 120
    while not all((tmp_path / f'ready{i}').exists() for i in range(3)):
        assert time.time() < deadline and all(p.poll() is None for p in processes)
        time.sleep(0.01)
    (tmp_path / 'go').touch()
    results = [(p.communicate(timeout=300), p.returncode) for p in processes]
    for (out, err), returncode in results:
        assert returncode == 0, err
    assert len({out for (out, _), _ in results}) == 1           # the same dataset for all
    logs = [err for (_, err), _ in results]
    assert sum('wrote 5 folds' in err for err in logs) == 1      # built once
    assert sum('waiting for another build' in err for err in logs) == 2
    demo = str(tmp_path / 'data' / 'demo')
    assert pfam_loader.load_rotation(demo, 0, 'B')['n_classes'] == 46
    assert not _leftovers(demo)


# ---------------------------------------------------------------- demo size
def _one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if 'error' in line] == [lines[-1]]
    for fragment in fragments:
        assert fragment in lines[-1]


@pytest.mark.parametrize('families', ['1', '5001', '100000', '492961', '10000000'])
@pytest.mark.slow
def test_demo_refuses_impossible_or_impractical_family_counts_at_once(tmp_path, families):
    started = time.time()
    result = subprocess.run([sys.executable, 'pfam_loader.py', 'demo', '--out', str(tmp_path),
                             '--families', families], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    _one_line_error(result, '--families must be in 2..5,000', '492,960')
    assert time.time() - started < 60 and not os.listdir(tmp_path)


def test_make_demo_records_refuses_more_families_than_motif_combinations():
    assert pfam_build.N_MOTIF_COMBINATIONS == 80 * 79 * 78
    with pytest.raises(pfam_loader.DataError, match='only 492,960 motif combinations'):
        pfam_build.make_demo_records(pfam_build.N_MOTIF_COMBINATIONS + 1)


# ---------------------------------------------------------------- damaged and BOM inputs
FASTA = ''.join(f'>SEQ{i}/1-9 PF0000{i % 2 + 1}.3;Fam;\nMKVLAAGIV{"ACDEFGHIK"[i % 9]}\n'
                for i in range(400))
STOCKHOLM = ''.join(f'# STOCKHOLM 1.0\n#=GF AC PF0000{k}.1\n'
                    + ''.join(f'seq{k}_{i}/1-10  MKVLA-GIV{"ACDEFGHIK"[i % 9]}\n'
                              for i in range(200)) + '//\n' for k in (1, 2))


@pytest.mark.parametrize('name, text', [('x.fa.gz', FASTA), ('x.sto.gz', STOCKHOLM),
                                        ('x.gz', FASTA)], ids=['fasta', 'stockholm', 'by-content'])
@pytest.mark.slow
def test_a_truncated_gzip_input_is_one_line_naming_the_file(tmp_path, name, text):
    data = gzip.compress(text.encode())
    path = tmp_path / name
    path.write_bytes(data[:len(data) // 2])
    result = subprocess.run([sys.executable, 'pfam_loader.py', 'build', '--input', str(path),
                             '--out', str(tmp_path / 'out')], cwd=ROOT, capture_output=True,
                            text=True)
    _one_line_error(result, str(path), 'truncated or damaged gzip file')
    with pytest.raises(pfam_loader.DataError, match='truncated or damaged gzip'):
        pfam_formats.read_records(str(path))


@pytest.mark.parametrize('name, text', [
    ('x.fa', FASTA), ('x.fasta.gz', FASTA), ('x.txt', FASTA),                # .txt: by content
    ('x.csv', 'sequence,family_accession\nMKVL,PF00001.3\nWWPC,PF00002.1\n'),
    ('x.tsv.gz', 'sequence\tfamily_accession\nMKVL\tPF00001.3\nWWPC\tPF00002.1\n'),
    ('x.dat', 'sequence,family_accession\nMKVL,PF00001.3\nWWPC,PF00002.1\n'),
    ('x.sto', STOCKHOLM)], ids=lambda value: value if len(value) < 12 else '')
def test_inputs_may_start_with_a_utf8_byte_order_mark(tmp_path, name, text):
    plain, marked = tmp_path / f'plain_{name}', tmp_path / f'bom_{name}'
    for path, prefix in ((plain, b''), (marked, b'\xef\xbb\xbf')):
        data = prefix + text.encode()
        path.write_bytes(gzip.compress(data) if name.endswith('.gz') else data)
    expected = pfam_formats.read_records(str(plain))
    assert len(expected) >= 2
    assert pfam_formats.read_records(str(marked)).equals(expected)


def test_a_family_list_may_start_with_a_byte_order_mark(tmp_path):
    path = tmp_path / 'families.txt'
    path.write_bytes(b'\xef\xbb\xbfPF00001.3\nPF00002.1\n')
    assert pfam_formats.read_family_list(str(path)) == ['PF00001.3', 'PF00002.1']

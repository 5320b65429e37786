"""A run's files (artefacts.py): names, publishing in one step, finishing or cleaning what a
killed publish left."""
import os
import signal
import subprocess
import sys
import time

import pytest

import artefacts
from conftest import ROOT

#: Publishes artefacts whose contents all say argv[2], each write taking a moment, in a
#: process the test kills; then prints "done".
PUBLISHER = """
import sys, time
sys.path.insert(0, {root!r})
import artefacts
found = artefacts.paths(sys.argv[1], 'gru_rot0')
def writer(text):
    def write(f):
        time.sleep(0.03)
        f.write(text)
    return write, 'w'
artefacts.publish(found, {{kind: writer(sys.argv[2]) for kind in artefacts.PUBLISHED}})
print('done', flush=True)
"""


def _contents(found):
    return {kind: open(found[kind]).read() if os.path.exists(found[kind]) else None
            for kind in artefacts.PUBLISHED}


def _publish(results, text):
    return subprocess.Popen([sys.executable, '-c', PUBLISHER.format(root=ROOT), str(results), text],
                            stdout=subprocess.PIPE, text=True)


def test_names_of_a_run():
    found = artefacts.paths('out', 'gru_rot0')
    assert found['result'] == os.path.join('out', 'gru_rot0_results.pkl')
    assert found['model'] == os.path.join('out', 'gru_rot0.keras')
    assert found['run_log'] == os.path.join('out', 'gru_rot0_run', 'gru_rot0_log.csv')
    assert artefacts.name_of_result(found['result']) == 'gru_rot0'


@pytest.mark.parametrize('delay', [0.0, 0.02, 0.05, 0.08, 0.1, 0.13, 0.16, 0.2])
@pytest.mark.slow
def test_sigkill_at_any_moment_of_publishing_leaves_the_old_or_the_new_run_whole(tmp_path,
                                                                                 delay):
    found = artefacts.paths(str(tmp_path), 'gru_rot0')
    first = _publish(tmp_path, 'old')
    assert first.communicate(timeout=60)[0].strip() == 'done'
    assert set(_contents(found).values()) == {'old'}
    os.makedirs(found['run_dir'], exist_ok=True)        # a run of the new configuration
    second = _publish(tmp_path, 'new')
    time.sleep(0.25 + delay)                            # the interpreter starts in ~0.2 s
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=60)
    artefacts.settle(found)                             # what every reader does first
    seen = set(_contents(found).values())
    assert seen in ({'old'}, {'new'}), seen
    if seen == {'new'}:
        assert not os.path.exists(found['run_dir'])     # a finished publish removes the run
    artefacts.settle(found, clean=True)                 # the next run, under its lock
    assert not [name for name in os.listdir(tmp_path) if name.startswith('.')]
    assert not os.path.exists(found['stage'])


def test_settle_finishes_an_interrupted_publish_and_clean_removes_leftovers(tmp_path):
    found = artefacts.paths(str(tmp_path), 'gru_rot0')
    os.makedirs(found['stage'])
    for kind in artefacts.PUBLISHED:
        with open(os.path.join(found['stage'], os.path.basename(found[kind])), 'w') as f:
            f.write('new')
    with open(found['result'], 'w') as f:
        f.write('old')
    with open(os.path.join(found['stage'], 'READY'), 'w') as f:
        f.write('ready\n')
    os.makedirs(found['run_dir'] + '.deleting')
    for leftover in ('.gru_rot0.keras.abc.keras', '.gru_rot0_results.pkl.x1.pkl'):
        (tmp_path / leftover).write_text('partial')
    (tmp_path / '.gru_rot0_other_results.pkl.x2.pkl').write_text('another run')
    artefacts.settle_all(str(tmp_path))                 # readers: finish it, touch nothing else
    assert set(_contents(found).values()) == {'new'}
    assert (tmp_path / '.gru_rot0.keras.abc.keras').exists()
    assert artefacts.settle(found, clean=True) is False
    left = sorted(os.listdir(tmp_path))
    assert '.gru_rot0.keras.abc.keras' not in left and 'gru_rot0_run.deleting' not in left
    assert '.gru_rot0_other_results.pkl.x2.pkl' in left     # another run's file stays


def test_a_partial_publish_without_its_marker_is_ignored_then_cleaned(tmp_path):
    found = artefacts.paths(str(tmp_path), 'gru_rot0')
    with open(found['result'], 'w') as f:
        f.write('old')
    os.makedirs(found['stage'])
    with open(os.path.join(found['stage'], 'gru_rot0_results.pkl'), 'w') as f:
        f.write('new')
    assert artefacts.settle(found) is False and open(found['result']).read() == 'old'
    artefacts.settle(found, clean=True)
    assert not os.path.exists(found['stage']) and open(found['result']).read() == 'old'

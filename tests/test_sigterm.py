"""A SIGTERM ends the driver at once, whatever freeing the interrupted run's objects would do.

Freeing the TensorFlow dataset iterator of an interrupted training joins tf.data's autotuning
thread, which first sleeps out its current period (it doubles up to 60 s) while the main thread
waits, holding the GIL: a SIGTERM'd run printed its message, then hung with its lock held (the
iterator freed with the exception's traceback), or later in the interpreter's finalization.
How long it hangs depends on timing (0 to 60 s); here objects whose freeing never ends stand in
for the iterator: one in a frame of the interrupted run (freed with the traceback), one left
for the interpreter's finalization. A real process gets a real SIGTERM in the second (last)
epoch of a --force run and must end with status 143 within seconds, its lock released, its
finished epoch kept and the run it replaces untouched.
(tests/sigterm_trials.py checks the real thing on a real SLURM, at random moments.)
"""
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest

import hw6_base
import job_control
from conftest import (ROOT, assert_full_history, complete_result, driver_args,
                      epochs_logged, our_lines, RUN_NAME)

NAME = RUN_NAME
#: seconds from the SIGTERM to the end of the process (SLURM users are promised "at once")
LIMIT_S = 15

RUNNER = '''
import sys
import threading

import fileio
import hw6_base


class NeverFreed:
    """Freeing it never ends (as freeing a tf.data iterator can take up to a minute)."""

    def __del__(self):
        threading.Event().wait()


train_and_evaluate = hw6_base.train_and_evaluate


def held_by_the_run(*args, **kwargs):
    stuck = NeverFreed()      # a local of the interrupted run: freed with the traceback
    return train_and_evaluate(*args, **kwargs)


hw6_base.train_and_evaluate = held_by_the_run
left_for_finalization = NeverFreed()
fileio.run_main(hw6_base.main)        # the command line of hw6_base.py (sys.argv)
'''


@pytest.mark.slow
def test_sigterm_in_the_last_epoch_of_a_forced_run_ends_it_at_once_and_it_resumes(
        demo_dir, tmp_path, capsys):
    """A real SIGTERM in the last epoch of a --force run: status 143 within `LIMIT_S` with one
    line, the lock released, the finished epoch kept and the old finished run's files
    untouched; the rerun resumes to the full history and only then replaces them."""
    results = tmp_path / 'results'
    results.mkdir()
    old = {suffix: f'old {suffix}'.encode() for suffix in ('.keras', '_meta.json', '_log.csv')}
    old['_results.pkl'] = pickle.dumps(complete_result(name='old'))
    for suffix, content in old.items():
        (results / f'{NAME}{suffix}').write_bytes(content)
    argv = driver_args(demo_dir, results, '--epochs', '2', '--steps_per_epoch', '20', '--force')
    err_path = tmp_path / 'run.err'
    with open(tmp_path / 'run.out', 'w') as out, open(err_path, 'w') as err:
        run = subprocess.Popen([sys.executable, '-c', RUNNER, *argv], cwd=ROOT, stdout=out,
                               stderr=err, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    try:
        deadline = time.time() + 240
        while epochs_logged(results) < 1:                    # epoch 2 has begun
            assert run.poll() is None, f'ended early: {err_path.read_text()[-2000:]}'
            assert time.time() < deadline, 'no epoch finished in 240 s'
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGTERM)
        sent = time.time()
        try:
            status = run.wait(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f'still running {LIMIT_S} s after its SIGTERM (freeing the interrupted '
                        f'run\'s objects?); lock held: '
                        f'{job_control.lock_is_held(str(results / f"{NAME}.lock"))}; stderr: '
                        f'{err_path.read_text()[-1000:]}')
        took = time.time() - sent
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    stderr = err_path.read_text()
    assert status == 143 and 'Traceback' not in stderr, stderr
    assert our_lines(stderr) == [f'{NAME}: interrupted; run the same command again to resume '
                                 'after the last finished epoch']
    assert took < LIMIT_S
    lock = results / f'{NAME}.lock'
    assert not lock.exists() and not job_control.lock_is_held(str(lock))
    assert epochs_logged(results) == 1, 'the SIGTERM came after epoch 2 ended: a slow poll?'
    assert any(name.endswith('.weights.h5') for name in os.listdir(results / f'{NAME}_run'))
    for suffix, content in old.items():
        assert (results / f'{NAME}{suffix}').read_bytes() == content, suffix

    assert hw6_base.main(argv) == 0
    assert f'{NAME}: resuming after epoch 1 ' in capsys.readouterr().out
    with open(results / f'{NAME}_results.pkl', 'rb') as f:
        assert_full_history(pickle.load(f), 2)
    for suffix, content in old.items():
        assert (results / f'{NAME}{suffix}').read_bytes() != content, suffix
    assert not os.path.exists(results / f'{NAME}_run')
    assert len((results / f'{NAME}_log.csv').read_text().splitlines()) == 3

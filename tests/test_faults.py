"""The driver under real faults: SIGTERM and SIGKILL at awkward moments, corrupt checkpoints,
NaN losses, double submissions, --force, unreadable results, unwritable paths.

Processes, signals and files are real: runs are started with subprocess and killed with
os.kill; the moment is chosen by watching the run's own files.
"""
import fcntl
import os
import pickle
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import fileio
import hw6_base
import job_control
import parser as arguments
from conftest import ROOT
from conftest import (ONE_PASS, REPEATED, assert_full_history, complete_result, driver_args,
                      epochs_logged, our_lines, RUN_NAME, run_cli)

NAME = RUN_NAME
ENV = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3', 'CUDA_VISIBLE_DEVICES': ''}   # a CPU task's


# ---------------------------------------------------------------- helpers
def _start(tmp_path, argv, tag='run'):
    """A real `python hw6_base.py ...` process; its stdout/stderr go to files (no pipe to fill)."""
    out, err = open(tmp_path / f'{tag}.out', 'w'), open(tmp_path / f'{tag}.err', 'w')
    process = subprocess.Popen([sys.executable, 'hw6_base.py', *argv], cwd=ROOT, env=ENV,
                               stdout=out, stderr=err, text=True)
    process.outputs = (tmp_path / f'{tag}.out', tmp_path / f'{tag}.err')
    return process


def _finish(process, timeout=240):
    """(exit status, stdout, stderr) of a started process."""
    status = process.wait(timeout=timeout)
    return status, process.outputs[0].read_text(), process.outputs[1].read_text()


def _wait_for(condition, process, timeout=240, poll=0.02):
    """Poll until ``condition()``; fails when the process ends first or time runs out."""
    deadline = time.time() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f'the run ended (status {process.returncode}) before the moment to '
                        f'signal it: {process.outputs[1].read_text()[-2000:]}')
        assert time.time() < deadline, 'timed out waiting for the moment to signal'
        time.sleep(poll)


def _result(results, name=NAME):
    with open(results / f'{name}_results.pkl', 'rb') as f:
        return pickle.load(f)


# ---------------------------------------------------------------- 1: SIGTERM
# (in the last epoch of a --force run, and within seconds: tests/test_sigterm.py)
class _SigtermInsideDel(keras.callbacks.Callback):
    """SIGTERM to this process from inside a ``__del__`` at the given training batch of epoch 0:
    the handler runs there, and what it raises can only abort that ``__del__`` (Python hands it
    to sys.unraisablehook), as when the signal lands in a garbage-collector callback (seen on
    CI, in JAX's)."""

    def __init__(self, batch):
        super().__init__()
        self.batch, self.seen, self.steps_in_del = batch, [], []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)
        if batch == self.batch:
            steps = self.steps_in_del

            class Victim:
                def __del__(self):
                    steps.append('signal sent')
                    os.kill(os.getpid(), signal.SIGTERM)
                    for _ in range(1000):        # bytecodes: the handler runs in here
                        pass
                    steps.append('not interrupted')
            Victim()


@pytest.mark.slow
def test_a_sigterm_whose_exception_is_swallowed_still_stops_the_run(demo_dir, tmp_path,
                                                                     monkeypatch, capsys):
    results = tmp_path / 'results'
    argv = driver_args(demo_dir, results, '--epochs', '2', '--steps_per_epoch', '6')
    probe, unraisable = _SigtermInsideDel(batch=3), []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    assert hw6_base.main(argv, extra_callbacks=[probe]) == 143
    assert probe.steps_in_del == ['signal sent']          # the raise ended __del__, and was lost
    assert probe.seen == [0, 1, 2, 3]            # ... yet the next batch end stopped the run
    assert unraisable == []                      # and no "Exception ignored ... Traceback" shown
    assert capsys.readouterr().err == (f'{NAME}: interrupted; run the same command again to '
                                       'resume after the last finished epoch\n')
    assert epochs_logged(results) == 0 and not os.path.exists(results / f'{NAME}_results.pkl')
    assert sys.unraisablehook == unraisable.append   # main's own handlers are gone again
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and not hw6_base._signals


# ---------------------------------------------------------------- 2: SIGKILL, corrupt checkpoints
@pytest.mark.slow
def test_sigkill_while_a_checkpoint_is_written_then_rerun_completes(demo_dir, tmp_path, capsys):
    results = tmp_path / 'results'
    run_dir = results / f'{NAME}_run'
    argv = driver_args(demo_dir, results, '--epochs', '3', '--steps_per_epoch', '10')

    def writing_a_checkpoint():                  # temporary files exist only while one is written
        return run_dir.is_dir() and any(name.startswith(('.tmp', '.epoch'))
                                        for name in os.listdir(run_dir))
    run = _start(tmp_path, argv)                 # killed while epoch 2's checkpoint is written
    _wait_for(lambda: (epochs_logged(results) >= 1 and writing_a_checkpoint())
              or epochs_logged(results) >= 2, run, poll=0.001)
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(timeout=60) == -signal.SIGKILL
    assert os.path.exists(results / f'{NAME}.lock')          # left behind, but free: a dead holder

    assert hw6_base.main(argv) == 0
    assert f'{NAME}: resuming after epoch ' in capsys.readouterr().out
    assert_full_history(_result(results), 3)
    assert job_control.result_is_complete(results / f'{NAME}_results.pkl')
    assert not os.path.exists(results / f'{NAME}.lock')


@pytest.mark.slow
def test_truncated_newest_checkpoint_and_empty_result_resume_from_the_checkpoint_before(
        trained, demo_dir, tmp_path, capsys):
    """A truncated newest checkpoint is skipped, and an empty result (a run killed as it began
    to write one, by a tool without atomic writes) is no finished run: the run resumes."""
    results = trained(REPEATED, 2, tmp_path / 'results')
    newest = results / f'{NAME}_run' / 'epoch0002.weights.h5'
    newest.write_bytes(newest.read_bytes()[:1000])           # as a kill mid-write would leave it
    (results / f'{NAME}_results.pkl').write_bytes(b'')
    capsys.readouterr()

    assert hw6_base.main(driver_args(demo_dir, results, *REPEATED)) == 0
    captured = capsys.readouterr()
    assert 'is unreadable (EOFError' in captured.err
    assert 'skipped unreadable newer checkpoint(s) (epoch 2: ' in captured.err
    assert f'{NAME}: resuming after epoch 1 ' in captured.out
    assert_full_history(_result(results), 3)
    assert job_control.result_is_complete(results / f'{NAME}_results.pkl')


@pytest.mark.slow
def test_unreadable_resume_state_is_a_one_line_error(trained, demo_dir, tmp_path, capsys):
    results = trained(REPEATED, 1, tmp_path / 'results')
    only = results / f'{NAME}_run' / 'epoch0001.weights.h5'
    only.write_bytes(b'')

    capsys.readouterr()
    assert hw6_base.main(driver_args(demo_dir, results, *REPEATED)) == 2
    [line] = our_lines(capsys.readouterr().err)
    assert line.startswith(f'hw6_base.py: error: the resume state in {results}/{NAME}_run '
                           'cannot be loaded (epoch 1: ')
    assert line.endswith('; delete that folder to train this configuration from the start')
    assert only.exists() and not os.path.exists(results / f'{NAME}_results.pkl')


# ---------------------------------------------------------------- 3: NaN
@pytest.mark.slow
def test_nan_loss_exits_3_and_writes_no_result(demo_dir, tmp_path, capsys):
    assert hw6_base.main(driver_args(demo_dir, tmp_path, '--epochs', '2', '--steps_per_epoch', '3',
                               '--lr', '1e30', '--clipnorm', '0')) == 3
    assert 'loss became nan in epoch 1, batch ' in capsys.readouterr().err
    assert not os.path.exists(tmp_path / f'{NAME}_results.pkl')
    assert not os.path.exists(tmp_path / f'{NAME}_log.csv')


@pytest.mark.slow
def test_nan_in_a_later_epoch_keeps_the_finite_epochs(demo_dir, tmp_path, capsys):
    class PoisonSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.layers[-1].kernel.assign(np.full(self.model.layers[-1].kernel.shape,
                                                            np.nan))
    argv = driver_args(demo_dir, tmp_path, '--epochs', '3', '--steps_per_epoch', '3')
    assert hw6_base.main(argv, extra_callbacks=[PoisonSecondEpoch()]) == 3
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith(NAME)]
    assert line.startswith(f'{NAME}: the loss became nan in epoch 2, batch 1; stopped, no result '
                           'written (lower --lr')
    assert not os.path.exists(tmp_path / f'{NAME}_results.pkl')
    log = (tmp_path / f'{NAME}_run' / f'{NAME}_log.csv').read_text().splitlines()
    assert len(log) == 2 and 'nan' not in log[1]                  # epoch 1 only, finite


@pytest.mark.parametrize('argv, message', [
    (['--lr', 'nan'], 'argument --lr: must be a finite number > 0, got nan'),
    (['--lr', '0'], 'argument --lr: must be a finite number > 0, got 0'),
    (['--lr=-1e-3'], 'argument --lr: must be a finite number > 0'),
    (['--lr', 'inf'], 'argument --lr: must be a finite number > 0'),
    (['--clipnorm', '-1'], 'argument --clipnorm: must be a finite number >= 0'),
    (['--clipnorm', 'nan'], 'argument --clipnorm: must be a finite number >= 0'),
    (['--dropout', '1'], 'argument --dropout: must be in [0, 1)'),
    (['--dropout', 'nan'], 'argument --dropout: must be in [0, 1)'),
    (['--l2', 'inf'], 'argument --l2: must be a finite number >= 0'),
    (['--lr_factor', '1'], 'argument --lr_factor: must be in (0, 1)'),
    (['--min_delta', 'nan'], 'argument --min_delta: must be a finite number >= 0'),
    (['--prefetch', '-2'], 'argument --prefetch: must be >= 0, or -1 for AUTOTUNE'),
])
def test_parser_refuses_non_finite_and_out_of_range_floats(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        arguments.parse_args(argv)
    assert exit_.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert message in line


# ---------------------------------------------------------------- 4, 19: the run lock, --missing
@pytest.mark.slow
def test_second_copy_of_a_running_configuration_exits_at_once(demo_dir, tmp_path,
                                                              idle_scheduler):
    results = tmp_path / 'results'
    argv = driver_args(demo_dir, results, '--epochs', '50', '--steps_per_epoch', '100', '--exp_type',
                 'rotations', '--exp_index', '0')
    first = _start(tmp_path, argv)
    lock = results / f'{NAME}.lock'
    _wait_for(lambda: job_control.lock_is_held(str(lock)), first)
    try:
        second = run_cli('hw6_base.py', *argv, env=ENV)
        assert second.returncode == 4, second.stderr
        [line] = second.stderr.strip().splitlines()
        assert line == (f'hw6_base.py: error: {NAME} is already running (pid {first.pid} on '
                        f'{socket.gethostname()}; lock {lock}); not starting a second copy')
        missing = run_cli('job_control.py', *argv[:-2], '--missing',   # all rotations
                          env=idle_scheduler)
        assert (missing.returncode, missing.stdout.strip()) == (0, '1,2,3,4')  # 0 is running
        assert first.poll() is None                                  # undisturbed
    finally:
        os.kill(first.pid, signal.SIGTERM)
    status, _, stderr = _finish(first)
    assert status == 143 and 'Traceback' not in stderr, stderr
    assert not lock.exists()                                         # released and removed
    noise = fileio.TENSORFLOW_START_NOISE + fileio.TENSORFLOW_NO_GPU_NOISE
    assert not [line for line in stderr.splitlines() if any(bit in line for bit in noise)]


def test_lock_primitives(tmp_path):
    path = str(tmp_path / 'x.lock')
    held = job_control.acquire_run_lock(path)
    assert job_control.lock_is_held(path)
    assert open(path).read() == f'pid {os.getpid()} on {socket.gethostname()}\n'
    with pytest.raises(job_control.LockHeld, match=f'pid {os.getpid()} on '):
        job_control.acquire_run_lock(path, retries=1, wait=0.01)     # another open file: refused
    job_control.release_run_lock(held)
    assert not os.path.exists(path) and not job_control.lock_is_held(path)
    open(path, 'w').write('pid 1 on a-dead-node\n')                  # a stale lock file is free
    assert not job_control.lock_is_held(path)
    job_control.release_run_lock(job_control.acquire_run_lock(path))


@pytest.mark.slow
def test_missing_skips_running_and_done_and_exits_1_when_nothing_is_missing(tmp_path,
                                                                           idle_scheduler):
    cli = ['job_control.py', '--results_path', str(tmp_path), '--exp_type', 'rotations',
           '--missing']
    path = idle_scheduler['PATH']               # a scheduler that answers: nothing queued
    for rotation in (0, 3):
        (tmp_path / f'gru_rot{rotation}_results.pkl').write_bytes(
            pickle.dumps(complete_result(rotation)))
    (tmp_path / 'gru_rot1_results.pkl').write_bytes(pickle.dumps(complete_result(
        1, test_accuracy=float('nan'))))                               # not done
    (tmp_path / 'gru_rot2.lock').write_text('pid 1 on gone\n')          # stale: not running
    with open(tmp_path / 'gru_rot4.lock', 'w') as live:
        fcntl.flock(live, fcntl.LOCK_EX | fcntl.LOCK_NB)                # a live holder
        result = run_cli(*cli, env={'PATH': path})
        assert (result.returncode, result.stdout) == (0, '1,2\n')
        for rotation in (1, 2):
            (tmp_path / f'gru_rot{rotation}_results.pkl').write_bytes(
                pickle.dumps(complete_result(rotation)))
        result = run_cli(*cli, env={'PATH': path})
    assert (result.returncode, result.stdout) == (1, '')
    line = result.stderr.splitlines()[-1]
    assert 'nothing missing' in line and 'done, running or queued' in line
    assert run_cli(*cli, env={'PATH': path}).stdout == '4\n'          # its holder has gone
    shell = subprocess.run(['bash', '-c', f'idx=$({sys.executable} {" ".join(cli)} 2>/dev/null)'
                            ' && echo submit $idx'], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, 'PATH': path})
    assert shell.stdout == 'submit 4\n'


# ---------------------------------------------------------------- 6: what "done" means
@pytest.mark.parametrize('content, done', [
    (None, False), (b'', False), (pickle.dumps(complete_result())[:-20], False),
    (b'\x80\x04 garbage', False), (pickle.dumps([1, 2]), False),
    (pickle.dumps({k: v for k, v in complete_result().items() if k != 'history'}), False),
    (pickle.dumps(complete_result(test_accuracy=float('nan'))), False),
    (pickle.dumps(complete_result(test_accuracy=None)), False),
    (pickle.dumps(complete_result()), True),
])
def test_result_is_complete(tmp_path, content, done):
    path = tmp_path / 'r_results.pkl'
    if content is not None:
        path.write_bytes(content)
    assert job_control.result_is_complete(str(path)) is done


# ---------------------------------------------------------------- 7: resumed == uninterrupted
# the MHA whose positional encoding draws a random offset a sequence: its draws resume too
SHIFTED_MHA = (*REPEATED, '--model_type', 'mha', '--positional_offset', '50')


@pytest.mark.parametrize('options', [REPEATED, ONE_PASS, SHIFTED_MHA])
@pytest.mark.slow
def test_resumed_run_reproduces_the_uninterrupted_one(trained, demo_dir, tmp_path, options):
    name = (f"{options[options.index('--model_type') + 1]}_rot0" if '--model_type' in options
            else NAME)
    resumed = trained(options, 1, tmp_path / 'resumed')     # interrupted after epoch 1
    assert not os.path.exists(resumed / f'{name}_results.pkl')
    assert not os.path.exists(resumed / f'{name}_log.csv')             # only once finished
    assert os.path.isfile(resumed / f'{name}_run' / 'epoch0001.weights.h5')
    assert epochs_logged(resumed, name) == 1 and not os.path.exists(resumed / f'{name}.lock')
    assert hw6_base.main(driver_args(demo_dir, resumed, *options)) == 0
    epochs = int(options[options.index('--epochs') + 1])
    assert_full_history(_result(resumed, name), epochs)
    straight = _result(trained(options, None, tmp_path / 'straight'), name)
    resumed = _result(resumed, name)
    for key, values in straight['history'].items():
        if key != 'epoch_time':
            assert resumed['history'][key] == values, key          # bit for bit
    np.testing.assert_array_equal(resumed['predict_test'], straight['predict_test'])


# ---------------------------------------------------------------- 10: unwritable --results_path
@pytest.mark.slow
def test_unwritable_results_path_fails_before_tensorflow(tmp_path):
    blocked = tmp_path / 'blocked'
    blocked.mkdir()
    blocked.chmod(0o555)
    if os.access(blocked, os.W_OK):                   # root ignores modes; /proc refuses files
        blocked = '/proc'
    plain_file = tmp_path / 'a_file'
    plain_file.write_text('')
    check = ('import sys, hw6_base; status = hw6_base.main(sys.argv[1:]); '
             'print("tensorflow" in sys.modules); sys.exit(status)')
    for path in (blocked, plain_file):
        result = subprocess.run([sys.executable, '-c', check, '--results_path', str(path)],
                                cwd=ROOT, env=ENV, capture_output=True, text=True)
        assert (result.returncode, result.stdout) == (2, 'False\n'), result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f'hw6_base.py: error: cannot write to --results_path {path}: ')


# ---------------------------------------------------------------- 18: SIGTERM at start-up
def _handles_sigterm(pid):
    with open(f'/proc/{pid}/status') as f:
        caught = next(line for line in f if line.startswith('SigCgt:')).split()[1]
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs /proc (Linux)')
@pytest.mark.parametrize('delay', [0.0, 2.0])
@pytest.mark.slow
def test_sigterm_right_after_start_exits_143_cleanly(demo_dir, tmp_path, delay):
    run = _start(tmp_path, driver_args(demo_dir, tmp_path / 'results', '--epochs', '2'))
    _wait_for(lambda: _handles_sigterm(run.pid), run, poll=0.001)
    time.sleep(delay)                                 # 0: still importing; 2: TensorFlow loads
    os.kill(run.pid, signal.SIGTERM)
    status, _, stderr = _finish(run)
    assert status == 143 and 'Traceback' not in stderr, stderr
    [line] = our_lines(stderr)
    assert 'interrupted' in line and 'run the same command again' in line
    assert not os.path.exists(tmp_path / 'results' / f'{NAME}_results.pkl')


# ---------------------------------------------------------------- checkpoint writes that fail
def _checkpoint_model(seed):
    import network
    keras.utils.set_random_seed(seed)
    return network.small_test_model('gru', n_classes=4)


def _weights_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_a_checkpoint_write_that_fails_midway_leaves_the_previous_checkpoint(tmp_path,
                                                                            monkeypatch):
    """Weights and state files are written whole or not at all: when writing either fails after
    part of it is on disk, no partial file sits under a checkpoint's name, and the checkpoint
    that was there (even one of the same epoch being rewritten) still loads."""
    import checkpoints
    run_dir = str(tmp_path / 'run')
    os.makedirs(run_dir)
    saved = _checkpoint_model(1)
    checkpoints.save(saved, run_dir, {'epochs': 1, 'history': {'loss': [0.9]}, 'best_epochs': 1})
    before = sorted(os.listdir(run_dir))

    def save_weights_then_fail(path, *args, **kwargs):
        with open(path, 'wb') as f:
            f.write(b'\x89HDF\r\n\x1a\n' + b'\0' * 100)          # the start of an HDF5 file
        raise OSError('No space left on device')

    failing = _checkpoint_model(2)
    monkeypatch.setattr(failing, 'save_weights', save_weights_then_fail)
    for epochs in (2, 1):                          # a new checkpoint, then over the old one
        with pytest.raises(OSError, match='No space left'):
            checkpoints.save(failing, run_dir, {'epochs': epochs, 'best_epochs': epochs,
                                                'history': {'loss': [0.9] * epochs}})
        assert sorted(os.listdir(run_dir)) == before
    unserializable = {'epochs': 2, 'history': {'loss': [0.9, 0.8]}, 'best_epochs': 2,
                      'note': object()}        # json.dump writes the keys before it, then fails
    with pytest.raises(TypeError):
        checkpoints.save(_checkpoint_model(3), run_dir, unserializable)
    left = os.listdir(run_dir)
    assert 'epoch0002.json' not in left and set(before) <= set(left)
    assert not [name for name in left if name.startswith('.')]       # no temporary file either

    loaded = _checkpoint_model(4)
    assert not _weights_equal(loaded, saved)
    state = checkpoints.load(loaded, run_dir)
    assert (state['epochs'], state['history'], state['best_epochs']) == (1, {'loss': [0.9]}, 1)
    assert _weights_equal(loaded, saved)


@pytest.mark.slow
def test_a_full_disk_is_a_one_line_error_and_the_run_resumes_after(demo_dir, tmp_path,
                                                                  monkeypatch, capsys):
    """No room for the next checkpoint: exit 2 with one line, no half-written file; the epochs
    already checkpointed stay, and the same command resumes once there is room."""
    import collections
    import shutil

    import hw6_base
    argv = driver_args(demo_dir, tmp_path, '--epochs', '3', '--steps_per_epoch', '2')
    usage = collections.namedtuple('usage', 'total used free')
    real = shutil.disk_usage
    saves = []

    def nearly_full(path):
        saves.append(path)
        return usage(1 << 30, 1 << 30, 10_000 if len(saves) > 1 else real(path).free)
    monkeypatch.setattr(shutil, 'disk_usage', nearly_full)
    assert hw6_base.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no space left for checkpoint' in err[0] and 'resume' in err[0]
    run_dir = tmp_path / 'gru_rot0_run'
    assert sorted(p.name for p in run_dir.iterdir() if p.suffix == '.json') == ['epoch0001.json']
    assert not [p for p in run_dir.iterdir() if p.name.startswith('.')]
    monkeypatch.setattr(shutil, 'disk_usage', real)
    assert hw6_base.main(argv) == 0
    assert 'resuming after epoch 1' in capsys.readouterr().out


def test_a_folder_where_an_artefact_goes_is_refused_before_training(demo_dir, tmp_path, capsys):
    import hw6_base
    (tmp_path / 'gru_rot0.keras').mkdir()
    assert hw6_base.main(driver_args(demo_dir, tmp_path, '--epochs', '1')) == 2
    assert 'gru_rot0.keras: in the way' in capsys.readouterr().err
    assert not (tmp_path / 'gru_rot0_run').exists()


class _RunsCode:
    """Unpickled with the standard loader, this would create a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


def test_a_crafted_results_or_course_pickle_runs_no_code(tmp_path, demo_dir, idle_scheduler):
    """The suite unpickles results (every reader: the driver's done check, --missing, figures)
    and course rotation pickles with a loader that refuses anything but plain values and
    arrays: a pickle that would run a command is reported, never run."""
    import job_control
    import pfam_loader
    marker = tmp_path / 'ran'
    crafted = pickle.dumps({**complete_result(0), 'history': _RunsCode(marker)})
    (tmp_path / 'gru_rot0_results.pkl').write_bytes(crafted)
    result, why = job_control.read_result(str(tmp_path / 'gru_rot0_results.pkl'))
    assert result is None and 'system: this reader only takes' in why, why
    listing = run_cli('job_control.py', '--results_path', str(tmp_path), '--missing',
                      env=idle_scheduler)
    assert listing.stdout.strip() == '0,1,2,3,4'
    course = tmp_path / 'course'
    course.mkdir()
    (course / 'pfam_rotation_0.pkl').write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(pfam_loader.DataError, match='not a readable rotation pickle'):
        pfam_loader.load_rotation(str(course), 0, '')
    assert not marker.exists()


def test_filtered_stderr_drops_native_noise_lines_and_keeps_the_rest(capfd, monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '3')
    with fileio.filtered_stderr(fileio.tensorflow_noise()):
        os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are '
                    b'written to STDERR\nI0000 cudart_stub.cc:31] Could not find cuda drivers\n'
                    b'a real problem\nE0000 cuda_platform.cc:52] failed call to cuInit: 303\n'
                    b'another\n')
    assert capfd.readouterr().err == 'a real problem\nanother\n'
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0')       # a GPU is wanted: its error stays
    monkeypatch.setattr(fileio, 'nvidia_device_present', lambda: True)
    with fileio.filtered_stderr(fileio.tensorflow_noise()):
        os.write(2, b'E0000 cuda_platform.cc:52] failed call to cuInit: 303\n')
    assert 'cuInit' in capfd.readouterr().err
    monkeypatch.setattr(fileio, 'nvidia_device_present', lambda: False)   # none to want
    assert fileio.TENSORFLOW_NO_GPU_NOISE[0] in fileio.tensorflow_noise()
    monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '0')       # everything asked for
    assert fileio.tensorflow_noise() == ()

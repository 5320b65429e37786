"""The SLURM batch scripts (batch_{rnn,gru,mha}.sh, batch_common.sh, submit.sh).

Without SLURM: their #SBATCH lines, the tracked log directory, how they find the repository
(with stand-in `scontrol`/`sbatch` commands), and one tiny local training run.
With a responding SLURM cluster (e.g. one set up by tests/slurm_one_node.sh): real submissions
from a directory other than the repository, each training a tiny dataset for one short epoch.
On a multi-node cluster set PFAM_SLURM_TEST_DIR to a directory that the compute nodes see.
"""
import os
import pickle
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPES = ('rnn', 'gru', 'mha')
SCRIPTS = [f'batch_{t}.sh' for t in TYPES]
#: options that depend on the site: never active in the scripts
SITE_OPTIONS = ('--partition', '-p', '--time', '-t', '--cpus-per-task', '-c', '--mem',
                '--mem-per-cpu', '--gres', '--gpus', '--account', '-A', '--qos')
TINY = ['--epochs', '1', '--steps_per_epoch', '5', '--batch', '16']
WAIT_S = 240


def directives(script, prefix='#SBATCH'):
    """The ``prefix`` lines of ``script`` as {option: value} (value True for flags)."""
    found = {}
    with open(os.path.join(ROOT, script)) as f:
        for line in f:
            if line.startswith(prefix + ' '):
                option = line[len(prefix):].split('#')[0].strip()
                key, _, value = option.partition('=')
                found[key] = value or True
    return found


def clean_env(**extra):
    """The environment of a script run: no SLURM variables of the test's own job, no PFAM_*,
    and TensorFlow's log level unset as in a user's shell (run_tests.sh sets it)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('SLURM_', 'SBATCH_', 'PFAM_'))
           and k not in ('EXP_INDEX', 'TF_CPP_MIN_LOG_LEVEL')}
    env.update(extra)
    return env


def check_result(path, model_type, rotation, results, dataset):
    with open(path, 'rb') as f:
        result = pickle.load(f)
    assert result['name'] == f'{model_type}_rot{rotation}'
    assert (result['model_type'], result['rotation'], result['n_epochs']) == (model_type,
                                                                              rotation, 1)
    assert os.path.abspath(os.path.join(ROOT, result['args']['results_path'])) == results
    assert result['args']['dataset'] == dataset
    assert result['predict_test'].shape == (len(result['outs_test']), len(result['class_names']))
    assert 0.0 <= result['test_accuracy'] <= 1.0
    return result


# --------------------------------------------------------------------------- without SLURM

def test_sbatch_lines(script='batch_gru.sh'):
    """One script stands for the three: they differ only in the model type (checked below)."""
    active = directives(script)
    assert not set(active) & set(SITE_OPTIONS), 'site-specific #SBATCH lines must stay ##SBATCH'
    assert active['--array'] == '0-4'
    assert active['--open-mode'] == 'append'
    assert active['--requeue'] is True
    assert active['--signal'] == 'B:TERM@120'
    assert active['--job-name'] == f'pfam_{script[6:9]}'
    for stream in ('--output', '--error'):
        assert active[stream].startswith('results/logs/%x_%A_%a.')
    commented = directives(script, '##SBATCH')
    assert {'--partition', '--account', '--cpus-per-task', '--mem', '--time',
            '--gres'} <= set(commented)
    # sbatch reads #SBATCH lines only up to the first command
    with open(os.path.join(ROOT, script)) as f:
        lines = [line for line in f if line.strip()]
    first_command = next(i for i, line in enumerate(lines) if not line.startswith('#'))
    assert not any(line.startswith('#SBATCH') for line in lines[first_command:])
    assert subprocess.run(['bash', '-n', os.path.join(ROOT, script)]).returncode == 0


def test_scripts_differ_only_in_type():
    texts = {}
    for t in TYPES:
        with open(os.path.join(ROOT, f'batch_{t}.sh')) as f:
            lines = f.read().splitlines()
        texts[t] = [line.replace(t, 'TYPE') for line in lines[2:]]       # after the title
    assert texts['rnn'] == texts['gru'] == texts['mha']


def test_log_dir_tracked():
    if not os.path.isdir(os.path.join(ROOT, '.git')) or not shutil.which('git'):
        pytest.skip('not a git checkout')
    git = ['git', '-C', ROOT]
    tracked = subprocess.run(git + ['ls-files', 'results/logs/.gitkeep'], capture_output=True,
                             text=True).stdout.split()
    assert tracked == ['results/logs/.gitkeep']
    ignored = subprocess.run(git + ['check-ignore', '-q', 'results/logs/.gitkeep'])
    assert ignored.returncode == 1                                        # 1: not ignored
    ignored = subprocess.run(git + ['check-ignore', '-q', 'results/logs/pfam_gru_1_0.out'])
    assert ignored.returncode == 0


def test_repository_not_found(tmp_path):
    run = subprocess.run(['bash', os.path.join(ROOT, 'batch_gru.sh')], cwd=tmp_path,
                         env=clean_env(PFAM_HOME=str(tmp_path)), capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"batch_gru.sh: error: no batch_common.sh in {tmp_path}: set "
        "PFAM_HOME=/path/to/the/repository"]


def fake_command(directory, name, text):
    path = directory / name
    path.write_text('#!/bin/bash\n' + text)
    path.chmod(0o755)


@pytest.mark.parametrize('how', ['command', 'relative_command', 'submit_dir'])
@pytest.mark.slow
def test_repository_found_under_slurm(tmp_path, how):
    """As under sbatch: the script runs as a copy in a spool directory; the repository comes
    from scontrol's Command= (absolute, or relative to the submit directory, with arguments), or
    from SLURM_SUBMIT_DIR."""
    spool, bin_dir, elsewhere = tmp_path / 'spool', tmp_path / 'bin', tmp_path / 'elsewhere'
    for directory in (spool, bin_dir, elsewhere):
        directory.mkdir()
    shutil.copy(os.path.join(ROOT, 'batch_mha.sh'), spool / 'slurm_script')
    command = {'command': f'{ROOT}/batch_mha.sh --nogo --label x',
               'relative_command': f'{os.path.relpath(ROOT, elsewhere)}/batch_mha.sh --nogo',
               'submit_dir': 'batch_mha.sh'}[how]
    fake_command(bin_dir, 'scontrol',
                 f'echo "JobId=7 JobName=pfam_mha"\necho "   Command={command}"\n')
    submit_dir = ROOT if how == 'submit_dir' else str(elsewhere)
    if how == 'submit_dir':                        # the submitted script is not in the repository
        fake_command(bin_dir, 'scontrol', 'echo "   Command=/nowhere/batch_mha.sh"\n')
    env = clean_env(PATH=f'{bin_dir}:{os.environ["PATH"]}', SLURM_JOB_ID='7',
                    SLURM_ARRAY_JOB_ID='6', SLURM_ARRAY_TASK_ID='3', SLURM_SUBMIT_DIR=submit_dir,
                    PFAM_RESULTS=str(tmp_path / 'res'))
    run = subprocess.run(['bash', str(spool / 'slurm_script'), '--nogo'], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f'mha_rot3: would write {tmp_path}/res/mha_rot3_results.pkl' in run.stdout
    assert 'task 6_3 (job 7, restart 0, CPU): args_mha.txt' in run.stdout


@pytest.mark.slow
def test_results_path_default(tmp_path):
    """Without PFAM_RESULTS the tasks write to results/cluster, not to the args files'
    results/pfam46 (which holds the committed results, so every task would skip)."""
    run = subprocess.run(['bash', os.path.join(ROOT, 'batch_rnn.sh'), '--nogo'], cwd=tmp_path,
                         env=clean_env(EXP_INDEX='4'), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert 'rnn_rot4: would write results/cluster/rnn_rot4_results.pkl' in run.stdout
    assert 'args_rnn.txt --nogo -> results/cluster' in run.stdout     # what the task runs


def test_submit_wrapper(tmp_path):
    """submit.sh: sbatch from the repository (--chdir), logs in an existing absolute directory,
    sbatch options before --, hw6_base.py arguments after it."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake_command(bin_dir, 'sbatch', 'echo "PFAM_HOME=$PFAM_HOME"; printf "%s\\n" "$@"\n')
    logs = tmp_path / 'new' / 'logs'
    run = subprocess.run([os.path.join(ROOT, 'submit.sh'), 'gru', '--array=1,3', '-p', 'x', '--',
                          '--epochs', '2'], cwd=tmp_path, capture_output=True, text=True,
                         env=clean_env(PATH=f'{bin_dir}:{os.environ["PATH"]}',
                                       PFAM_LOGS=str(logs)))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        f'PFAM_HOME={ROOT}', f'--chdir={ROOT}', f'--output={logs}/%x_%A_%a.out',
        f'--error={logs}/%x_%A_%a.err', '--array=1,3', '-p', 'x', f'{ROOT}/batch_gru.sh',
        '--epochs', '2']
    assert logs.is_dir()
    run = subprocess.run([os.path.join(ROOT, 'submit.sh'), 'lstm'], capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stderr.startswith('usage: submit.sh')


@pytest.mark.slow
def test_local_run(tmp_path, demo_dir):
    """`EXP_INDEX=0 bash batch_gru.sh ...` outside SLURM, from another directory: one tiny
    epoch, the result in PFAM_RESULTS, no cuInit noise on this CPU machine."""
    results = str(tmp_path / 'res')
    run = subprocess.run(['bash', os.path.join(ROOT, 'batch_gru.sh'), '--dataset', demo_dir,
                          '--version', 'T'] + TINY, cwd=tmp_path, capture_output=True, text=True,
                         env=clean_env(EXP_INDEX='0', PFAM_RESULTS=results), timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'task local_0 (job none, restart 0, CPU): args_gru.txt' in run.stdout
    check_result(os.path.join(results, 'gru_rot0_results.pkl'), 'gru', 0, results, demo_dir)
    assert 'cuInit' not in run.stderr


# --------------------------------------------------------------------------- with SLURM

def _ask_sinfo():
    """``sinfo`` listing the node states, started in the background (a Popen), or None without
    sbatch/sinfo: with no controller it waits seconds to give up, which overlap other tests."""
    if not shutil.which('sbatch') or not shutil.which('sinfo'):
        return None
    try:
        return subprocess.Popen(['sinfo', '-h', '-N', '-o', '%T'], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    except OSError:
        return None


#: started when pytest imports this module (collection, before any test runs)
_SINFO = _ask_sinfo()


def slurm_ready(sinfo=_SINFO):
    """None when sbatch exists and ``sinfo`` (`_ask_sinfo`) shows a responding node, else why
    not."""
    if sinfo is None:
        return 'no sbatch/sinfo'
    try:
        states = sinfo.communicate(timeout=30)[0].split()
    except subprocess.TimeoutExpired as err:
        sinfo.kill()
        sinfo.communicate()
        return f'sinfo failed: {err}'
    usable = ('idle', 'mixed', 'allocated', 'completing')
    if not any(state in usable for state in states):    # not responding: a '*' suffix
        return f'no responding SLURM node (sinfo: {" ".join(states) or "nothing"})'
    return None


@pytest.fixture(scope='package')   # the tests folder: the whole run
def needs_slurm():
    """Skips the test unless a SLURM node responds (asked once, by `_SINFO`, which started at
    collection: sinfo with no controller takes seconds to give up)."""
    missing = slurm_ready()
    if missing:
        pytest.skip(missing)


def job_state(job_id):
    """(state, exit code) of a finished job: scontrol while the controller remembers it, else
    sacct; None while it is still queued or running."""
    queued = subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T'], capture_output=True,
                            text=True)
    if queued.returncode == 0 and queued.stdout.strip():
        return None
    shown = subprocess.run(['scontrol', '-o', 'show', 'job', job_id], capture_output=True,
                           text=True).stdout
    state = re.search(r'JobState=(\S+)', shown)
    code = re.search(r' ExitCode=(\S+)', shown)
    if state and code:
        return state.group(1), code.group(1)
    accounted = subprocess.run(['sacct', '-n', '-X', '-P', '-j', job_id, '-o', 'State,ExitCode'],
                               capture_output=True, text=True).stdout.split()
    return tuple(accounted[0].split('|')) if accounted else ('UNKNOWN', '?')


@pytest.fixture
def slurm_dir(tmp_path):
    base = os.environ.get('PFAM_SLURM_TEST_DIR')
    if not base:
        yield tmp_path
        return
    path = os.path.join(base, f'test_slurm_{os.getpid()}_{time.time_ns()}')
    os.makedirs(path)
    yield type(tmp_path)(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.usefixtures('needs_slurm')
def test_sbatch_test_only():
    """The scripts' defaults are accepted as they are (no made-up partition, no limits)."""
    for script in SCRIPTS:
        run = subprocess.run(['sbatch', '--test-only', os.path.join(ROOT, script)],
                             capture_output=True, text=True, env=clean_env(), timeout=60)
        assert run.returncode == 0, run.stderr
        assert 'to start at' in run.stderr


@pytest.mark.usefixtures('needs_slurm')
@pytest.mark.slow
def test_real_submissions(slurm_dir):
    """Three ways of submitting from outside the repository, as the README gives them: submit.sh
    (logs in PFAM_LOGS), plain sbatch of the script's full path (repository from Command=, logs
    in the submit directory's results/logs), sbatch --chdir (logs in the repository's
    results/logs, the tracked directory)."""
    sys.path.insert(0, ROOT)
    import pfam_build
    data = str(slurm_dir / 'data')
    pfam_build.build_demo(data, version='T', n_families=6, seed=1)
    results, logs, here = (str(slurm_dir / name) for name in ('res', 'logs', 'here'))
    os.makedirs(os.path.join(here, 'results', 'logs'))
    env = clean_env(PFAM_RESULTS=results, PFAM_LOGS=logs)
    driver = ['--dataset', data, '--version', 'T'] + TINY
    submissions = {
        'gru': ([os.path.join(ROOT, 'submit.sh'), 'gru', '--parsable', '--array=0', '--'], logs),
        'mha': (['sbatch', '--parsable', '--array=1', os.path.join(ROOT, 'batch_mha.sh')],
                os.path.join(here, 'results', 'logs')),
        'rnn': (['sbatch', '--parsable', '--array=2', f'--chdir={ROOT}',
                 os.path.join(ROOT, 'batch_rnn.sh')], os.path.join(ROOT, 'results', 'logs')),
    }
    jobs = {}
    try:
        for model_type, (command, _) in submissions.items():
            run = subprocess.run(command + driver, cwd=here, env=env, capture_output=True,
                                 text=True, timeout=60)
            assert run.returncode == 0, run.stderr
            jobs[model_type] = run.stdout.strip().split(';')[0]
        deadline = time.time() + WAIT_S
        states = {}
        while len(states) < len(jobs) and time.time() < deadline:
            for model_type, job in jobs.items():
                if model_type not in states:
                    state = job_state(job)
                    if state is not None:
                        states[model_type] = state
            time.sleep(3)
        assert len(states) == len(jobs), f'not finished within {WAIT_S} s: {jobs}, {states}'
        for rotation, (model_type, job) in enumerate(jobs.items()):
            log_dir = submissions[model_type][1]
            out = os.path.join(log_dir, f'pfam_{model_type}_{job}_{rotation}.out')
            err = os.path.join(log_dir, f'pfam_{model_type}_{job}_{rotation}.err')
            with open(out) as f:
                text = f.read()
            with open(err) as f:
                errors = f.read()
            assert states[model_type] == ('COMPLETED', '0:0'), (states[model_type], text, errors)
            assert f'task {job}_{rotation} (job ' in text
            assert f'{model_type}_rot{rotation}: test accuracy' in text
            assert 'cuInit' not in errors
            check_result(os.path.join(results, f'{model_type}_rot{rotation}_results.pkl'),
                         model_type, rotation, results, data)
    finally:
        for job in jobs.values():
            subprocess.run(['scancel', job], capture_output=True)
        if 'rnn' in jobs:                   # the one log written into the repository
            for suffix in ('out', 'err'):
                path = os.path.join(ROOT, 'results', 'logs', f'pfam_rnn_{jobs["rnn"]}_2.{suffix}')
                if os.path.exists(path):
                    os.remove(path)

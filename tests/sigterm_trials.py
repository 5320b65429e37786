"""SIGTERM trials on a real SLURM: does one SIGTERM end a running training at once?

N single-task jobs of a tiny training, each submitted as a user submits it (``sbatch
batch_gru.sh``, which execs ``python hw6_base.py``, so the training is the batch shell), and each
sent one SIGTERM at a random moment, the methods alternating:

* ``scancel``: ``scancel --batch --signal=TERM JOB`` from here, 0-100 s after the job started;
* ``B:TERM@N``: submitted with ``--time=3 --signal=B:TERM@N``, N random in 75-175, so SLURM
  signals the batch shell N s before the 3-minute time limit (or up to a minute earlier: SLURM
  checks its time limits periodically), i.e. about 5-105 s after the start.

Per trial it prints the method, the delay (signal - process start), the seconds from the signal
to the end of the process (``end_s``) and to the driver's "interrupted" line (``message_s``; "?"
when the process had ended before the poll saw the line), the job's state and exit code
(``143:0`` = interrupted), whether the run lock ``{name}.lock`` is free afterwards (and
removed), and the epochs kept in ``{name}_run/``; then the slowest time, a resume check (the
same command run again here reports "resuming after epoch K" for the trial that kept the most
epochs) and a last line ``K/N ended within 15 s``.

The signal's moment: for scancel, this script's clock just before it calls scancel; for the
time limit's signal, slurmctld's log line ``job_signal: 15 of running JobId=...`` (logged at
the level 'verbose', which this script sets with ``scontrol setdebug`` for its run). The end: the
process (found by the trial's results folder in its command line) gone from /proc, polled every
20 ms. So it runs on the node itself, as root (a one-node cluster: tests/slurm_one_node.sh),
and takes about 1.5 minutes a trial. Not a pytest test (no ``test_`` prefix): run it by hand,

    python tests/sigterm_trials.py 50 | tee results/sigterm_trials.txt
"""
import argparse
import datetime
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import job_control  # noqa: E402
import pfam_build  # noqa: E402

NAME = 'gru_rot0'
LIMIT_S = 15
TRAINING = ['--preset', 'tiny', '--version', 'T', '--epochs', '100000', '--steps_per_epoch', '5',
            '--patience', '0']


def clean_env(**extra):
    """The submitting shell's environment without the variables of a surrounding job."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('SLURM_', 'SBATCH_', 'PFAM_')) and k != 'EXP_INDEX'}
    env.update(extra)
    return env


def job_state(job):
    """(JobState, ExitCode) of a job once it has ended, else None."""
    shown = subprocess.run(['scontrol', '-o', 'show', 'job', job], capture_output=True,
                           text=True).stdout
    state = re.search(r'JobState=(\S+)', shown)
    code = re.search(r' ExitCode=(\S+)', shown)
    if not state or state.group(1) in ('PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING',
                                       'SUSPENDED'):
        return None
    return state.group(1), code.group(1) if code else '?'


def find_process(token, timeout):
    """The pid of the process whose command line holds ``token`` (None after ``timeout``)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = subprocess.run(['pgrep', '-f', '--', token], capture_output=True,
                               text=True).stdout.split()
        if found:
            return int(found[0])
        time.sleep(0.02)
    return None


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def start_time(pid):
    """The process's start on this script's clock (from /proc: boot time + start ticks)."""
    with open(f'/proc/{pid}/stat') as f:
        ticks = int(f.read().rsplit(')', 1)[1].split()[19])
    with open('/proc/stat') as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith('btime'))
    return boot + ticks / os.sysconf('SC_CLK_TCK')


def logged_signal(log, job, since):
    """The time of slurmctld's 'job_signal: 15 of running JobId=...' line of ``job``."""
    pattern = re.compile(r'^\[(\S+)\] job_signal: 15 of running JobId=(\S+) successful')
    try:
        with open(log) as f:
            for line in f:
                match = pattern.match(line)
                if not match:
                    continue
                ids = match.group(2)
                if ids == job or ids.startswith(f'{job}_') or ids.endswith(f'({job})'):
                    when = datetime.datetime.fromisoformat(match.group(1)).timestamp()
                    if when >= since - 1:
                        return when
    except OSError:
        pass
    return None


def epochs_kept(results):
    try:
        with open(os.path.join(results, f'{NAME}_run', f'{NAME}_log.csv')) as f:
            return max(len(f.read().splitlines()) - 1, 0)
    except OSError:
        return 0


def trial(number, method, base, data, log):
    results = os.path.join(base, f'trial{number:03d}')
    os.makedirs(results)
    out, err = os.path.join(results, 'job.out'), os.path.join(results, 'job.err')
    options = ['--parsable', '--job-name=sigterm_trial', '--array=0', f'--chdir={ROOT}',
               f'--output={out}', f'--error={err}']
    if method == 'scancel':
        delay = random.uniform(0, 100)
        options += ['--time=30']
    else:
        warn = random.randint(75, 175)
        options += ['--time=3', f'--signal=B:TERM@{warn}']
    submitted = subprocess.run(['sbatch', *options, os.path.join(ROOT, 'batch_gru.sh'),
                                '--dataset', data, *TRAINING],
                               env=clean_env(PFAM_RESULTS=results), capture_output=True,
                               text=True, timeout=60)
    if submitted.returncode:
        raise RuntimeError(f'sbatch failed: {submitted.stderr.strip()}')
    job = submitted.stdout.strip().split(';')[0]
    try:
        pid = find_process(results, timeout=900)           # queued behind other jobs: wait
        if pid is None:
            raise RuntimeError(f'job {job}: no training process within 900 s')
        started = start_time(pid)
        message = None
        if method == 'scancel':
            time.sleep(max(0.0, started + delay - time.time()))
            sent = time.time()
            subprocess.run(['scancel', '--batch', '--signal=TERM', job], check=True)
        while alive(pid) and time.time() - started < 400:
            if message is None and os.path.exists(err) and 'interrupted' in open(err).read():
                message = time.time()
            time.sleep(0.02)
        ended = time.time()
        if alive(pid):
            subprocess.run(['scancel', '--signal=KILL', job])
            raise RuntimeError(f'job {job}: still running {ended - started:.0f} s after start')
        if method != 'scancel':
            for _ in range(50):                             # slurmctld writes its log lines
                sent = logged_signal(log, job, started)
                if sent is not None:
                    break
                time.sleep(0.1)
            else:
                sent = None
        state = None
        for _ in range(300):
            state = job_state(job)
            if state:
                break
            time.sleep(0.2)
    finally:
        subprocess.run(['scancel', job], capture_output=True)
    lock = os.path.join(results, f'{NAME}.lock')
    return {'job': job, 'method': method if method == 'scancel' else f'B:TERM@{warn}',
            'delay': None if sent is None else sent - started,
            'took': None if sent is None else ended - sent,
            'message': None if message is None or sent is None else message - sent,
            'state': state, 'lock_free': not job_control.lock_is_held(lock),
            'lock_removed': not os.path.exists(lock), 'epochs': epochs_kept(results),
            'results': results}


def resume_check(base, data, best):
    """Run the trial's command again here (outside SLURM) until it says it resumes (at most
    180 s), then SIGTERM it: (its resume line or None, its exit status)."""
    output = os.path.join(base, 'resume.out')
    with open(output, 'w') as out:
        run = subprocess.Popen(['bash', os.path.join(ROOT, 'batch_gru.sh'), '--dataset', data,
                                *TRAINING], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                               env=clean_env(PFAM_RESULTS=best['results'], EXP_INDEX='0'))
    said, deadline = None, time.time() + 180
    try:
        while said is None and run.poll() is None and time.time() < deadline:
            time.sleep(0.2)
            said = next((line.strip() for line in open(output)
                         if 'resuming after epoch' in line), None)
    finally:
        run.terminate()                                 # python: batch_common.sh execs it
        status = run.wait(timeout=60)
    return said, status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('trials', type=int, nargs='?', default=50)
    parser.add_argument('--seed', type=int, default=None, help='for the random moments')
    parser.add_argument('--slurmctld-log', default='/var/log/slurm/slurmctld.log')
    parser.add_argument('--keep', action='store_true', help='keep the trial folders')
    args = parser.parse_args()
    if not shutil.which('sbatch'):
        sys.exit('sigterm_trials.py: no sbatch (start a cluster: bash tests/slurm_one_node.sh)')
    random.seed(args.seed)
    head = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
                          capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(['git', '-C', ROOT, 'status', '--short', '--', 'hw6_base.py',
                              'fileio.py', 'batch_common.sh', 'batch_gru.sh'],
                             capture_output=True, text=True).stdout.split('\n')
    changed = [line[3:] for line in changed if line.strip()]
    print(f'{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {socket.gethostname()} {head}'
          + (f' (uncommitted changes to {", ".join(changed)})' if changed else ''))
    print(f'command: python tests/sigterm_trials.py {" ".join(sys.argv[1:])}'.rstrip())
    print(f'{args.trials} jobs of `sbatch batch_gru.sh --dataset DEMO {" ".join(TRAINING)}` '
          f'(6-family demo data), one at a time, one SIGTERM each', flush=True)
    # slurmctld logs its signals ('job_signal: ...') at the level 'verbose' or above
    shown = subprocess.run(['scontrol', 'show', 'config'], capture_output=True,
                           text=True).stdout
    level = (re.search(r'^SlurmctldDebug\s*=\s*(\S+)', shown, re.M) or [None, 'info'])[1]
    if level in ('quiet', 'fatal', 'error', 'info'):
        subprocess.run(['scontrol', 'setdebug', 'verbose'], check=True)
    base = tempfile.mkdtemp(prefix='sigterm_trials_')
    data = os.path.join(base, 'data')
    pfam_build.build_demo(data, version='T', n_families=6, seed=1)
    print(f'{"trial":>5} {"job":>6} {"method":<12} {"delay_s":>7} {"end_s":>6} '
          f'{"message_s":>9} {"state":<10} {"exit":<6} {"lock":<16} {"epochs":>6}', flush=True)
    done = []
    try:
        for number in range(1, args.trials + 1):
            method = 'scancel' if number % 2 else 'time_limit'
            row = trial(number, method, base, data, args.slurmctld_log)
            done.append(row)

            def seconds(value):
                return '?' if value is None else f'{value:.2f}'
            state, code = row['state'] or ('?', '?')
            lock = ('released' if row['lock_free'] else 'HELD') + (
                ', removed' if row['lock_removed'] else ', file left')
            print(f'{number:>5} {row["job"]:>6} {row["method"]:<12} {seconds(row["delay"]):>7} '
                  f'{seconds(row["took"]):>6} {seconds(row["message"]):>9} {state:<10} '
                  f'{code:<6} {lock:<16} {row["epochs"]:>6}', flush=True)
    finally:
        ok = [row for row in done if row['took'] is not None and row['took'] < LIMIT_S]
        if done:
            slowest = max(done, key=lambda row: row['took'] if row['took'] is not None
                          else float('inf'))
            codes = {}
            for row in done:
                code = (row['state'] or ('?', '?'))[1]
                codes[code] = codes.get(code, 0) + 1
            print(f'slowest: trial {done.index(slowest) + 1}, '
                  f'{slowest["took"] if slowest["took"] is not None else float("nan"):.2f} s '
                  f'from the signal to the end; exit codes: '
                  + ', '.join(f'{code} x{count}' for code, count in sorted(codes.items()))
                  + f'; locks released: {sum(row["lock_free"] for row in done)}/{len(done)}, '
                  f'removed: {sum(row["lock_removed"] for row in done)}/{len(done)}')
            best = max(done, key=lambda row: row['epochs'])
            if best['epochs']:
                said, status = resume_check(base, data, best)
                print(f'resume check (trial {done.index(best) + 1}, {best["epochs"]} epochs '
                      f'kept, the same command run again here, then SIGTERM\'d: status '
                      f'{status}): {said or "NO resume line"}')
        print(f'{len(ok)}/{len(done)} ended within {LIMIT_S} s', flush=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        if level in ('quiet', 'fatal', 'error', 'info'):
            subprocess.run(['scontrol', 'setdebug', level])


if __name__ == '__main__':
    main()

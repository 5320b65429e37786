#!/bin/bash
# Submit batch_{rnn,gru,mha}.sh from any directory:
#   /path/to/repo/submit.sh {rnn|gru|mha} [sbatch options] [-- hw6_base.py arguments]
#   e.g.  ./submit.sh gru -p gpu --gres=gpu:1 --time=01:00:00
#         idx=$(python job_control.py @args_gru.txt --exp_type rotations --results_path results/cluster --missing) && ./submit.sh gru --array=$idx
# Runs sbatch with --chdir=<repo> and PFAM_HOME=<repo>, and logs into $PFAM_LOGS (default
# <repo>/results/logs), which it creates first: SLURM opens the log files before the job starts,
# relative to the job's directory, and fails the job (JobLaunchFailure, exit 0:53, no log) when
# their directory is missing. PFAM_RESULTS (relative to the repository) is passed on.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
type="${1:-}"
case "$type" in
    rnn|gru|mha) shift ;;
    *) echo "usage: submit.sh {rnn|gru|mha} [sbatch options] [-- hw6_base.py arguments]" >&2
       exit 2 ;;
esac
options=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
if [ $# -gt 0 ]; then shift; fi                                   # the --
logs="${PFAM_LOGS:-$repo/results/logs}"
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
export PFAM_HOME="$repo"
exec sbatch --chdir="$repo" --output="$logs/%x_%A_%a.out" --error="$logs/%x_%A_%a.err" \
     ${options[@]+"${options[@]}"} "$repo/batch_$type.sh" "$@"

#!/bin/bash
# Shared body of batch_{rnn,gru,mha}.sh: one rotation of one model type per array task.
#   $1: the args file; further arguments go to hw6_base.py (e.g. --epochs 3).
# Environment: activate your Python environment before sbatch (SLURM passes it on), or set
# PFAM_ACTIVATE to a command, e.g. PFAM_ACTIVATE="source ~/venvs/pfam/bin/activate".
set -euo pipefail
# SLURM runs a copy of the script; SLURM_SUBMIT_DIR is where sbatch was called (the repository).
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")}"
mkdir -p results/logs
if [ -n "${PFAM_ACTIVATE:-}" ]; then eval "$PFAM_ACTIVATE"; fi
args_file="$1"; shift
index="${SLURM_ARRAY_TASK_ID:-${EXP_INDEX:-0}}"
echo "$(date '+%F %T') host $(hostname) task ${SLURM_ARRAY_JOB_ID:-local}_${index}: $args_file"
# exec: SLURM's TERM (preemption, --signal, scancel) reaches python, which exits 143 after its last
# finished epoch is backed up; a requeued or rerun task resumes from there.
exec python -u hw6_base.py "@$args_file" --exp_type rotations --exp_index "$index" "$@"

#!/bin/bash
# Shared body of batch_{rnn,gru,mha}.sh: one rotation of one model type per array task.
#   $1: the args file; further arguments go to hw6_base.py (e.g. --epochs 3); they come last, so
#   they override the args file and the defaults below.
# Environment (sbatch passes the submitting shell's environment on):
#   PFAM_HOME      the repository. batch_{rnn,gru,mha}.sh look for batch_common.sh in $PFAM_HOME
#                  when set, else (SLURM runs a copy of them from its spool directory, so $0 does
#                  not lead to the repository) in their own folder, in the folder of the script
#                  that sbatch was given (scontrol's Command=, relative to the submit directory
#                  when relative) and in the submit directory (SLURM_SUBMIT_DIR)
#   PFAM_RESULTS   results directory, relative to the repository (default results/cluster: the
#                  args files' results/pfam46 holds the committed reference results, so every
#                  task would find its result there and skip)
#   PFAM_ACTIVATE  a command that activates the Python environment, e.g.
#                  PFAM_ACTIVATE="source ~/venvs/pfam/bin/activate" (else activate before sbatch)
#   EXP_INDEX      the rotation outside SLURM (inside: SLURM_ARRAY_TASK_ID)
set -euo pipefail
PFAM_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PFAM_HOME
cd "$PFAM_HOME"
if [ -n "${PFAM_ACTIVATE:-}" ]; then eval "$PFAM_ACTIVATE"; fi
args_file="$1"; shift
index="${SLURM_ARRAY_TASK_ID:-${EXP_INDEX:-0}}"
results="${PFAM_RESULTS:-results/cluster}"
threads=()
# Without --cpus-per-task TensorFlow would size its thread pools by the whole node: use what
# SLURM allocated (hw6_base.py reads SLURM_CPUS_PER_TASK itself when it is set).
if [ -z "${SLURM_CPUS_PER_TASK:-}" ] && [ -n "${SLURM_CPUS_ON_NODE:-}" ]; then
    threads=(--cpus_per_task "$SLURM_CPUS_ON_NODE")
fi
# No GPU for this job (none allocated by SLURM, no NVIDIA device, or CUDA_VISIBLE_DEVICES set to
# none): hide the GPUs, and raise TensorFlow's C++ log level to 3 (errors too) unless set, since
# a CUDA-enabled TensorFlow logs "failed call to cuInit: ... UNKNOWN ERROR (303)" on every CPU
# node (harmless; level 2 does not hide it). TF_CPP_MIN_LOG_LEVEL=0 shows everything again.
if [ "${CUDA_VISIBLE_DEVICES-unset}" = "" ] || [ "${CUDA_VISIBLE_DEVICES-unset}" = -1 ] || {
        [ -z "${CUDA_VISIBLE_DEVICES+x}${SLURM_JOB_GPUS:-}${SLURM_STEP_GPUS:-}" ] &&
        ! compgen -G '/dev/nvidia[0-9]*' >/dev/null && ! nvidia-smi -L >/dev/null 2>&1; }; then
    export CUDA_VISIBLE_DEVICES="" TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
    device=CPU
else
    device="GPU ${CUDA_VISIBLE_DEVICES:-(all visible)}"
fi
echo "$(date '+%F %T') host $(hostname) task ${SLURM_ARRAY_JOB_ID:-local}_${index}" \
     "(job ${SLURM_JOB_ID:-none}, restart ${SLURM_RESTART_COUNT:-0}, $device):" \
     "$args_file${*:+ $*} -> $results"
# exec: python becomes the batch shell, so SLURM's TERM to the batch shell (--signal=B:TERM@120,
# scancel --batch/--full --signal=TERM, preemption, requeue) reaches it; it exits 143 after
# backing up its last finished epoch, and a requeued or rerun task resumes from there.
exec python -u hw6_base.py "@$args_file" --results_path "$results" \
     --exp_type rotations --exp_index "$index" ${threads[@]+"${threads[@]}"} "$@"

#!/bin/bash
# Multi-Head Attention over the 5 rotations as a SLURM array:  sbatch batch_mha.sh  (repo root)
#   From elsewhere:   /path/to/repo/submit.sh mha [sbatch options] [-- hw6_base.py arguments]
#   Results go to $PFAM_RESULTS (default results/cluster), logs to results/logs/.
#   Rerun only the rotations without a result (none missing: nothing is submitted):
#     idx=$(python job_control.py @args_mha.txt --exp_type rotations --results_path results/cluster --missing) && sbatch --array=$idx batch_mha.sh
# Outside SLURM: bash batch_mha.sh (index from SLURM_ARRAY_TASK_ID, else EXP_INDEX, else 0).
#SBATCH --job-name=pfam_mha
#SBATCH --array=0-4
#SBATCH --output=results/logs/%x_%A_%a.out
#SBATCH --error=results/logs/%x_%A_%a.err
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:TERM@120
# Site-specific resources: none is active, so the cluster's defaults apply. Adapt and enable
# (## -> #) or give them on the command line (sbatch -p gpu --time=04:00:00 batch_mha.sh).
# Assumed below: one rotation of the reference experiment took 10-18 minutes on 2 CPU cores
# (REPORT.md), so 4 CPUs, 8G and 2 hours leave a wide margin; a GPU is used when visible.
# The course-scale configurations need more: docs/course.md ("On a cluster").
##SBATCH --partition=normal
##SBATCH --account=myaccount
##SBATCH --cpus-per-task=4
##SBATCH --mem=8G
##SBATCH --time=02:00:00
##SBATCH --gres=gpu:1
# SLURM runs a copy of this script: find the repository (how: see batch_common.sh).
if [ -n "${PFAM_HOME:-}" ]; then homes=("$PFAM_HOME"); else given=$(scontrol show job "${SLURM_JOB_ID:-none}" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p')
    homes=("$(dirname "$0")" "$(cd "${SLURM_SUBMIT_DIR:-.}" && cd "$(dirname "${given:-.}")" 2>/dev/null && pwd)" "${SLURM_SUBMIT_DIR:-.}"); fi
for home in "${homes[@]}"; do [ -f "$home/batch_common.sh" ] && exec bash "$home/batch_common.sh" args_mha.txt "$@"; done
echo "batch_mha.sh: error: no batch_common.sh in ${homes[*]}: set PFAM_HOME=/path/to/the/repository" >&2; exit 2

#!/bin/bash
# Multi-Head Attention over the 5 rotations as a SLURM array: sbatch batch_mha.sh
# Rerun only failed/missing rotations:
#   sbatch --array=$(python job_control.py @args_mha.txt --exp_type rotations --missing) batch_mha.sh
# Outside SLURM: bash batch_mha.sh (index from SLURM_ARRAY_TASK_ID, else EXP_INDEX, else 0).
#SBATCH --job-name=pfam_mha
#SBATCH --partition=normal
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --array=0-4
#SBATCH --output=results/logs/%x_%A_%a.out
#SBATCH --error=results/logs/%x_%A_%a.err
#SBATCH --requeue
#SBATCH --signal=B:TERM@120
# GPU node instead: add  #SBATCH --gres=gpu:1  (the driver uses a GPU when it sees one)
exec bash "${SLURM_SUBMIT_DIR:-$(dirname "$0")}/batch_common.sh" args_mha.txt "$@"

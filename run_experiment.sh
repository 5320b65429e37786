#!/usr/bin/env bash
# The whole experiment in one command: set up the environment when needed, build the 46-family
# benchmark from data/pfam46/ when it is missing, train SimpleRNN, GRU and MHA over the 5
# rotations as parallel local processes (hw6_base.py), then write Figures 0-4 and the accuracy
# table (figures.py). Run ./run_experiment.sh -h for the options.
set -euo pipefail
cd "$(dirname "$0")"
if (( BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1) )); then
    echo "run_experiment: error: needs bash 5.1 or later (this is $BASH_VERSION)" >&2; exit 2
fi

#: the short schedule of --demo: the reference models, a few batches per epoch
DEMO_ARGS=(--epochs 3 --steps_per_epoch 20)
TYPES=(rnn gru mha)                      # the presets of the reference experiment (settings.py)
ROTATIONS=(0 1 2 3 4)
INPUT=data/pfam46/pfam46_seed.csv.gz     # the benchmark's records, in the repository

usage() {
    cat <<'EOF'
Usage: ./run_experiment.sh [--demo] [--results_path DIR] [--jobs N] [--rotations "R ..."]
                           [--dataset DIR] [-- ARGS...]

Trains the three model types (presets rnn, gru, mha) on the 5 rotations of the 46-family
benchmark, 15 runs of hw6_base.py, then writes Figures 0-4 and test_accuracy.md into
DIR/figures with figures.py. Without --demo it is the reference experiment, plus the 3-mer SVM
baseline (svm_baseline.py) for the table.

  --demo              the same 15 runs on a short schedule (--epochs 3 --steps_per_epoch 20):
                      every step and every figure, at a low accuracy; no SVM baseline
  --results_path DIR  results, models, logs and figures (default: runs/experiment, with
                      --demo runs/demo); DIR/stdout/ holds each run's output (appended
                      to by reruns)
  --jobs N            runs at a time (default: the number of CPU cores, or 1 when a GPU is
                      visible); with more than one, each run gets cores/N threads
                      (hw6_base.py --cpus_per_task)
  --rotations "R ..." the rotations to train (default: "0 1 2 3 4")
  --dataset DIR       the benchmark dataset, built from data/pfam46/ when missing
                      (default: data/pfam)
  -h, --help          this text
  -- ARGS             more hw6_base.py arguments for every run; they win over the preset and
                      --demo, e.g. -- --epochs 1 --steps_per_epoch 2

Rerunning the same command skips finished runs and resumes interrupted ones. ./setup.sh runs
first when a package of requirements.txt it checks for is not installed.
EOF
}

say() { echo "run_experiment: $*"; }
die() { echo "run_experiment: error: $*" >&2; exit 2; }

demo=0 results="" dataset=data/pfam jobs="" extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --demo) demo=1 ;;
        --results_path) [ $# -ge 2 ] || die "--results_path needs a directory"; results=$2; shift ;;
        --results_path=*) results=${1#*=} ;;
        --dataset) [ $# -ge 2 ] || die "--dataset needs a directory"; dataset=$2; shift ;;
        --dataset=*) dataset=${1#*=} ;;
        --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift ;;
        --jobs=*) jobs=${1#*=} ;;
        --rotations) [ $# -ge 2 ] || die "--rotations needs a list"; read -ra ROTATIONS <<< "$2"; shift ;;
        --rotations=*) read -ra ROTATIONS <<< "${1#*=}" ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown argument '$1' (./run_experiment.sh -h lists the options)" ;;
    esac
    shift
done
[ -n "$results" ] || { [ "$demo" = 1 ] && results=runs/demo || results=runs/experiment; }
[ ${#ROTATIONS[@]} -gt 0 ] || die "--rotations needs at least one rotation"
for rotation in "${ROTATIONS[@]}"; do
    [[ "$rotation" =~ ^[0-4]$ ]] || die "a rotation is 0..4, got '$rotation'"
done
# A GPU (an NVIDIA device, or CUDA_VISIBLE_DEVICES naming one): the runs take turns on it.
# None: hide CUDA from TensorFlow, whose CUDA build otherwise logs a harmless cuInit error.
if [ "${CUDA_VISIBLE_DEVICES-unset}" != "" ] && [ "${CUDA_VISIBLE_DEVICES-unset}" != -1 ] && {
        [ -n "${CUDA_VISIBLE_DEVICES:-}" ] || compgen -G '/dev/nvidia[0-9]*' >/dev/null ||
        nvidia-smi -L >/dev/null 2>&1; }; then
    gpu=1
else
    gpu=0
    export CUDA_VISIBLE_DEVICES="" TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cores=$(nproc)
[ -n "$jobs" ] || { [ "$gpu" = 1 ] && jobs=1 || jobs=$cores; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, got '$jobs'"
threads=()
if [ "$jobs" -gt 1 ]; then
    threads=(--cpus_per_task $(( cores / jobs > 1 ? cores / jobs : 1 )))
fi

# 1. the environment (set up only when a package is missing)
./setup.sh --when-missing

# 2. the dataset
if [ ! -f "$dataset/pfamB_metadata.json" ]; then
    say "building the benchmark dataset in $dataset from $INPUT"
    python3 pfam_loader.py build --input "$INPUT" --out "$dataset" --version B
fi

# 3. the runs, at most $jobs at a time
mkdir -p "$results/stdout"
driver_args=()
[ "$demo" = 1 ] && driver_args=("${DEMO_ARGS[@]}")
[ "$dataset" = data/pfam ] || driver_args+=(--dataset "$dataset")
tasks=()
for rotation in "${ROTATIONS[@]}"; do
    for type in "${TYPES[@]}"; do tasks+=("$type:$rotation"); done
done
[ "$demo" = 1 ] || tasks+=("svm:")

declare -A running=()                    # process id -> run name
failed=()
stop() {
    trap - INT TERM
    say "interrupted: stopping ${#running[@]} run(s); rerun the same command to resume"
    [ ${#running[@]} -eq 0 ] || kill -TERM "${!running[@]}" 2>/dev/null || true
    wait || true
    exit 130
}
trap stop INT TERM

finish_one() {
    local pid="" status=0 name
    wait -n -p pid "${!running[@]}" || status=$?
    name=${running[$pid]}
    unset "running[$pid]"
    if [ "$status" -eq 0 ]; then
        say "$name done"
    else
        say "$name FAILED (exit $status; see $results/stdout/$name.out):"
        tail -n 3 "$results/stdout/$name.out" | sed 's/^/    /'
        failed+=("$name")
    fi
}

say "${#tasks[@]} runs in $results, $jobs at a time${extra[*]:+; extra arguments: ${extra[*]}}"
for task in "${tasks[@]}"; do
    type=${task%:*} rotation=${task#*:}
    while [ ${#running[@]} -ge "$jobs" ]; do finish_one; done
    if [ "$type" = svm ]; then
        name=svm_baseline                # it skips the rotations already in its JSON
        python3 svm_baseline.py --dataset "$dataset" --rotations "${ROTATIONS[@]}" \
            --out "$results/svm_baseline.json" >>"$results/stdout/$name.out" 2>&1 &
    else
        name=${type}_rot$rotation
        python3 -u hw6_base.py --preset "$type" --rotation "$rotation" --results_path "$results" \
            "${threads[@]}" "${driver_args[@]}" "${extra[@]}" >>"$results/stdout/$name.out" 2>&1 &
    fi
    running[$!]=$name
    say "$name started"
done
while [ ${#running[@]} -gt 0 ]; do finish_one; done
trap - INT TERM
say "runs finished, $(( SECONDS / 60 )) min $(( SECONDS % 60 )) s after the start"
if [ ${#failed[@]} -gt 0 ]; then
    say "${#failed[@]} run(s) failed: ${failed[*]}; fix the cause and rerun the same command" >&2
    exit 1
fi

# 4. the figures and the table
python3 figures.py --results "$results"
say "figures and table in $results/figures (test_accuracy.md);" \
    "$(( SECONDS / 60 )) min $(( SECONDS % 60 )) s in all"

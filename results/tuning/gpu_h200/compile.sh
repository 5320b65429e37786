#!/bin/bash
# Ran on the lent GPU machine from the repository root, with the Keras, namex and optree wheels
# for Python 3.12 in .whl/ and (explore.sh) make_course_scale.py + ../shared/data copied to .dev/
# (see results/tuning/gpu_h200/README.md).
# GPU check of JAX compile time: cold cache vs warm cache (another rotation), and XLA autotuning off.
set -u
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
W=/tmp/w2; mkdir -p $W/logs; OUT=${OUT:-/tmp/out}; mkdir -p $OUT
trap 'cd $W && tar czf $OUT/compile.tgz logs' EXIT
run() { local name=$1 limit=$2; shift 2
  ( timeout -k 5 $limit python3 hw6_base.py "$@" --results_path $W/r --label ${name}_ --gpu --epochs 2 --verbose 2 > $W/logs/$name.log 2>&1; echo "exit $?" >> $W/logs/$name.log ) & }
T0=$(date +%s)
run A 185 @results/tuning/2026-11-25_first_args/args_gru.txt --compile_cache $W/cA --rotation 0
run B 185 @results/tuning/2026-11-25_first_args/args_mha.txt --compile_cache $W/cB --rotation 0
XLA_FLAGS=--xla_gpu_autotune_level=0 run C 185 @results/tuning/2026-11-25_first_args/args_gru.txt --compile_cache $W/cC --rotation 2
wait; echo "phase 1 $(( $(date +%s) - T0 )) s"
run A2 75 @results/tuning/2026-11-25_first_args/args_gru.txt --compile_cache $W/cA --rotation 1
run B2 75 @results/tuning/2026-11-25_first_args/args_mha.txt --compile_cache $W/cB --rotation 1
wait; echo "phase 2 $(( $(date +%s) - T0 )) s"
grep -h "epoch_time\|test accuracy\|exit\|Error" $W/logs/*.log | cut -c1-160

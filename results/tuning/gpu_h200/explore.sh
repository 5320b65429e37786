#!/bin/bash
# Ran on the lent GPU machine from the repository root, with the Keras, namex and optree wheels
# for Python 3.12 in .whl/ and (explore.sh) make_course_scale.py + ../shared/data copied to .dev/
# (see results/tuning/gpu_h200/README.md).
# GPU exploration (device machine, JAX, no TensorFlow): course-scale configurations, 46-family
# epoch timings, the 400-family setting. Everything lands in $OUT/explore.tgz.
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-540}                 # seconds for the whole script
export PYTHONUNBUFFERED=1 KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=3
[ -n "${SKIP_PIP:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit 1
W=${W:-/tmp/w}; mkdir -p $W/logs $W/r
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
collect() { cd $W && tar czf $OUT/explore.tgz logs $(cd $W && find r -name '*log*.csv' -o -name '*_meta.json') 2>/dev/null; ls -la $OUT; }
trap collect EXIT
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee $W/logs/gpu.txt
python3 -c "import jax, keras; print(jax.__version__, jax.devices(), keras.__version__)" | tee -a $W/logs/gpu.txt
N=${N:-330000}; P=16
for s in $(seq 0 $((P-1))); do python3 .dev/tools/make_course_scale.py --n $((N/P)) --seed $((s+100)) --out $W/part$s.csv.gz > /dev/null & done; wait
{ zcat $W/part0.csv.gz; for s in $(seq 1 $((P-1))); do zcat $W/part$s.csv.gz | tail -n +2; done; } | gzip -1 > $W/course.csv.gz
python3 pfam_loader.py build --input $W/course.csv.gz --out $W/course_scale --version C > $W/logs/build.log 2>&1
echo "data ready after $(( $(date +%s) - T0 )) s" | tee -a $W/logs/gpu.txt
LEFT=$(( BUDGET - ($(date +%s) - T0) - 25 ))
run() {   # name, args...
  local name=$1; shift
  ( timeout -k 10 $LEFT python3 hw6_base.py "$@" --results_path $W/r --label ${name}_ ${GPUFLAG---gpu} --verbose 2 ${EXTRA:-} \
      > $W/logs/$name.log 2>&1; echo "exit $?" >> $W/logs/$name.log ) &
}
C="--dataset $W/course_scale --version C --bucket_growth ${GROWTH:-2} --epochs ${EPOCHS:-20}"
NOREG="--dropout 0 --dense_dropout 0.1 --l2 0"
run g0 @args_gru_course.txt $C --dropout 0.1 --dense_dropout 0.2
run g1 @args_gru_course.txt $C --conv_filters 256 --conv_kernel 32 $NOREG
run g2 @args_gru_course.txt $C --conv_filters 256 --conv_kernel 16 --conv_stride 8 $NOREG
run m1 @args_mha_course.txt $C --conv_filters 256 --conv_kernel 32 $NOREG
run m2 @args_mha_course.txt $C --conv_filters 256 --conv_kernel 16 --conv_stride 8 $NOREG
run r1 @args_rnn_course.txt $C --conv_filters 256 --conv_kernel 32 $NOREG
run r2 @args_rnn_course.txt $C --conv_filters 256 --conv_kernel 16 --conv_stride 8 $NOREG
run bm @results/tuning/2026-11-25_first_args/args_mha.txt --epochs 4
run bg @results/tuning/2026-11-25_first_args/args_gru.txt --epochs 4
run p4 @results/tuning/2026-11-25_first_args/args_mha.txt --dataset data/pfam400
wait
echo "all done after $(( $(date +%s) - T0 )) s" | tee -a $W/logs/gpu.txt

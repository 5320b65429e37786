#!/usr/bin/env bash
# Runs the whole test suite (CPU only, about 8 minutes on 2 cores). Extra arguments go to pytest,
# e.g. ./run_tests.sh -k loader -x
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-}"
exec python3 -m pytest "$@"

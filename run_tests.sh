#!/usr/bin/env bash
# Runs the whole test suite (CPU only), in as many pytest-xdist workers as there are cores (at
# most 4; PYTEST_WORKERS=1 for one process, e.g. to debug). Runs ./setup.sh first when the
# packages are not installed. Extra arguments go to pytest, e.g. ./run_tests.sh -k loader -x,
# or ./run_tests.sh -m "not slow" for the fast tier.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --when-missing
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-}"
workers="${PYTEST_WORKERS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
if [ "$workers" -gt 1 ]; then
    exec python3 -m pytest -n "$workers" --dist worksteal "$@"
fi
exec python3 -m pytest "$@"

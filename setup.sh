#!/usr/bin/env bash
# One-command setup on a fresh Debian/Ubuntu machine with Python 3.11:
# the graphviz binary (for plot_model figures) when missing, then the pinned Python packages.
# Use it inside a virtual environment or conda env if you have one (python3 -m venv .venv &&
# . .venv/bin/activate && ./setup.sh); it installs into whatever `python3` is active.
# ./setup.sh --when-missing does nothing when the packages are there (run_tests.sh and
# run_experiment.sh start with it).
set -euo pipefail
cd "$(dirname "$0")"

if [ "${1:-}" = --when-missing ]; then
    # looked up, not imported (importing TensorFlow costs seconds)
    missing=$(python3 -c 'import importlib.util as u, sys
print(" ".join(name for name in sys.argv[1:] if u.find_spec(name) is None))' \
        tensorflow keras pydot pytest xdist 2>/dev/null) || missing="python3 packages"
    [ -n "$missing" ] || exit 0
    echo "setup: not installed: $missing; setting up"
elif [ $# -gt 0 ]; then
    echo "setup: error: unknown argument '$1' (the only option is --when-missing)" >&2; exit 2
fi

if ! command -v dot >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        echo "setup: installing graphviz (needed for the model diagrams, Figure 0)"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz >/dev/null
    else
        echo "setup: warning: no 'dot' (graphviz) and no apt-get; install graphviz yourself" \
             "for Figure 0 (everything else works without it)" >&2
    fi
fi

echo "setup: installing Python packages from requirements.txt"
python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt
python3 -c "import tensorflow as tf, keras; print('setup: ok, tensorflow', tf.__version__, 'keras', keras.__version__)"

#!/usr/bin/env bash
# One-command setup on a fresh Debian/Ubuntu machine with Python 3.11:
# the graphviz binary (for plot_model figures) when missing, then the pinned Python packages.
# Use it inside a virtual environment or conda env if you have one (python3 -m venv .venv &&
# . .venv/bin/activate && ./setup.sh); it installs into whatever `python3` is active.
set -euo pipefail
cd "$(dirname "$0")"

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

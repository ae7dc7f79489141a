#!/usr/bin/env bash
# Set up a virtual environment in .venv with everything the project needs.
# Safe to run again: what is already installed is kept.
#   VENV=path   use another environment folder (default: .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[install] creating $VENV"
    "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"

# torch first, pinned: these releases lie on this machine's disk; an unpinned
# torch would download a multi-GB build.
if ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
    echo "[install] torch and torchvision"
    $PIP install -q torch==2.14.1 torchvision==0.29.1
fi

# mmcv 1.7's setup.py imports pkg_resources, gone from setuptools 81: build
# it without isolation, against the setuptools of requirements/build.txt.
$PIP install -q -r requirements/build.txt
if "$VENV/bin/python" -c "import mmcv, sys; v = mmcv.__version__; sys.exit(0 if v.startswith('1.7') else 1)" 2>/dev/null; then
    echo "[install] keeping the installed mmcv ($("$VENV/bin/python" -c 'import mmcv; print(mmcv.__version__)' 2>/dev/null))"
else
    echo "[install] mmcv"
    $PIP install -q --no-build-isolation -r requirements/mminstall.txt
fi

echo "[install] mmdet (editable) with its test and deployment (ONNX) requirements"
$PIP install -q --no-build-isolation -e ".[tests,deploy]"
"$VENV/bin/python" -c "import mmdet; print('[install] mmdet', mmdet.__version__, 'ready in $VENV')" 2>/dev/null

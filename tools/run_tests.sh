#!/usr/bin/env bash
# Install (if needed) and run the test suite on the CPU: bash tools/run_tests.sh
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
# SKIP_INSTALL=1: the environment is already set up (.ci/run just did it)
[ "${SKIP_INSTALL:-0}" = 1 ] || bash tools/install.sh
VENV=${VENV:-.venv}
exec "$VENV/bin/python" -m pytest -q "$@"

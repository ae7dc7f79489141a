#!/usr/bin/env bash
# The quick start, from a fresh clone, on a CPU:
#   bash tools/quickstart.sh
# 1. installs the project into .venv (tools/install.sh),
# 2. generates the tiny COCO-format data set into data/tiny_coco,
# 3. trains Mask R-CNN with an ODConv MobileNetV2 from scratch on it
#    (a checkpoint every epoch in work_dirs/quickstart),
# 4. evaluates the final checkpoint and prints the COCO bbox and segm table.
# Environment: CONFIG (default: the quick-start config), WORK_DIR, VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
CONFIG=${CONFIG:-configs/quickstart/mask_rcnn_odconv_mobilenetv2_tiny_coco.py}
WORK_DIR=${WORK_DIR:-work_dirs/quickstart}
VENV=${VENV:-.venv}
PY="$VENV/bin/python"

stamp() { echo "[quickstart $(( $(date +%s) - START ))s] $*"; }

stamp "installing into $VENV"
bash tools/install.sh

stamp "generating the tiny data set"
"$PY" tools/misc/make_tiny_coco.py --out data/tiny_coco

stamp "training $CONFIG"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --seed 0

stamp "testing $WORK_DIR/latest.pth"
"$PY" tools/test.py "$CONFIG" "$WORK_DIR/latest.pth" --eval bbox segm \
    --work-dir "$WORK_DIR"

stamp "done: logs and checkpoints in $WORK_DIR"

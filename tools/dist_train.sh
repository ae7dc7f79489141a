#!/usr/bin/env bash
# Distributed training on one or more nodes:
#   bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py flags...]
# One process per GPU (NCCL); on a machine without GPUs the processes share
# the CPU cores (Gloo). Several nodes: run it on each with
#   NNODES=2 NODE_RANK=0|1 MASTER_ADDR=<node 0 address> PORT=29500
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --seed 0 \
    --launcher pytorch "${@:3}"

#!/usr/bin/env bash
# Emergence variants side by side on one GPU (which change makes segments emerge within
# the few hundred steps a 2-core CPU affords?). Logs and tables go to $OUT.
# Usage (repository root):  bash benchmarks/gpu_grid.sh SECONDS [VARIANT,VARIANT,...]
set -u
budget=${1:-540}
only=${2:-base,no_camo,clean,clean_one_object,no_camo_soft_argmax,no_camo_lr6e-4,no_camo_head_dil1,no_camo_k3}
out=${OUT:-gpu_out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=".:${PYTHONPATH:-}"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
minutes=$(python3 -c "print(round(($budget - 90) / 60, 2))")
timeout $((budget - 20)) python3 benchmarks/emergence_grid.py --device cuda --parallel 8 \
    --workers 1 --threads 1 --steps 3000 --eval-every 150 --max-minutes "$minutes" \
    --only "$only" --out-dir runs/grid 2>&1 | tee "$out/grid.txt"
cp runs/grid/grid.json "$out/" 2>/dev/null
# the per-run logs and metrics travel as one archive (one file to copy off a remote GPU machine)
tar czf "$out/runs.tgz" runs/grid/*.log runs/grid/*/metrics.jsonl 2>/dev/null

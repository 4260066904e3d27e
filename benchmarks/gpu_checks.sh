#!/usr/bin/env bash
# Every GPU check of this project in one call with a fixed time budget:
#   1. the `gpu`-marked tests;  2. GPU inference variants (benchmarks/gpu_inference.py);
#   3. training step, ours vs. plain (benchmarks/train_step.py);  4. the synthetic emergence
#   run on the GPU for the time that is left (does segmentation emerge with many steps?).
# Usage (repository root; logs go to $OUT or ./gpu_out):  bash benchmarks/gpu_checks.sh 520
set -u
budget=${1:-520}  # seconds for the whole script
out=${OUT:-gpu_out}
mkdir -p "$out"
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
export PYTHONUNBUFFERED=1 PYTHONPATH=".:${PYTHONPATH:-}"
py=python3

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$out/gpu.txt"
$py -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"

echo "== gpu tests ($(left) s left)"
timeout 120 $py -m pytest tests/test_gpu.py -m gpu -q -x 2>&1 | tail -15 | tee "$out/tests.txt"

echo "== inference ($(left) s left)"
timeout 200 $py benchmarks/gpu_inference.py --size 392x696 --batch 16 2>&1 | grep -v Warning | tail -12 | tee "$out/inference.txt"

echo "== train step ($(left) s left)"
timeout 60 $py benchmarks/train_step.py --device cuda --batch 2 --crop 384 --motion 384 640 \
    --backbone resnet50 --repeats 5 2>&1 | tail -4 | tee "$out/train_step.txt"

minutes=$($py -c "print(max(0.5, ($(left) - 60) / 60))")
echo "== emergence on GPU for $minutes min"
timeout $(($(left) - 5)) $py -m amd_train.cli.train --config synthetic.yaml --quiet \
    --set run.device=cuda "run.max_minutes=$minutes" data.num_workers=12 run.threads=2 \
    eval.every_minutes=0.5 run.checkpoint_every=2000 run.preview_every=1000 \
    run.out_dir=runs/gpu_emergence 2>&1 | tail -20
cp runs/gpu_emergence/metrics.jsonl "$out/emergence_metrics.jsonl" 2>/dev/null
$py benchmarks/emergence.py runs/gpu_emergence --out "$out/emergence_gpu.png" 2>&1 | tee "$out/emergence.txt"
echo "== done in $(($(date +%s) - start)) s"

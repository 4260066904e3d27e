#!/usr/bin/env bash
# Real-video training on one GPU: variants of configs/real.yaml side by side, each evaluated
# zero-shot on DAVIS-style sequences (label-free channel) while it trains; every variant's
# served weights come back as an fp16 inference checkpoint.
# Usage (repository root):  bash benchmarks/gpu_real.sh SECONDS DATA [VARIANT,...]
#   DATA holds real-video/ (training footage) and davis2016-dev/ (evaluation only).
# $OUT (or ./gpu_out) gets table.txt, gpu_real_logs.tgz and one VARIANT.pt per variant.
set -u
budget=${1:-540}
data=${2:-../shared/data}
only=${3:-gap2,gap4,gap4_warm,gap4_no_ped2,gap4_192,gap4_lr8e-4}
out=${OUT:-gpu_out}
runs=runs/gpu_real
mkdir -p "$out" "$runs"
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
export PYTHONUNBUFFERED=1 PYTHONPATH=".:${PYTHONPATH:-}"
py=python3
device=${DEVICE:-cuda}  # DEVICE=cpu runs the same script as a smoke test

nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
$py -c "import torch; print('torch', torch.__version__)" | tee -a "$out/gpu.txt"

# Decode once into JPEG folders (short side 224: room for the 192-pixel variant's crops).
$py benchmarks/real_corpus.py "$data/real-video" --frames 224 --workers 16 \
    --out runs/real_frames 2>&1 | tail -3 | tee "$out/corpus.txt"
# the same frames without UCSD Ped2 (static camera, small grey pedestrians)
mkdir -p runs/real_frames_no_ped2/JPEGImages
for clip in runs/real_frames/JPEGImages/*; do
    case $(basename "$clip") in ped2__*) ;; *) ln -sfn "$(realpath "$clip")" runs/real_frames_no_ped2/JPEGImages/ ;; esac
done

variant_args() {  # overrides of configs/real.yaml per variant (batch 32 on the GPU)
    case $1 in
        gap2) echo "run.init_from=" ;;
        gap4) echo "run.init_from= data.step_limit=4" ;;
        gap4_warm) echo "data.step_limit=4" ;;
        gap4_no_ped2) echo "run.init_from= data.step_limit=4 data.root=runs/real_frames_no_ped2" ;;
        gap4_lr8e-4) echo "run.init_from= data.step_limit=4 optim.lr=8e-4" ;;
        gap4_192) echo "run.init_from= data.step_limit=4 data.resize_short=208 data.crop_size=[192,320] model.motion_size=[192,320]" ;;
        # real.yaml has two segments since 2026-12-05; the variants above ran with five then
        gap4_k5) echo "run.init_from= data.step_limit=4 model.num_segments=5" ;;
        *) echo "unknown variant $1" >&2; return 1 ;;
    esac
}

minutes=$($py -c "print(round(($(left) - 100) / 60, 2))")
echo "== ${only//,/ } for $minutes min each, side by side ($(left) s left)" | tee "$out/table.txt"
for name in ${only//,/ }; do
    args=$(variant_args "$name") || continue
    # shellcheck disable=SC2086  # the overrides are separate words on purpose
    $py -m amd_train.cli.train --config real.yaml --quiet --set "run.device=$device" \
        data.kind=frames data.root=runs/real_frames "eval.root=$data/davis2016-dev" \
        run.batch_size=32 data.num_workers=2 run.threads=2 "run.max_minutes=$minutes" \
        optim.decay_over=minutes eval.every_minutes=1 eval.frames_per_video=16 \
        run.preview_every=500 run.checkpoint_every=500 run.tensorboard=false \
        "run.out_dir=$runs/$name" $args >"$runs/$name.log" 2>&1 &
done
wait

for name in ${only//,/ }; do
    echo "-- $name"; tail -c 400 "$runs/$name.log"; echo
    $py -c "from amd_plugin.checkpoint import export_inference_checkpoint as e; \
e('$runs/$name/last.pt', '$runs/$name/$name.pt')" 2>&1 | tail -1
done
$py - "$runs" <<'EOF' | tee -a "$out/table.txt"
import json, sys
from pathlib import Path
for run in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    if not (run / "metrics.jsonl").exists():
        print(f"{run.name}: no metrics (see its log)")
        continue
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    evals = [r for r in rows if r.get("kind") == "eval"]
    steps = max((r["step"] for r in rows if r.get("kind") == "train"), default=0)
    curve = " ".join(f"{r['minutes']:.1f}:{r['iou']:.3f}/{r['oracle_iou']:.3f}" for r in evals)
    print(f"{run.name}: {steps} steps; min:J/oracle {curve}")
EOF
# one archive for logs, metrics and previews; the checkpoints (fp16, ~6 MB each) beside it
cp "$out/gpu.txt" "$out/corpus.txt" "$runs/"
tar czf "$out/gpu_real_logs.tgz" "$runs"/*.txt "$runs"/*.log "$runs"/*/metrics.jsonl \
    "$runs"/*/config.yaml $(ls -d "$runs"/*/previews 2>/dev/null)
rm -f "$out/gpu.txt" "$out/corpus.txt"
for name in ${only//,/ }; do cp "$runs/$name/$name.pt" "$out/" 2>/dev/null; done
ls -la "$out"
echo "== done in $(($(date +%s) - start)) s"

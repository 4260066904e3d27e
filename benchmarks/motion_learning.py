"""How fast does the motion pathway alone learn flow by view synthesis? (diagnostic)

    python benchmarks/motion_learning.py                  # [0, 1] input (reference)
    python benchmarks/motion_learning.py --center         # model.motion_center_input
    python benchmarks/motion_learning.py --normalize      # model.motion_normalize_features

One mask (K = 1), so the pathway must explain each pair with one global segment flow.
Pairs are frames 0 and 2 of 64 synthetic clips (one object on a panning textured background,
128×128); batches of 8 drawn at random; Adam. Every 25 steps it prints the training loss next
to the loss of zero flow on the same batch: a pathway that learned nothing scores the same
as zero flow. Used in docs/experiments.md ("Why the flows stay small").
"""

from __future__ import annotations

import argparse
import time

import torch

from amd_plugin.modeling.motion import MotionPathway
from amd_train.losses import view_synthesis_loss
from amd_train.synthetic import SyntheticConfig, generate_video


def make_pairs(clips: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = SyntheticConfig(
        height=128,
        width=128,
        num_frames=4,
        max_objects=1,
        object_speed=(2.0, 6.0),
        background_pan=3.0,
    )
    firsts, thirds = [], []
    for v in range(clips):
        frames = torch.from_numpy(generate_video(cfg, (7, v)).frames).permute(0, 3, 1, 2) / 255.0
        firsts.append(frames[0])
        thirds.append(frames[2])
    return torch.stack(firsts), torch.stack(thirds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--center", action="store_true", help="centre the motion pathway's input")
    p.add_argument("--normalize", action="store_true", help="normalise features (UFlow)")
    p.add_argument(
        "--head-init", type=float, default=0.01,
        help="scale of the flow head's last conv relative to Kaiming (the model uses 0.01)",
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    frames_a, frames_b = make_pairs()
    net = MotionPathway(center_input=args.center, normalize_features=args.normalize)
    with torch.no_grad():  # the model initialises it at 0.01 × Kaiming
        net.estimator.predict_flow2[0].weight.mul_(args.head_init / 0.01)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    start = time.monotonic()
    for step in range(args.steps + 1):
        idx = torch.randint(0, len(frames_a), (8,))
        a, b = frames_a[idx], frames_b[idx]
        mask = torch.ones(8, 1, 16, 16)
        out = net(a, b, mask, mask)
        loss, terms = view_synthesis_loss(out.forward, out.backward, a, b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 0:
            with torch.no_grad():
                zeros = [torch.zeros_like(f) for f in out.forward]
                zero_loss, _ = view_synthesis_loss(zeros, zeros, a, b)
            print(
                f"step {step:4d}  {time.monotonic() - start:5.0f} s  loss {loss.item():.3f}  "
                f"zero-flow {zero_loss.item():.3f}  "
                f"gain {1 - loss.item() / zero_loss.item():+.0%}  "
                f"mean |flow| {terms['flow_mag'].item():.2f} px",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Can the motion pathway learn a global shift when it is *told* the answer? (diagnostic)

    python benchmarks/motion_supervised.py --lr 2e-4 --steps 100
    python benchmarks/motion_supervised.py --lr 1e-3 --steps 100

Pairs are 128×128 crops of synthetic background textures (the generator's five kinds), the
second shifted by a random integer (dx, dy) in [-6, 6]² px, batches of 8, one uniform mask.
The loss is the L1 distance of the finest dense flow (``MotionOutput.forward_dense``) to the
true flow, so no photometric signal is involved. Every 10 steps it prints the error of the
mean predicted flow next to the error of predicting zero: equal numbers mean nothing was
learned. Used in docs/experiments.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from amd_plugin.modeling.motion import MotionPathway
from amd_train.synth_render import TEXTURE_KINDS, make_texture, random_palette


def shifted_pairs(
    textures: list[np.ndarray], rng: np.random.Generator, n: int = 8, max_shift: int = 6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` pairs ``B×3×128×128`` in [0, 1] and their true forward flow ``B×2`` (x, y)."""
    frames_a, frames_b, flows = [], [], []
    for _ in range(n):
        texture = textures[int(rng.integers(len(textures)))]
        dx, dy = (int(v) for v in rng.integers(-max_shift, max_shift + 1, 2))
        frames_a.append(texture[16:144, 16:144])
        frames_b.append(texture[16 + dy : 144 + dy, 16 + dx : 144 + dx])
        flows.append((-dx, -dy))  # A(x) = B(x - d): A is rebuilt by sampling B at x - d

    def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255

    return to_tensor(frames_a), to_tensor(frames_b), torch.tensor(flows, dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    textures = [
        make_texture(rng, 160, 160, TEXTURE_KINDS[i % len(TEXTURE_KINDS)], random_palette(rng, 3))
        for i in range(64)
    ]
    net = MotionPathway()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    mask = torch.ones(8, 1, 16, 16)
    start = time.monotonic()
    for step in range(args.steps + 1):
        frame_a, frame_b, truth = shifted_pairs(textures, rng)
        dense = net(frame_a, frame_b, mask, mask).forward_dense[0]
        loss = (dense - truth[:, :, None, None]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            error = (dense.detach().mean((2, 3)) - truth).norm(dim=1).mean().item()
            print(
                f"step {step:4d}  {time.monotonic() - start:5.0f} s  L1 {loss.item():.2f}  "
                f"error of mean flow {error:.2f} px  (zero flow: {truth.norm(dim=1).mean():.2f})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

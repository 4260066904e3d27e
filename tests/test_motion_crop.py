"""Motion-centred crops: a window around what moves, zoomed so the mover is large."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from amd_train.config import load_train_config
from amd_train.data.motion_crop import MotionCropConfig, plan_motion_crop, window_around
from amd_train.data.transforms import IMAGENET_MEAN, IMAGENET_STD, PairTransform


def _scene(shift: int, square: tuple[int, int] = (60, 150), side: int = 12) -> np.ndarray:
    """A 144×216 static grey-noise scene with a white square at ``square`` + ``shift`` in x."""
    rng = np.random.default_rng(0)
    frame = (rng.random((144, 216, 1)) * 40 + 80).repeat(3, axis=2).astype(np.uint8)
    y, x = square
    frame[y : y + side, x + shift : x + shift + side] = 250
    return frame


def _pair(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(f).permute(2, 0, 1).float() for f in (a, b)])


def test_plan_centres_on_the_mover_and_zooms_it_large() -> None:
    pair = _pair(_scene(0), _scene(4))
    plan = plan_motion_crop(
        pair, (64, 96), (1.0, 4.0), np.random.default_rng(0), MotionCropConfig()
    )
    assert plan is not None
    assert 55 <= plan.centre_y <= 78 and 145 <= plan.centre_x <= 172
    # the changed region (square + its shift, joined) is ~20 px: zoomed to 0.3–0.6 of 64 px
    assert 1.0 < plan.zoom <= 4.0


@pytest.mark.parametrize("case", ["static", "camera"])
def test_no_plan_without_localised_motion(case: str) -> None:
    a = _scene(0)
    b = a.copy() if case == "static" else np.roll(a, 3, axis=1)
    pair = _pair(a, b)
    assert (
        plan_motion_crop(pair, (64, 96), (1, 3), np.random.default_rng(0), MotionCropConfig())
        is None
    )


def test_window_stays_inside_the_image() -> None:
    rng = np.random.default_rng(0)
    for centre in [(0, 0), (143, 215), (70, 100)]:
        top, left = window_around(centre, (64, 96), (144, 216), rng)
        assert 0 <= top <= 144 - 64 and 0 <= left <= 216 - 96


def test_transform_crops_around_the_mover() -> None:
    """Every motion-centred crop holds the white square; random crops often miss it."""
    transform = PairTransform(
        resize_short=144,
        scale_range=(1.0, 1.0),
        crop_size=(48, 64),
        motion_crop_prob=1.0,
        motion_crop_zoom=(1.0, 2.0),
    )
    plain = PairTransform(resize_short=144, scale_range=(1.0, 1.0), crop_size=(48, 64))
    a, b = _scene(0), _scene(4)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)

    def holds_square(t: torch.Tensor) -> bool:
        return bool(((t * std + mean) > 200).any())

    motion_hits = [holds_square(transform(a, b, np.random.default_rng(i))[0]) for i in range(20)]
    plain_hits = [holds_square(plain(a, b, np.random.default_rng(i))[0]) for i in range(20)]
    assert all(motion_hits)
    assert sum(plain_hits) < 15
    out_a, out_b = transform(a, b, np.random.default_rng(0))
    assert out_a.shape == out_b.shape == (3, 48, 64)
    # apply() says which crop it took: centred for the mover, random for a still pair or when off
    assert transform.apply(a, b, np.random.default_rng(0))[2] is True
    assert transform.apply(a, a.copy(), np.random.default_rng(0))[2] is False
    assert plain.apply(a, b, np.random.default_rng(0))[2] is False


def test_config_validates_motion_crop() -> None:
    with pytest.raises(ValueError, match="motion_crop_prob"):
        load_train_config(overrides=["data.motion_crop_prob=1.5"])
    with pytest.raises(ValueError, match="motion_crop_zoom"):
        load_train_config(overrides=["data.motion_crop_zoom=[2.0,1.0]"])
    cfg = load_train_config(overrides=["data.motion_crop_prob=0.5", "data.motion_crop_zoom=[1,3]"])
    assert PairTransform.from_config(cfg.data).motion_crop_zoom == (1.0, 3.0)


def test_contact_sheet_script(tmp_path, benchmark_module, monkeypatch, capsys) -> None:
    """benchmarks/motion_crops.py draws both rows and counts pairs with localised motion."""
    from PIL import Image

    for video in ("a", "b"):
        folder = tmp_path / "corpus" / "JPEGImages" / video
        folder.mkdir(parents=True)
        for t in range(4):
            Image.fromarray(_scene(4 * t)).save(folder / f"{t:05d}.png")
    out = tmp_path / "sheet.png"
    argv = ["motion_crops.py", "--config", "real.yaml", "--items", "2", "--count", "6"]
    argv += ["--out", str(out), "--set", "data.kind=frames", f"data.root={tmp_path / 'corpus'}"]
    argv += ["data.num_workers=0"]
    monkeypatch.setattr("sys.argv", argv)
    with benchmark_module("motion_crops") as module:
        module.main()
    sheet = Image.open(out)
    assert sheet.size == (2 * 192, 4 * 128)  # two items; crop + difference, two rows each
    assert "localised motion in 6/6 pairs" in capsys.readouterr().out

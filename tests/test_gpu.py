"""CUDA paths: training with AMP, GPU checkpoints loading on CPU, GPU inference parity.

Marked ``gpu``: skipped (by ``conftest.py``) where no CUDA device is present.
"""

import copy

import numpy as np
import pytest
import torch

from amd_plugin import AMD, ModelConfig, Segmenter, load_model
from amd_plugin.backends import TorchBackend
from amd_train.config import load_train_config
from amd_train.synthetic import SyntheticConfig, generate_video, write_dataset
from amd_train.testing import TINY_TRAINING
from amd_train.trainer import train
from trt.parity import compare_probabilities, softmax, synthetic_images

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_frames")
    write_dataset(
        root, 3, SyntheticConfig(height=64, width=64, num_frames=6), seed=3,
        formats=("frames",), progress=False,
    )  # fmt: skip
    return root


def tiny_gpu_config(root, out_dir, amp: str, steps: int = 3):
    return load_train_config(
        "synthetic.yaml",
        [
            *TINY_TRAINING,
            "data.kind=frames",
            f"data.root={root}",
            "run.device=cuda",
            f"run.amp={amp}",
            f"run.max_steps={steps}",
            "run.max_minutes=0",
            "run.batch_size=2",
            f"run.out_dir={out_dir}",
            "eval.every_minutes=0",
            "eval.synthetic_videos=0",
        ],
    )


@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_training_on_gpu_and_checkpoint_loads_on_cpu(frames_root, tmp_path, amp):
    state = train(tiny_gpu_config(frames_root, tmp_path / amp, amp), show_progress=False)
    assert state.step == 3
    ckpts = sorted((tmp_path / amp).glob("*.pt"))
    assert ckpts, f"no checkpoint in {tmp_path / amp}"
    loaded = load_model(ckpts[-1], device="cpu")
    params = list(loaded.model.parameters())
    assert all(p.device.type == "cpu" for p in params)
    assert all(torch.isfinite(p).all() for p in params)


def test_forward_on_gpu_matches_cpu():
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64))).eval()
    a = torch.rand(2, 3, 64, 64) * 2 - 1
    b = torch.roll(a, shifts=(0, 2), dims=(2, 3))
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad():
            cpu = model(a, b)
            gpu = copy.deepcopy(model).to(CUDA)(a.to(CUDA), b.to(CUDA))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.testing.assert_close(gpu.masks_a.cpu(), cpu.masks_a, atol=1e-4, rtol=1e-4)
    for g, c in zip(gpu.motion.forward, cpu.motion.forward, strict=True):
        torch.testing.assert_close(g.cpu(), c, atol=1e-3, rtol=1e-3)


def test_compiled_half_inference_agrees_with_fp32():
    torch.manual_seed(0)
    model = AMD(ModelConfig(backbone="resnet18")).eval()
    frames = synthetic_images(4, 128, 224, seed=1)
    ref = softmax(TorchBackend(copy.deepcopy(model), device="cuda").logits(frames), axis=1)
    fast = TorchBackend(copy.deepcopy(model), device="cuda", half=True, compile=True)
    parity = compare_probabilities(ref, softmax(fast.logits(frames), axis=1))
    assert parity.max_abs_diff < 2e-2, parity


def test_segmenter_on_gpu_matches_cpu():
    video = generate_video(SyntheticConfig(height=96, width=128, num_frames=3), (7, 0))
    frames = list(video.frames)
    cpu = Segmenter("synthetic-small", device="cpu", foreground=0)(frames)
    gpu = Segmenter("synthetic-small", device="cuda", foreground=0)(frames)
    for c, g in zip(cpu, gpu, strict=True):
        assert np.abs(c.foreground - g.foreground).max() < 1e-2

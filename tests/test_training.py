"""Training end to end on tiny data: configs, DDP equivalence, exact resume after kill -9."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from amd_plugin import load_model
from amd_train.synthetic import SyntheticConfig, write_dataset
from amd_train.testing import TINY_TRAINING as TINY


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    write_dataset(
        root,
        3,
        SyntheticConfig(height=64, width=64, num_frames=6),
        seed=3,
        formats=("frames",),
        progress=False,
    )
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(args, env_extra=None, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "amd_train.cli.train", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def sets(items):
    return [x for item in items for x in ("--set", item)]


def losses(out_dir: Path) -> list[float]:
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["kind"] == "train"]


def test_ytvos_config_runs_a_few_iterations_on_frame_folders(frames_root, tmp_path):
    overrides = [f"data.root={frames_root}", "data.resize_short=64", "data.crop_size=[64, 64]", "model.motion_size=[64, 64]",
                 "data.num_workers=0", "run.max_steps=2", "run.tensorboard=false", "run.preview_every=1", "run.log_every=1"]  # fmt: skip
    result = run_cli(
        ["--config", "ytvos.yaml", "--out-dir", str(tmp_path / "run"), *sets(overrides)]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = load_model(tmp_path / "run" / "last.pt")
    assert loaded.model.cfg.backbone == "resnet50"
    assert (tmp_path / "run" / "config.yaml").exists()
    assert (tmp_path / "run" / "previews" / "step_00000001.png").exists()
    assert len(losses(tmp_path / "run")) == 2


def test_fresh_start_in_a_used_folder_keeps_the_earlier_metrics_apart(frames_root, tmp_path):
    out = tmp_path / "run"
    common = ["--config", "synthetic.yaml", "--out-dir", str(out)]
    first = run_cli([*common, *sets([f"data.root={frames_root}", *TINY, "run.max_steps=2"])])
    assert first.returncode == 0, first.stderr[-2000:]
    # the second run also trains with the usage penalty (its one path through the trainer)
    again = [f"data.root={frames_root}", *TINY, "run.max_steps=1", "run.resume=false",
             "loss.usage_weight=0.1"]  # fmt: skip
    second = run_cli([*common, *sets(again)])
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(losses(out)) == 1  # metrics.jsonl holds the new run only
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert record["usage_penalty"] >= 0
    earlier = [json.loads(line) for line in (out / "metrics.1.jsonl").read_text().splitlines()]
    assert [r["step"] for r in earlier if r["kind"] == "train"] == [1, 2]


def test_bad_config_key_is_a_clear_error(tmp_path):
    result = run_cli(["--config", "synthetic.yaml", "--set", "optim.lrate=1"])
    assert result.returncode == 2 and "did you mean 'lr'" in result.stderr


def test_two_process_ddp_matches_one_process(frames_root, tmp_path):
    # the turn term from step 0: its extra appearance pass on the turned frames runs beside
    # the DDP-wrapped forward, and its gradient must still be summed across processes
    common = [f"data.root={frames_root}", *TINY, "run.max_steps=3",
              "loss.rotation_consistency_start_step=0"]  # fmt: skip
    single = run_cli(
        [
            "--config",
            "synthetic.yaml",
            "--out-dir",
            str(tmp_path / "one"),
            *sets([*common, "run.batch_size=4", "data.kind=auto"]),
        ]
    )
    assert single.returncode == 0, single.stderr[-2000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           "-m", "amd_train.cli.train", "--quiet", "--config", "synthetic.yaml", "--out-dir", str(tmp_path / "two"),
           *sets([*common, "run.batch_size=2", "data.kind=auto"])]  # fmt: skip
    ddp = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 3
    for a, b in zip(one, two):
        assert abs(a - b) <= 2e-3 * abs(a), (one, two)


@pytest.mark.slow
def test_kill_9_then_resume_reaches_the_same_weights(frames_root, tmp_path):
    common = [
        f"data.root={frames_root}",
        *TINY,
        "run.max_steps=6",
        "run.max_minutes=0",  # a decay that follows the clock cannot repeat a run exactly
        "run.batch_size=2",
        "run.checkpoint_every=1",
        "run.keep_last=2",
        "run.deterministic=true",
    ]
    ref = run_cli(["--config", "synthetic.yaml", "--out-dir", str(tmp_path / "ref"), *sets(common)])
    assert ref.returncode == 0, ref.stderr[-2000:]
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "amd_train.cli.train",
        "--quiet",
        "--config",
        "synthetic.yaml",
        "--out-dir",
        str(out),
        *sets(common),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "ckpt_00000003.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run_cli(["--config", "synthetic.yaml", "--out-dir", str(out), *sets(common)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(tmp_path / "ref" / "last.pt", weights_only=False)
    b = torch.load(out / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    # synthetic.yaml averages the weights: the average and the raw weights must both match
    assert a["weight_average"] == b["weight_average"]
    for part in ("state_dict", "train_state_dict"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), (part, key)


def test_motion_lr_scale_gives_the_motion_pathway_its_own_group():
    from amd_plugin import AMD, ModelConfig
    from amd_train.config import TrainConfig
    from amd_train.trainer import param_groups

    model = AMD(ModelConfig(backbone="small", small_width=8, motion_size=(64, 64)))
    cfg = TrainConfig()
    (single,) = param_groups(model, cfg)
    assert len(single["params"]) == len(list(model.parameters()))
    scaled = TrainConfig(optim=type(cfg.optim)(lr=2e-4, motion_lr_scale=5.0))
    rest, motion = param_groups(model, scaled)
    assert {id(p) for p in motion["params"]} == {id(p) for p in model.motion.parameters()}
    assert len(rest["params"]) + len(motion["params"]) == len(list(model.parameters()))
    assert motion["lr"] == pytest.approx(1e-3) and rest["lr"] == pytest.approx(2e-4)


def test_ctrl_c_names_the_checkpoint_to_resume_from(tmp_path, monkeypatch, capsys):
    import amd_train.trainer
    from amd_train.cli.train import main

    def interrupted(cfg, show_progress=True):
        Path(cfg.run.out_dir).mkdir(parents=True, exist_ok=True)
        for step in (200, 400):
            (Path(cfg.run.out_dir) / f"ckpt_{step:08d}.pt").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(amd_train.trainer, "train", interrupted)
    assert main(["--quiet", "--out-dir", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "step 400" in err and str(tmp_path / "run") in err

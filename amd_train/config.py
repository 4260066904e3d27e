"""The training config: typed dataclasses, YAML defaults + experiment file + ``--set`` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from amd_plugin.config import ConfigError, apply_overrides, from_dict, load_yaml
from amd_plugin.model_config import ModelConfig
from amd_train.data.config import DataConfig
from amd_train.losses import LossConfig

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class OptimConfig:
    """Adam with a per-iteration poly schedule (reference: lr 1e-4, wd 1e-6, power 0.9)."""

    lr: float = 1e-4
    weight_decay: float = 1e-6
    poly_power: float = 0.9
    min_lr: float = 1e-6
    warmup_steps: int = 0
    grad_clip: float = 0.0  # max global grad norm; 0 disables
    accumulate: int = 1  # gradient accumulation steps per optimizer step
    # learning-rate multiplier for the motion pathway (1 = reference: one lr for all)
    motion_lr_scale: float = 1.0
    # exponential moving average of the weights, evaluated and saved as the model
    # (amd_train/weight_average.py); 0 disables. The horizon is ~1 / (1 - ema_decay) steps.
    ema_decay: float = 0.0
    # what the poly decay counts: "steps" (step / run.max_steps, the reference) or
    # "minutes" (also run.max_minutes of wall clock: whichever is further along), so that
    # a run budgeted in minutes ends at min_lr however fast the machine is; without a time
    # budget (run.max_minutes 0) "minutes" counts steps only
    decay_over: Literal["steps", "minutes"] = "steps"

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"optim.ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass(frozen=True)
class EvalConfig:
    """Periodic label-free evaluation on held-out videos while training.

    ``synthetic_videos`` > 0 renders that many held-out synthetic videos (seed
    ``seed``, never used for training); ``root`` evaluates a DAVIS-style folder instead.
    """

    every_steps: int = 0  # 0 disables periodic evaluation
    every_minutes: float = 0.0
    synthetic_videos: int = 0
    frames_per_video: int = 16
    seed: int = 10_000
    root: str = ""


@dataclass(frozen=True)
class RunConfig:
    """How the run is executed and recorded."""

    out_dir: str = "runs/amd"
    max_steps: int = 300_000
    max_minutes: float = 0.0  # wall-clock budget; 0 = unlimited
    # stop after this many steps without changing the lr schedule (set by max_steps); 0 = off
    stop_at_step: int = 0
    batch_size: int = 2  # per process (reference: 2 per GPU)
    seed: int = 0
    device: str = "auto"
    amp: Literal["off", "bf16", "fp16"] = "off"
    compile: bool = False
    channels_last: bool = False
    threads: int = 0  # torch intra-op threads on CPU; 0 = torch default
    deterministic: bool = False
    log_every: int = 20
    preview_every: int = 500
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 0.0  # also checkpoint every N minutes (0 = off)
    keep_last: int = 3
    # write best.pt (weights only) whenever a held-out evaluation beats every earlier one
    keep_best: bool = True
    tensorboard: bool = True
    resume: bool = True  # continue from out_dir/last.pt when it exists
    init_from: str = ""  # start from these weights (checkpoint path or built-in name); "" = random


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.loss.rotation_consistency_weight > 0 and not self.model.small_centred_downsampling:
            # a 3×3 stride-2 grid is not symmetric under the turn: a turned cell would be
            # compared with a cell several pixels away
            raise ValueError(
                "loss.rotation_consistency_weight needs model.small_centred_downsampling=true"
            )


def find_config(name: str | Path) -> Path:
    """A path as given, else a packaged config by name (``ytvos.yaml`` or ``ytvos``)."""
    path = Path(name)
    if path.exists():
        return path
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if candidate.exists():
            return candidate
    available = ", ".join(sorted(p.name for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"{name}: config not found (packaged configs: {available})")


def load_train_config(
    name: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Defaults ← YAML file ← ``key.path=value`` overrides, validated at every step."""
    cfg = TrainConfig()
    if name is not None:
        path = find_config(name)
        try:
            cfg = from_dict(TrainConfig, load_yaml(path))
        except (ConfigError, ValueError) as err:
            raise ConfigError(f"{path}: {err}") from err
    return apply_overrides(cfg, list(overrides))

"""Bad-input cases for training data, split files, configs, checkpoints and engines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from catalogue import Case, rgb_ok
from input_builders import (
    fifo,
    fifo_reason,
    frame_folder,
    frames_are_grey_ramp,
    symlink_loop,
    truncated,
    vfr_video,
    write_bytes,
    write_video,
    zero_frame_video,
)

# -- training data -----------------------------------------------------------------------


def _videos_root(tmp: Path, bad: Callable[[Path], Path]) -> Any:
    from amd_train.data.config import DataConfig

    root = tmp / "videos"
    write_video(root / "good.mp4", n=6)
    bad(root)
    return DataConfig(root=str(root), kind="videos")


def _frames_root(tmp: Path, bad: Callable[[Path], Path]) -> Any:
    from amd_train.data.config import DataConfig

    root = tmp / "data"
    frame_folder(root / "JPEGImages" / "good", n=3)
    bad(root / "JPEGImages")
    return DataConfig(root=str(root), kind="frames")


def _sources_are(*names: str) -> Callable[[Any], bool]:
    return lambda sources: sorted(Path(s.name).name for s in sources) == sorted(names)


def _vfr_readable(sources: list[Any]) -> bool:
    """One source of 12 frames, read in order and then backwards (random access)."""
    (source,) = sources
    forward = [source.read(i) for i in range(len(source))]
    backward = [source.read(i) for i in (11, 7, 3)]
    means = [round(float(f[10:, 10:].mean()) / 20) for f in backward]
    return frames_are_grey_ramp(forward, 12) and means == [11, 7, 3]


def _data_config(**kwargs: Any) -> Any:
    from amd_train.data.config import DataConfig

    return DataConfig(**kwargs)


def _loop_root(tmp: Path) -> Any:
    return _data_config(root=str(symlink_loop(tmp / "root")))


DATA_CASES = [
    Case("videos: truncated mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: truncated(r / "cut.mp4", write_video(t / "s.mp4"), 0.5)),
         "skipped", named="cut.mp4", check=_sources_are("good.mp4")),
    Case("videos: zero-frame mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: zero_frame_video(r / "zero.mp4")),
         "skipped", named="zero.mp4", check=_sources_are("good.mp4")),
    Case("videos: text .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: write_bytes(r / "text.mp4", b"hi" * 99)),
         "skipped", named="text.mp4", check=_sources_are("good.mp4")),
    Case("videos: FIFO .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: fifo(r / "pipe.mp4")),
         "skipped", named="pipe.mp4", check=_sources_are("good.mp4"), skip=fifo_reason),
    Case("videos: symlink loop .mp4 among good", "discover_sources",
         lambda t: _videos_root(t, lambda r: symlink_loop(r / "loop.mp4")),
         "skipped", named="loop.mp4", check=_sources_are("good.mp4")),
    Case("videos: truncated mp4 (faststart) alone", "discover_sources",
         lambda t: _data_config(root=str(truncated(
             t / "cut_fast.mp4",
             write_video(t / "src" / "s.mp4", n=30, options={"movflags": "faststart"}), 0.6)),
             kind="videos"),
         "ok", check=lambda s: len(s) == 1 and 0 < len(s[0]) < 30 and all(
             rgb_ok(s[0].read(i)) for i in range(len(s[0]))),
         note="training uses the frames before the cut (every one decodes)"),
    Case("videos: variable frame rate mp4", "discover_sources",
         lambda t: _data_config(root=str(vfr_video(t)), kind="videos"), "ok", check=_vfr_readable),
    Case("frames: folder whose first frame is corrupt, among good", "discover_sources",
         lambda t: _frames_root(t, lambda r: write_bytes(r / "bad" / "00000.jpg", b"\xff\xd8")),
         "skipped", named="bad", check=_sources_are("good")),
    Case("frames: empty video folder among good", "discover_sources",
         lambda t: _frames_root(t, lambda r: (r / "hollow").mkdir() or r),
         "skipped", named="hollow", check=_sources_are("good")),
    Case("frames: symlink loop among frames", "discover_sources",
         lambda t: _frames_root(t, lambda r: symlink_loop(r / "good" / "00001_loop.jpg")),
         "ok", check=lambda s: _sources_are("good")(s) and len(s[0]) == 3),
    Case("data root is a symlink loop", "discover_sources", _loop_root, "DataError",
         "does not exist", named="root"),
    Case("videos: every file bad", "discover_sources",
         lambda t: _data_config(root=str(write_bytes(t / "v" / "x.mp4", b"x").parent),
                                kind="videos"), "DataError", "no usable videos", named="v"),
]  # fmt: skip

# -- split files ---------------------------------------------------------------------------


def _split(tmp: Path, text: str | bytes, name: str = "train.txt") -> tuple[Path, Path]:
    root = tmp / "data"
    frame_folder(root / "JPEGImages" / "cat", n=3)
    (root / "JPEGImages" / "empty").mkdir(parents=True, exist_ok=True)
    path = root / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path, root


SPLIT_CASES = [
    Case("empty split file", "parse_split_file", lambda t: _split(t, ""), "DataError",
         "lists no videos"),
    Case("split file with only comments/blank lines", "parse_split_file",
         lambda t: _split(t, "# nothing\n\n   \n"), "DataError", "lists no videos"),
    Case("split naming missing frames", "parse_split_file",
         lambda t: _split(t, "JPEGImages/cat 00000.jpg 00007.jpg 00009.jpg\n"), "DataError",
         r"train\.txt:1: 2 frame\(s\) missing", named="00007.jpg"),
    Case("split naming a missing folder", "parse_split_file",
         lambda t: _split(t, "JPEGImages/cat\nJPEGImages/dog 00000.jpg\n"), "DataError",
         r"train\.txt:2: frame folder .* does not exist", named="dog"),
    Case("split line whose folder holds no images", "parse_split_file",
         lambda t: _split(t, "JPEGImages/empty\n"), "DataError", "holds no images",
         named="train.txt:1"),
    Case("split file missing", "parse_split_file", lambda t: (t / "nope.txt", t), "DataError",
         "cannot read split file"),
    Case("split file is a folder", "parse_split_file",
         lambda t: ((t / "split.txt").mkdir() or t / "split.txt", t), "DataError",
         "cannot read split file"),
    Case("split file not UTF-8", "parse_split_file",
         lambda t: _split(t, b"JPEGImages/cat \xff\xfe\n"), "DataError", "cannot read split file"),
]  # fmt: skip

# -- training config -----------------------------------------------------------------------


def _yaml(tmp: Path, text: str, overrides: tuple[str, ...] = ()) -> tuple[Path, tuple[str, ...]]:
    path = tmp / "exp.yaml"
    path.write_text(text)
    return path, overrides


CONFIG_CASES = [
    Case("misspelled key (optim.lrate)", "load_train_config",
         lambda t: _yaml(t, "optim:\n  lrate: 0.1\n"), "ConfigError", "did you mean 'lr'",
         named="optim.lrate"),
    Case("misspelled section (optimizer:)", "load_train_config",
         lambda t: _yaml(t, "optimizer:\n  lr: 0.1\n"), "ConfigError", "did you mean 'optim'",
         named="exp.yaml"),
    Case("misspelled override (run.max_step=5)", "load_train_config",
         lambda t: _yaml(t, "", ("run.max_step=5",)), "ConfigError", "did you mean 'max_steps'",
         named="run.max_step"),
    Case("wrong type: run.max_steps: many", "load_train_config",
         lambda t: _yaml(t, "run:\n  max_steps: many\n"), "ConfigError", "expected an integer",
         named="run.max_steps"),
    Case("wrong type: bool for int (max_steps: yes)", "load_train_config",
         lambda t: _yaml(t, "run:\n  max_steps: yes\n"), "ConfigError", "expected an integer",
         named="run.max_steps"),
    Case("wrong type: run.tensorboard=maybe", "load_train_config",
         lambda t: _yaml(t, "", ("run.tensorboard=maybe",)), "ConfigError", "true/false",
         named="run.tensorboard"),
    Case("wrong type: section given a scalar (run: 5)", "load_train_config",
         lambda t: _yaml(t, "run: 5\n"), "ConfigError", "expected a mapping", named="run"),
    Case("wrong length: data.crop_size=[1,2,3]", "load_train_config",
         lambda t: _yaml(t, "", ("data.crop_size=[1, 2, 3]",)), "ConfigError", "expected 2 items",
         named="data.crop_size"),
    Case("not a choice: run.amp=fp8", "load_train_config",
         lambda t: _yaml(t, "", ("run.amp=fp8",)), "ConfigError", "is not one of",
         named="run.amp"),
    Case("out of range: data.step_limit: 0", "load_train_config",
         lambda t: _yaml(t, "data:\n  step_limit: 0\n"), "ConfigError", ">= 1",
         named="data.step_limit"),
    Case("invalid YAML", "load_train_config", lambda t: _yaml(t, "run: [unclosed\n"),
         "ConfigError", "not valid YAML", named="exp.yaml"),
    Case("top level is a list", "load_train_config", lambda t: _yaml(t, "- a\n- b\n"),
         "ConfigError", "mapping at top level", named="exp.yaml"),
    Case("config file missing", "load_train_config", lambda t: (t / "nope.yaml", ()),
         "ConfigError", "config not found", named="nope.yaml"),
    Case("override without '='", "load_train_config", lambda t: _yaml(t, "", ("run.max_steps",)),
         "ConfigError", "must look like", named="run.max_steps"),
    Case("empty YAML file (all defaults)", "load_train_config", lambda t: _yaml(t, ""), "ok",
         check=lambda cfg: cfg.run.max_steps == 300_000),
]  # fmt: skip

# -- checkpoints ---------------------------------------------------------------------------


def _small_model(width: int = 8) -> Any:
    from amd_plugin import AMD, ModelConfig

    torch.manual_seed(0)
    return AMD(ModelConfig(backbone="small", small_width=width, motion_size=(64, 64)))


def _ours(tmp: Path, name: str = "ours.pt") -> Path:
    from amd_plugin import save_checkpoint

    return save_checkpoint(_small_model(), tmp / name, foreground_channel=1)


def _other_width(tmp: Path) -> Path:
    """Config says small_width=8, weights come from small_width=16 (another architecture)."""
    path = _ours(tmp, "src.pt")
    ckpt = torch.load(path, weights_only=False)
    ckpt["state_dict"] = {k: v for k, v in _small_model(16).state_dict().items()}
    torch.save(ckpt, tmp / "other_width.pt")
    return tmp / "other_width.pt"


def _foreign_state_dict(tmp: Path) -> Path:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8, 2))
    torch.save(net.state_dict(), tmp / "resnet_like.pth")
    return tmp / "resnet_like.pth"


def _edited(tmp: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    ckpt = torch.load(_ours(tmp, "src.pt"), weights_only=False)
    edit(ckpt)
    torch.save(ckpt, tmp / name)
    return tmp / name


def _missing_module(tmp: Path) -> Path:
    """A pickle that names a class from a package that is not installed here."""
    import types

    module = types.ModuleType("mmcv_not_installed")

    class ConfigDict(dict):
        pass

    ConfigDict.__module__, ConfigDict.__qualname__ = module.__name__, "ConfigDict"
    module.ConfigDict = ConfigDict  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        torch.save({"state_dict": {}, "meta": {"config": ConfigDict(a=1)}}, tmp / "mmcv.pth")
    finally:
        del sys.modules[module.__name__]
    return tmp / "mmcv.pth"


CHECKPOINT_CASES = [
    Case("truncated checkpoint (50%)", "load_model",
         lambda t: truncated(t / "half.pt", _ours(t), 0.5), "CheckpointError", "not a readable"),
    Case("empty checkpoint file", "load_model", lambda t: write_bytes(t / "empty.pt", b""),
         "CheckpointError", "not a readable"),
    Case("text file as checkpoint", "load_model",
         lambda t: write_bytes(t / "notes.pt", b"weights go here\n"), "CheckpointError",
         "not a readable"),
    Case("pickled list instead of dict", "load_model",
         lambda t: torch.save([1, 2], t / "list.pt") or t / "list.pt", "CheckpointError",
         "expected a dict"),
    Case("another architecture: same format, other widths", "load_model", _other_width,
         "CheckpointError", "wrong shape"),
    Case("another architecture: foreign state_dict", "load_model", _foreign_state_dict,
         "CheckpointError", "neither an amd-objectness nor an official"),
    Case("unknown model_config key", "load_model",
         lambda t: _edited(t, "badcfg.pt", lambda c: c["model_config"].update(depthh=3)),
         "CheckpointError", "invalid model config.*did you mean"),
    Case("checkpoint lacking weights", "load_model",
         lambda t: _edited(t, "partial.pt", lambda c: c["state_dict"].pop(
             next(iter(c["state_dict"])))), "CheckpointError", "lacks 1 weight"),
    Case("pickled class from a package not installed", "load_model", _missing_module,
         "CheckpointError", "mmcv_not_installed",
         note="was a ModuleNotFoundError traceback; fixed"),
    Case("missing checkpoint path", "load_model", lambda t: t / "nothere.pt", "CheckpointError",
         "checkpoint not found"),
    Case("checkpoint path is a folder", "load_model",
         lambda t: (t / "ckpt.pt").mkdir() or t / "ckpt.pt", "CheckpointError", "not a readable"),
]  # fmt: skip

# -- TensorRT engine metadata ----------------------------------------------------------------

HERE = {
    "tensorrt_version": "10.3.0",
    "gpu_name": "NVIDIA H100 80GB HBM3",
    "compute_capability": "9.0",
    "cuda_version": "12.4",
}


def _engine(tmp: Path, meta: Any, raw: bytes | None = None) -> tuple[Path, dict[str, str]]:
    engine = write_bytes(tmp / "amd.engine", b"\x00engine")
    if raw is not None:
        write_bytes(tmp / "amd.engine.json", raw)
    elif meta is not None:
        (tmp / "amd.engine.json").write_text(json.dumps({**HERE, **meta}))
    return engine, HERE


ENGINE_CASES = [
    Case("engine built on another GPU", "check_engine_metadata",
         lambda t: _engine(t, {"gpu_name": "NVIDIA A100-SXM4-40GB", "compute_capability": "8.0"}),
         "EngineMismatch", "gpu_name: engine 'NVIDIA A100.*vs here 'NVIDIA H100",
         named="amd.engine"),
    Case("engine for another compute capability", "check_engine_metadata",
         lambda t: _engine(t, {"hardware_compatibility": "same_compute_capability",
                               "compute_capability": "8.6"}),
         "EngineMismatch", "compute_capability: engine '8.6' vs here '9.0'", named="amd.engine"),
    Case("engine from another TensorRT version", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.0.1"}), "EngineMismatch",
         "tensorrt_version: engine '10.0.1' vs here '10.3.0'", named="amd.engine"),
    Case("version-compatible engine, older runtime", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.5.0", "version_compatible": True}),
         "EngineMismatch", "same or newer runtime", named="amd.engine"),
    Case("version-compatible engine, newer runtime", "check_engine_metadata",
         lambda t: _engine(t, {"tensorrt_version": "10.1.0", "version_compatible": True}), "ok",
         check=lambda meta: meta["tensorrt_version"] == "10.1.0"),
    Case("Ampere+ engine on a Turing GPU (7.5)", "check_engine_metadata",
         lambda t: (_engine(t, {"hardware_compatibility": "ampere_plus"})[0],
                    {**HERE, "compute_capability": "7.5"}), "EngineMismatch", "Ampere or newer",
         named="amd.engine"),
    Case("engine without its metadata file", "check_engine_metadata", lambda t: _engine(t, None),
         "EngineMismatch", "no metadata file", named="amd.engine.json"),
    Case("corrupt metadata JSON", "check_engine_metadata",
         lambda t: _engine(t, None, raw=b'{"gpu_name": '), "EngineMismatch",
         "unreadable engine metadata", named="amd.engine.json"),
    Case("metadata JSON is an array", "check_engine_metadata",
         lambda t: _engine(t, None, raw=b"[1, 2]"), "EngineMismatch", "expected a JSON object",
         named="amd.engine.json", note="was an AttributeError traceback; fixed"),
]  # fmt: skip

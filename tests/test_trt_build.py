"""``build_engine`` against a recording stand-in for the TensorRT module (CPU, no GPU).

TensorRT cannot be installed here; these tests pin down which API calls the builder makes
on 10.x (weak-typing ``FP16`` flag available) and 11.x (strong typing only), the parser
error report, the timing cache round trip and the metadata file. The real thing is covered
by ``test_tensorrt.py`` on a GPU machine.
"""

from __future__ import annotations

import json
import sys
import types

import pytest
import torch

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper  # noqa: E402

from trt import engine as engine_mod  # noqa: E402
from trt.engine import EngineBuildError, ShapeProfile, build_engine, parse_shape  # noqa: E402

ENV = {
    "tensorrt_version": "",
    "gpu_name": "Fake GPU",
    "compute_capability": "9.0",
    "cuda_version": "12.8",
}


def fake_tensorrt(
    version: str, calls: list, parse_errors: list[str] | None = None
) -> types.ModuleType:
    """A module with the slice of the TensorRT Python API that build_engine uses."""
    mod = types.ModuleType("tensorrt")
    mod.__version__ = version
    major = int(version.split(".")[0])

    class Logger:
        WARNING = 2

        def __init__(self, level):
            calls.append(("logger", level))

    flags = {"VERSION_COMPATIBLE": 7}
    if major < 11:
        flags["FP16"] = 0  # TensorRT 11 removed weak typing
    mod.BuilderFlag = types.SimpleNamespace(**flags)
    mod.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)
    mod.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    mod.HardwareCompatibilityLevel = types.SimpleNamespace(
        AMPERE_PLUS="ampere+", SAME_COMPUTE_CAPABILITY="same"
    )

    class TimingCache:
        def __init__(self, blob):
            self.blob = bytes(blob)

        def serialize(self):
            return self.blob + b"+tuned"

    class Config:
        builder_optimization_level = None
        hardware_compatibility_level = None

        def set_memory_pool_limit(self, pool, size):
            calls.append(("pool", pool, size))

        def set_flag(self, flag):
            calls.append(("flag", flag))

        def create_timing_cache(self, blob):
            calls.append(("timing_cache_in", bytes(blob)))
            return TimingCache(blob)

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache
            return True

        def get_timing_cache(self):
            return self.cache

        def add_optimization_profile(self, profile):
            calls.append(("profile", profile.shapes))

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            self.shapes = (name, lo, opt, hi)

    class Parser:
        def __init__(self, network, logger):
            self.num_errors = len(parse_errors or [])

        def parse_from_file(self, path):
            calls.append(("parse_from_file", path))
            return not parse_errors

        def get_error(self, i):
            return f"node {i}: {parse_errors[i]}"

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("network_flags", flags))
            return object()

        def create_builder_config(self):
            self.config = Config()
            return self.config

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            calls.append(("opt_level", config.builder_optimization_level))
            return b"ENGINE"

    mod.Logger, mod.Builder, mod.OnnxParser = Logger, Builder, Parser
    return mod


def tiny_graph(path, precision: str) -> None:
    """A one-node graph with our metadata (the fake parser never looks inside)."""
    dtype = TensorProto.FLOAT16 if precision == "fp16" else TensorProto.FLOAT
    weight = helper.make_tensor("w", dtype, [1], [1.0])
    node = helper.make_node("Identity", ["images"], ["logits"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [weight],
    )
    model = helper.make_model(graph)
    for key, value in {"output": "logits", "num_segments": "5", "foreground_channel": "1"}.items():
        model.metadata_props.add(key=f"amd.{key}", value=value)
    onnx.save(model, str(path))


@pytest.fixture
def install(monkeypatch, tmp_path):
    monkeypatch.setenv("AMD_OBJECTNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def _install(version: str, parse_errors: list[str] | None = None) -> list:
        calls: list = []
        monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(version, calls, parse_errors))
        monkeypatch.setattr(
            engine_mod,
            "current_environment",
            lambda trt, device=None: {**ENV, "tensorrt_version": version},
        )
        return calls

    return _install


def test_tensorrt10_fp32_graph_uses_fp16_flag(install, tmp_path):
    calls = install("10.9.0")
    tiny_graph(tmp_path / "g.onnx", "fp32")
    profile = ShapeProfile((1, 64, 64), (2, 128, 192), (4, 256, 256))
    cache = tmp_path / "timing.cache"
    meta = build_engine(
        tmp_path / "g.onnx",
        tmp_path / "m.engine",
        profile,
        fp16=True,
        workspace_gb=0.5,
        timing_cache=cache,
        optimization_level=4,
    )
    assert ("network_flags", 0) in calls  # explicit batch is the default from 10.0 on
    assert ("flag", 0) in calls  # BuilderFlag.FP16
    assert ("pool", "workspace", 1 << 29) in calls
    assert ("opt_level", 4) in calls
    assert ("parse_from_file", str(tmp_path / "g.onnx")) in calls
    assert ("profile", ("images", (1, 3, 64, 64), (2, 3, 128, 192), (4, 3, 256, 256))) in calls
    assert (tmp_path / "m.engine").read_bytes() == b"ENGINE"
    saved = json.loads((tmp_path / "m.engine.json").read_text())
    assert saved == meta
    assert saved["tensorrt_version"] == "10.9.0" and saved["gpu_name"] == "Fake GPU"
    assert (
        saved["precision"] == "fp16"
        and saved["num_segments"] == 5
        and saved["foreground_channel"] == 1
    )
    assert saved["profile"]["opt"] == [2, 128, 192] and len(saved["onnx_sha256"]) == 64
    # the timing cache is persisted and fed to the next build
    assert cache.read_bytes() == b"+tuned"
    calls.clear()
    build_engine(tmp_path / "g.onnx", tmp_path / "m2.engine", profile, timing_cache=cache)
    assert ("timing_cache_in", b"+tuned") in calls


def test_tensorrt10_fp16_graph_is_strongly_typed(install, tmp_path):
    calls = install("10.12.0")
    tiny_graph(tmp_path / "g.onnx", "fp16")
    build_engine(
        tmp_path / "g.onnx",
        tmp_path / "m.engine",
        timing_cache=None,
        version_compatible=True,
        hardware_compatibility="ampere_plus",
    )
    assert ("network_flags", 1 << 1) in calls
    assert ("flag", 0) not in calls  # no weak-typing flag on a strongly typed network
    assert ("flag", 7) in calls  # VERSION_COMPATIBLE
    meta = json.loads((tmp_path / "m.engine.json").read_text())
    assert (
        meta["strongly_typed"]
        and meta["version_compatible"]
        and meta["hardware_compatibility"] == "ampere_plus"
    )


def test_tensorrt11_needs_an_fp16_graph(install, tmp_path):
    calls = install("11.4.0")
    tiny_graph(tmp_path / "fp32.onnx", "fp32")
    with pytest.raises(ValueError, match="--fp16"):
        build_engine(tmp_path / "fp32.onnx", tmp_path / "m.engine", timing_cache=None)
    tiny_graph(tmp_path / "fp16.onnx", "fp16")
    build_engine(tmp_path / "fp16.onnx", tmp_path / "m.engine", timing_cache=None)
    assert not [c for c in calls if c[0] == "flag"]
    # an fp32 engine from an fp32 graph is fine on 11.x too
    build_engine(tmp_path / "fp32.onnx", tmp_path / "m32.engine", fp16=False, timing_cache=None)
    assert json.loads((tmp_path / "m32.engine.json").read_text())["precision"] == "fp32"


def test_parser_errors_are_all_reported(install, tmp_path):
    install("10.9.0", parse_errors=["Unsupported op Foo", "bad shape"])
    tiny_graph(tmp_path / "g.onnx", "fp32")
    with pytest.raises(EngineBuildError) as err:
        build_engine(tmp_path / "g.onnx", tmp_path / "m.engine", timing_cache=None)
    assert "node 0: Unsupported op Foo" in str(err.value) and "node 1: bad shape" in str(err.value)
    assert not (tmp_path / "m.engine").exists()


def test_auto_timing_cache_lives_in_the_cache_dir(install, tmp_path):
    install("10.9.0")
    tiny_graph(tmp_path / "g.onnx", "fp32")
    build_engine(tmp_path / "g.onnx", tmp_path / "m.engine")
    assert list((tmp_path / "cache" / "tensorrt").glob("timing_trt10.9.0_Fake-GPU_sm9.0.cache"))


def test_profile_parsing_and_validation():
    assert parse_shape("4x392x696") == (4, 392, 696)
    with pytest.raises(ValueError):
        parse_shape("4x392")
    with pytest.raises(ValueError, match="min <= opt <= max"):
        ShapeProfile((1, 64, 64), (8, 64, 64), (4, 64, 64))

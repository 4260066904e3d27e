"""Bounded fuzzing (hypothesis, 50 examples each): loaders either succeed or raise their own
error class, never another exception.

- config: random nested mappings through ``from_dict(TrainConfig, …)`` and random
  ``key.path=value`` overrides through ``apply_overrides`` → a config, or ConfigError /
  ValueError;
- split files: random lines (mixing real folder/frame names, comments, junk, non-UTF-8
  bytes) → a list of sources, or DataError;
- images: random bytes, and valid images with random bytes flipped or cut off, saved under
  image extensions → ``H×W×3`` uint8, or MediaError.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from amd_plugin.config import ConfigError, apply_overrides, from_dict  # noqa: E402
from amd_plugin.io.images import MediaError, read_image  # noqa: E402
from amd_train.config import TrainConfig  # noqa: E402
from amd_train.data.base import DataError  # noqa: E402
from amd_train.data.frames import parse_split_file  # noqa: E402

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# ------------------------------------------------------------------------------ config

SECTIONS = {
    "model": ["backbone", "small_width", "num_segments", "motion_size", "dropout"],
    "data": ["root", "split", "kind", "step_limit", "crop_size", "scale_min", "synthetic"],
    "loss": ["scale_weights", "w_l1", "w_ssim", "warp_padding"],
    "optim": ["lr", "weight_decay", "accumulate", "warmup_steps"],
    "eval": ["every_steps", "root", "seed"],
    "run": ["max_steps", "batch_size", "amp", "resume", "device", "keep_last"],
}
KEYS = st.sampled_from([*SECTIONS, "modle", "", "1"]) | st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["auto", "small", "off", "fp16", "border", "1e-4", "[64, 64]"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def config_dicts(draw):
    """Mostly-valid section/key names with random values, plus random junk keys."""
    data = {}
    for section in draw(st.lists(st.sampled_from(list(SECTIONS)), max_size=4, unique=True)):
        keys = st.sampled_from(SECTIONS[section]) | st.text(max_size=6)
        data[section] = draw(st.dictionaries(keys, VALUES, max_size=4))
    if draw(st.booleans()):
        data.update(draw(st.dictionaries(KEYS, VALUES, max_size=2)))
    return data


@FUZZ
@given(config_dicts())
def test_fuzz_from_dict_train_config(data):
    try:
        cfg = from_dict(TrainConfig, data)
    except (ConfigError, ValueError):
        return
    assert isinstance(cfg, TrainConfig)


@st.composite
def override_texts(draw):
    section = draw(st.sampled_from([*SECTIONS, "nope"]))
    key = draw(st.sampled_from([*SECTIONS.get(section, ["x"]), "typo"]) | st.text(max_size=5))
    path = draw(st.sampled_from([f"{section}.{key}", section, f"{section}.{key}.deeper", "."]))
    value = draw(
        st.sampled_from(
            [
                "",
                "1",
                "-3",
                "0.5",
                "true",
                "null",
                "[1, 2]",
                "{a: 1}",
                "[",
                "*x",
                "2001-13-45",
                "!!python/object:os.system",
                ".nan",
                "1e999",
            ]
        )
        | st.text(max_size=10)
    )
    sep = draw(st.sampled_from(["=", "=", ":", ""]))
    return f"{path}{sep}{value}"


@FUZZ
@given(st.lists(override_texts(), min_size=1, max_size=3))
def test_fuzz_apply_overrides(overrides):
    try:
        cfg = apply_overrides(TrainConfig(), overrides)
    except (ConfigError, ValueError):
        return
    assert isinstance(cfg, TrainConfig)


# ------------------------------------------------------------------------------ split files


@pytest.fixture(scope="module")
def split_root():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for video in ("cat", "dog"):
            folder = root / "JPEGImages" / video
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (8, 8)).save(folder / f"{i:05d}.jpg")
        (root / "JPEGImages" / "empty").mkdir()
        yield root


TOKENS = st.sampled_from(
    [
        "JPEGImages/cat",
        "JPEGImages/dog",
        "JPEGImages/empty",
        "JPEGImages",
        "/",
        "..",
        "#",
        "# comment",
        "00000.jpg",
        "00001.jpg",
        "00009.jpg",
        "a\x00b",
        "~",
        "*.jpg",
    ]
) | st.text(max_size=8)
LINES = st.lists(TOKENS, max_size=4).map(" ".join) | st.text(max_size=20)


@FUZZ
@given(lines=st.lists(LINES, max_size=6), junk=st.binary(max_size=8), newline=st.booleans())
def test_fuzz_parse_split_file(split_root, lines, junk, newline):
    split = split_root / "split.txt"
    text = ("\r\n" if newline else "\n").join(lines).encode("utf-8", "surrogatepass")
    split.write_bytes(text + (junk if len(junk) % 3 == 0 else b""))
    try:
        sources = parse_split_file(split, split_root)
    except DataError:
        return
    assert sources and all(len(s) > 0 for s in sources)


# ------------------------------------------------------------------------------ images


def _encoded(fmt: str, mode: str) -> bytes:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 16, 3), np.uint8))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = {
    (fmt, mode): _encoded(fmt, mode)
    for fmt, mode in [
        ("PNG", "RGB"),
        ("PNG", "RGBA"),
        ("PNG", "P"),
        ("JPEG", "RGB"),
        ("JPEG", "CMYK"),
        ("GIF", "P"),
        ("BMP", "RGB"),
        ("TIFF", "RGB"),
        ("WEBP", "RGB"),
        ("PPM", "RGB"),
    ]
}
EXTENSIONS = [".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"]


@st.composite
def image_bytes(draw):
    """Random bytes, or a valid image with some bytes changed and/or its tail cut off."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=256))
    data = bytearray(draw(st.sampled_from(list(SEEDS.values()))))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@FUZZ
@given(data=image_bytes(), ext=st.sampled_from(EXTENSIONS))
def test_fuzz_read_image(tmp_path, data, ext):
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(data)
    try:
        array = read_image(path)
    except MediaError as err:
        assert path.name in str(err)
        return
    assert array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8

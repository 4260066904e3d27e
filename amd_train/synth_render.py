"""Numpy building blocks of the synthetic video generator: textures, shapes, compositing.

All images are float32 arrays on the 0–255 colour scale (H×W×3). Nothing here keeps state:
every random choice comes from the ``numpy.random.Generator`` passed in, so a video is a pure
function of its seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

TextureKind = Literal["noise", "stripes", "checker", "gradient", "mixture"]
ShapeKind = Literal["ellipse", "rectangle", "polygon", "star", "blob"]

TEXTURE_KINDS: tuple[TextureKind, ...] = ("noise", "stripes", "checker", "gradient", "mixture")
SHAPE_KINDS: tuple[ShapeKind, ...] = ("ellipse", "rectangle", "polygon", "star", "blob")

# Angular resolution of a shape's radial profile; 512 samples keep rectangle corners and star
# tips sharp at the sizes we render (radius < ~200 px).
PROFILE_SAMPLES = 512


def sample_bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinearly sample ``image`` (h×w or h×w×C) at float pixel coordinates.

    ``ys`` and ``xs`` broadcast against each other (e.g. n×1 and 1×m give an n×m(×C) result).
    Coordinates outside the image are clamped to the border.
    """
    h, w = image.shape[:2]
    ys = np.clip(ys, 0.0, h - 1.0)
    xs = np.clip(xs, 0.0, w - 1.0)
    y0 = np.minimum(ys.astype(np.int64), max(h - 2, 0))  # ys >= 0, so truncation is floor
    x0 = np.minimum(xs.astype(np.int64), max(w - 2, 0))
    fy = (ys - y0).astype(np.float32)
    fx = (xs - x0).astype(np.float32)
    # Gathering rows of a flat (h·w)×C view is much faster than 2-D fancy indexing.
    flat = image.reshape(h * w, -1)
    base = y0 * w + x0
    dx = np.minimum(x0 + 1, w - 1) - x0
    dy = (np.minimum(y0 + 1, h - 1) - y0) * w
    fx, fy = fx[..., None], fy[..., None]
    top = flat[base] * (1.0 - fx) + flat[base + dx] * fx
    bottom = flat[base + dy] * (1.0 - fx) + flat[base + dy + dx] * fx
    out = top * (1.0 - fy) + bottom * fy
    return out if image.ndim == 3 else out[..., 0]


def upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Corner-aligned bilinear resize of a gh×gw(×C) grid to height×width(×C)."""
    gh, gw = grid.shape[:2]
    ys = np.linspace(0.0, gh - 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, gw - 1.0, width, dtype=np.float32)[None, :]
    return sample_bilinear(grid, ys, xs)


def smooth_noise(
    rng: np.random.Generator, height: int, width: int, cell: float, octaves: int = 4
) -> np.ndarray:
    """Multi-octave value noise in [0, 1], height×width; ``cell`` is the coarsest period in px."""
    out = np.zeros((height, width), np.float32)
    amplitude, total = 1.0, 0.0
    for _ in range(octaves):
        gh = max(2, int(np.ceil(height / cell)) + 1)
        gw = max(2, int(np.ceil(width / cell)) + 1)
        out += amplitude * upsample(rng.random((gh, gw), dtype=np.float32), height, width)
        total += amplitude
        amplitude *= 0.5
        cell = max(cell / 2.0, 2.0)
    out /= total
    # Stretch to the full range so that palettes, not octave statistics, decide contrast.
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def colourise(values: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map h×w values in [0, 1] through a k×3 palette (piecewise linear) to h×w×3."""
    stops = np.linspace(0.0, 1.0, len(palette))
    channels = [np.interp(values, stops, palette[:, c]).astype(np.float32) for c in range(3)]
    return np.stack(channels, axis=-1)


def random_palette(
    rng: np.random.Generator, size: int, centre: np.ndarray | None = None, spread: float = 255.0
) -> np.ndarray:
    """size×3 colours: uniform over RGB, or within ±spread of ``centre`` (low contrast)."""
    if centre is None:
        return rng.uniform(0.0, 255.0, (size, 3)).astype(np.float32)
    jitter = rng.uniform(-spread, spread, (size, 3))
    return np.clip(centre[None, :] + jitter, 0.0, 255.0).astype(np.float32)


def _rotated_coords(
    rng: np.random.Generator, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by a random angle: two broadcastable h×w arrays."""
    theta = rng.uniform(0.0, np.pi)
    yy = np.arange(height, dtype=np.float32)[:, None]
    xx = np.arange(width, dtype=np.float32)[None, :]
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    return u, v


def make_texture(
    rng: np.random.Generator,
    height: int,
    width: int,
    kind: TextureKind,
    palette: np.ndarray,
    cell: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """A height×width×3 float32 texture of the given kind coloured by ``palette`` (k×3).

    ``cell`` is the (min, max) coarsest period of ``noise`` in px; (0, 0) scales it with the
    texture (4 px … a third of the short side), so a small texture gets a finer grain.
    """
    short = float(min(height, width))
    if kind == "noise":
        lo, hi = cell if cell[1] > 0 else (4.0, max(8.0, short / 3))
        values = smooth_noise(rng, height, width, cell=rng.uniform(lo, hi))
    elif kind in ("stripes", "checker"):
        u, v = _rotated_coords(rng, height, width)
        period = rng.uniform(4.0, max(6.0, short / 5))
        wave = np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
        if kind == "checker":
            wave = wave * np.sin(2 * np.pi * v / period)
        # A random gain between sine-like and almost square edges.
        values = 0.5 + 0.5 * np.tanh(rng.uniform(0.5, 6.0) * wave)
    elif kind == "gradient":
        u, _ = _rotated_coords(rng, height, width)
        ramp = np.broadcast_to(u, (height, width))
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        values = 0.8 * ramp + 0.2 * smooth_noise(rng, height, width, cell=max(8.0, short / 4))
    elif kind == "mixture":
        first, second = rng.choice(["noise", "stripes", "checker", "gradient"], 2, replace=False)
        tex_a = make_texture(rng, height, width, first, palette, cell)
        tex_b = make_texture(rng, height, width, second, palette[::-1].copy(), cell)
        alpha = smooth_noise(rng, height, width, cell=max(8.0, short / 2), octaves=2)
        alpha = np.clip((alpha - 0.5) * 4.0 + 0.5, 0.0, 1.0)[..., None]
        return tex_a * (1.0 - alpha) + tex_b * alpha
    else:
        raise ValueError(f"unknown texture kind {kind!r}; expected one of {TEXTURE_KINDS}")
    texture = colourise(values.astype(np.float32), palette)
    # Fine grain that sticks to the surface: gives flat regions something to match.
    grain = rng.uniform(0.0, 8.0)
    if grain > 0:
        texture += rng.standard_normal((height, width, 1), dtype=np.float32) * grain
    return texture


def _polygon_profile(angles: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Radius of a star-shaped polygon (vertices in polar form, sorted angles) per profile angle."""
    theta = np.linspace(0.0, 2 * np.pi, PROFILE_SAMPLES, endpoint=False)
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=-1)
    seg = (np.searchsorted(angles, theta, side="right") - 1) % len(angles)
    p1, p2 = pts[seg], pts[(seg + 1) % len(angles)]
    edge = p2 - p1
    direction = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    # Ray t·d meets the edge p1 + s·(p2 − p1) where t = (p1 × e) / (d × e).
    num = p1[:, 0] * edge[:, 1] - p1[:, 1] * edge[:, 0]
    den = direction[:, 0] * edge[:, 1] - direction[:, 1] * edge[:, 0]
    return num / np.where(np.abs(den) < 1e-9, 1e-9, den)


def shape_profile(rng: np.random.Generator, kind: ShapeKind) -> np.ndarray:
    """Radial profile r(θ) (PROFILE_SAMPLES,) of a random shape, max radius 1.

    Every shape is star-shaped around its centre, so "inside" is simply ``r <= r(θ)``; this
    lets one vectorised renderer draw all kinds.
    """
    theta = np.linspace(0.0, 2 * np.pi, PROFILE_SAMPLES, endpoint=False)
    if kind == "ellipse":
        a, b = 1.0, rng.uniform(0.45, 1.0)
        profile = a * b / np.sqrt((b * np.cos(theta)) ** 2 + (a * np.sin(theta)) ** 2)
    elif kind == "rectangle":
        a, b = 1.0, rng.uniform(0.35, 1.0)
        with np.errstate(divide="ignore"):
            profile = np.minimum(a / np.abs(np.cos(theta)), b / np.abs(np.sin(theta)))
    elif kind == "polygon":
        n = int(rng.integers(3, 9))
        step = 2 * np.pi / n
        angles = np.sort(np.arange(n) * step + rng.uniform(-0.3, 0.3, n) * step)
        angles = angles - angles[0]
        profile = _polygon_profile(angles, rng.uniform(0.7, 1.0, n))
    elif kind == "star":
        n = int(rng.integers(4, 8))
        angles = np.arange(2 * n) * np.pi / n
        radii = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.35, 0.6))
        profile = _polygon_profile(angles, radii)
    elif kind == "blob":
        profile = np.ones_like(theta)
        for k in range(2, 6):
            profile += rng.uniform(0.0, 0.35 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    else:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {SHAPE_KINDS}")
    profile = np.clip(profile, 0.05, None)
    return (profile / profile.max()).astype(np.float32)


def composite_object(
    frame: np.ndarray,
    mask: np.ndarray,
    texture: np.ndarray,
    profile: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    angle: float,
) -> None:
    """Draw one object over ``frame`` (H×W×3 float32) in place and OR its mask into ``mask``.

    The object is ``profile`` scaled to ``radius`` px, rotated by ``angle`` (rad), centred at
    ``centre`` = (x, y); ``texture`` (S×S×3) covers its local square [-1, 1]² and moves rigidly
    with it. Edges are anti-aliased with a one-pixel ramp; the mask is the alpha ≥ 0.5 region.
    """
    h, w = frame.shape[:2]
    cx, cy = centre
    extent = radius + 1.5
    y0, y1 = max(int(np.floor(cy - extent)), 0), min(int(np.ceil(cy + extent)) + 1, h)
    x0, x1 = max(int(np.floor(cx - extent)), 0), min(int(np.ceil(cx + extent)) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return
    dy = (np.arange(y0, y1, dtype=np.float32) - cy)[:, None]
    dx = (np.arange(x0, x1, dtype=np.float32) - cx)[None, :]
    cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    u = (dx * cos + dy * sin) / radius
    v = (-dx * sin + dy * cos) / radius
    dist = np.hypot(u, v)
    pos = (np.arctan2(v, u) / (2 * np.pi) % 1.0) * PROFILE_SAMPLES
    i0 = np.floor(pos).astype(np.int64) % PROFILE_SAMPLES
    frac = pos - np.floor(pos)
    edge = profile[i0] * (1.0 - frac) + profile[(i0 + 1) % PROFILE_SAMPLES] * frac
    alpha = np.clip((edge - dist) * radius + 0.5, 0.0, 1.0).astype(np.float32)
    inside = alpha > 0.0
    if not inside.any():
        return
    # Texture lookups only where the object covers the pixel (about half its bounding box).
    size = texture.shape[0] - 1
    colour = sample_bilinear(
        texture, (v[inside] + 1.0) * 0.5 * size, (u[inside] + 1.0) * 0.5 * size
    )
    region = frame[y0:y1, x0:x1]
    covered = region[inside]
    region[inside] = covered + alpha[inside][:, None] * (colour - covered)
    mask[y0:y1, x0:x1] |= alpha >= 0.5


def shifted_crop(
    canvas: np.ndarray, top: float, left: float, height: int, width: int
) -> np.ndarray:
    """height×width window of ``canvas`` at a sub-pixel offset (bilinear, 4 taps)."""
    iy, ix = int(np.floor(top)), int(np.floor(left))
    fy, fx = np.float32(top - iy), np.float32(left - ix)
    win = canvas[iy : iy + height + 1, ix : ix + width + 1]
    top_row = win[:height, :width] * (1 - fx) + win[:height, 1 : width + 1] * fx
    bottom_row = win[1 : height + 1, :width] * (1 - fx) + win[1 : height + 1, 1 : width + 1] * fx
    return top_row * (1 - fy) + bottom_row * fy

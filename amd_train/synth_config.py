"""How a synthetic world looks: the config of the built-in video generator.

It lives apart from the generator (:mod:`amd_train.synthetic`) so that the training data
config can hold it without importing the generator, which itself uses the data pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from amd_train.synth_render import SHAPE_KINDS, TEXTURE_KINDS, ShapeKind, TextureKind


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic videos look. Distances are pixels at the configured size.

    The defaults are the *noise world*: coarse multi-octave noise behind a slowly panning
    camera, one large object filled with finer noise in other colours. On it the
    appearance network learns to segment from view synthesis alone within minutes on a CPU
    (``benchmarks/README.md``, emergence). ``configs/synthetic_textured.yaml`` keeps the
    harder *textured world* (periodic textures, more and smaller objects, camouflage).

    Attributes:
        height, width: frame size (even sizes are needed for mp4 export).
        num_frames: frames per video.
        min_objects, max_objects: number of foreground objects, inclusive range.
        object_size: (min, max) object diameter as a fraction of min(height, width).
        object_speed: (min, max) speed relative to the background, px/frame. The minimum is
            enforced in every frame, so objects never stop relative to the background.
        background_pan: max background translation speed, px/frame (0 = static camera).
        acceleration: max per-frame velocity change, px/frame².
        rotation_speed: max object rotation, rad/frame.
        scale_change: max relative object size change per frame.
        shapes: outline kinds to draw objects from.
        background_textures, object_textures: texture kinds to draw from.
        background_cell, object_cell: (min, max) coarsest period of ``noise`` textures in px;
            (0, 0) scales it with the texture's size (4 px … a third of its short side).
        camouflage_prob: chance an object reuses the background's texture kind and palette.
        low_contrast_prob: chance an object's colours lie close to the background's mean.
        noise_std: per-frame sensor noise (0–255 scale).
        fps: frame rate written into mp4 files.
        seed: default seed of :func:`amd_train.synthetic.generate_video`.
    """

    height: int = 128
    width: int = 128
    num_frames: int = 32
    min_objects: int = 1
    max_objects: int = 1
    object_size: tuple[float, float] = (0.4, 0.75)
    object_speed: tuple[float, float] = (2.0, 6.0)
    background_pan: float = 1.5
    acceleration: float = 0.15
    rotation_speed: float = 0.03
    scale_change: float = 0.01
    shapes: tuple[ShapeKind, ...] = SHAPE_KINDS
    background_textures: tuple[TextureKind, ...] = ("noise",)
    object_textures: tuple[TextureKind, ...] = ("noise",)
    background_cell: tuple[float, float] = (24.0, 64.0)
    object_cell: tuple[float, float] = (3.0, 8.0)
    camouflage_prob: float = 0.0
    low_contrast_prob: float = 0.0
    noise_std: float = 2.0
    fps: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8 or self.num_frames < 1:
            raise ValueError(
                f"synthetic: need height, width >= 8 and num_frames >= 1, got "
                f"{self.height}x{self.width}x{self.num_frames}"
            )
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(
                f"synthetic: need 1 <= min_objects <= max_objects, got "
                f"{self.min_objects}, {self.max_objects}"
            )
        if not 0 < self.object_size[0] <= self.object_size[1]:
            raise ValueError(
                f"synthetic.object_size must be 0 < min <= max, got {self.object_size}"
            )
        if not 0 < self.object_speed[0] <= self.object_speed[1]:
            raise ValueError(
                f"synthetic.object_speed must be 0 < min <= max (objects must move), got "
                f"{self.object_speed}"
            )
        if not self.shapes or not self.background_textures or not self.object_textures:
            raise ValueError(
                "synthetic.shapes, background_textures and object_textures must not be empty"
            )
        unknown = set(self.background_textures + self.object_textures) - set(TEXTURE_KINDS)
        if unknown:
            raise ValueError(f"synthetic: unknown texture kinds {sorted(unknown)}")
        for name in ("background_cell", "object_cell"):
            lo, hi = getattr(self, name)
            if not (lo == hi == 0 or 2 <= lo <= hi):
                raise ValueError(
                    f"synthetic.{name} must be (0, 0) or 2 <= min <= max, got {lo, hi}"
                )

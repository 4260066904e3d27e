"""Independent motion: what moves in a video once the camera's own motion is taken out.

A label-free cue for which segment is the object (:mod:`amd_plugin.objectness`). For each
pair of consecutive frames (grey, resized to a fixed analysis size so that pixel
thresholds mean the same for every input):

1. dense optical flow (Farnebäck, OpenCV) from frame t to frame t + 1;
2. the camera's motion: a homography fitted to that flow on a regular grid with RANSAC
   (1 px inlier threshold), i.e. the motion of the dominant plane, which is the
   background whenever the object covers less of the frame than the scene does;
3. the residual: per pixel, the distance between the flow and the homography's flow.

Static scenery (up to parallax) leaves a small residual whatever the camera does (pan,
zoom, rotation, a camera that follows the object); an independently moving object leaves a
large one. Unlike the segment flow of the motion pathway, this needs no trained motion
network, so it also works for the ONNX and TensorRT backends and for an early model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

ANALYSIS_SHORT_SIDE = 128  # px; residuals are in pixels of this resolution
GRID_STEP = 4  # px between the flow samples the homography is fitted to
RANSAC_THRESHOLD_PX = 1.0


def analysis_size(height: int, width: int, short_side: int = ANALYSIS_SHORT_SIDE) -> tuple:
    """``(h, w)`` with the given short side and the input's aspect ratio."""
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_grey(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``H×W×3`` uint8 RGB (or ``H×W`` grey) → ``h×w`` uint8 grey at ``size = (h, w)``."""
    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
    if frame.shape != tuple(size):
        frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return frame


def dense_flow(grey_a: np.ndarray, grey_b: np.ndarray) -> np.ndarray:
    """``h×w×2`` flow (x, y) in px mapping frame A's pixels into frame B (Farnebäck)."""
    # OpenCV's documented example settings: a 3-level pyramid halving each level, 15 px
    # windows, 3 iterations, polynomial expansion over 5 px neighbourhoods (sigma 1.2)
    return cv2.calcOpticalFlowFarneback(
        grey_a,
        grey_b,
        None,
        pyr_scale=0.5,
        levels=3,
        winsize=15,
        iterations=3,
        poly_n=5,
        poly_sigma=1.2,
        flags=0,
    )


def camera_flow(flow: np.ndarray) -> np.ndarray:
    """``h×w×2`` flow of the homography that best explains ``flow`` (RANSAC on a grid);
    the median translation where no homography can be fitted."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h:GRID_STEP, 0:w:GRID_STEP]
    src = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    dst = src + flow[ys.ravel(), xs.ravel()]
    homography = None
    if len(src) >= 8:
        homography, _ = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_THRESHOLD_PX)
    if homography is None or not np.all(np.isfinite(homography)):
        return np.broadcast_to(np.median(flow.reshape(-1, 2), axis=0), flow.shape).copy()
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float64)
    points = np.stack([gx, gy, np.ones_like(gx)], axis=-1) @ homography.T
    depth = points[..., 2:3]
    depth = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
    return (points[..., :2] / depth - np.stack([gx, gy], axis=-1)).astype(np.float32)


def independent_motion(
    frames: Sequence[np.ndarray], short_side: int = ANALYSIS_SHORT_SIDE
) -> np.ndarray:
    """Residual motion ``(T-1)×h×w`` (px at the analysis size) of ``T`` consecutive frames.

    Args:
        frames: ``T ≥ 2`` frames of one video, ``H×W×3`` uint8 RGB, all the same size.
        short_side: the analysis resolution's short side.

    Returns:
        for each pair (t, t + 1), on frame t's grid, the length of the flow left after the
        camera's flow (:func:`camera_flow`) is removed.
    """
    if len(frames) < 2:
        raise ValueError("independent_motion needs at least two frames")
    shape = np.asarray(frames[0]).shape[:2]
    if any(np.asarray(f).shape[:2] != shape for f in frames):
        raise ValueError("independent_motion needs frames of one size")
    size = analysis_size(*shape, short_side)
    greys = [to_grey(f, size) for f in frames]
    residuals = []
    for a, b in itertools.pairwise(greys):
        flow = dense_flow(a, b)
        residuals.append(np.linalg.norm(flow - camera_flow(flow), axis=-1))
    return np.stack(residuals).astype(np.float32)


def resize_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``T×h×w`` maps area-averaged (or bilinearly enlarged) to ``T×size``."""
    if maps.shape[1:] == tuple(size):
        return maps
    shrink = size[0] <= maps.shape[1] and size[1] <= maps.shape[2]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(m, (size[1], size[0]), interpolation=mode) for m in maps])

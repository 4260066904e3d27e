"""Independent motion (flow minus the camera's homography) and its use in the channel choice."""

import cv2
import numpy as np
import pytest

from amd_plugin.camera_motion import camera_flow, independent_motion, resize_maps
from amd_plugin.objectness import (
    channel_evidence,
    choose_foreground_channel,
    residual_departure,
)

H, W = 96, 128


def textured_scene(seed: int, height: int, width: int) -> np.ndarray:
    """A smooth random RGB texture (blurred noise) that optical flow can track."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    return (cv2.GaussianBlur(noise, (0, 0), 2.0) * 255).clip(0, 255).astype(np.uint8)


def panning_video(frames: int = 5, camera=(2, 1), obj=(-3, 2), box=(30, 40, 24, 24)):
    """The camera pans over a large scene by ``camera`` px per frame (x, y) while a textured
    square moves by ``obj`` px per frame relative to the image. Returns frames and, per
    frame, the object's mask."""
    scene = textured_scene(0, H + 40, W + 40)
    patch = textured_scene(1, box[2], box[3])
    video, masks = [], []
    for t in range(frames):
        x0, y0 = 20 + camera[0] * t, 20 + camera[1] * t
        frame = scene[y0 : y0 + H, x0 : x0 + W].copy()
        top, left = box[0] + obj[1] * t, box[1] + obj[0] * t
        frame[top : top + box[2], left : left + box[3]] = patch
        mask = np.zeros((H, W), bool)
        mask[top : top + box[2], left : left + box[3]] = True
        video.append(frame)
        masks.append(mask)
    return video, masks


def homography_flow(h: np.ndarray, height: int, width: int) -> np.ndarray:
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float64)
    p = np.stack([gx, gy, np.ones_like(gx)], -1) @ h.T
    return (p[..., :2] / p[..., 2:] - np.stack([gx, gy], -1)).astype(np.float32)


def test_camera_flow_recovers_a_homography_and_ignores_a_smaller_mover():
    zoom_and_pan = np.array([[1.03, 0.01, 1.5], [-0.01, 1.03, -0.5], [0.0, 0.0, 1.0]])
    flow = homography_flow(zoom_and_pan, H, W)
    np.testing.assert_allclose(camera_flow(flow), flow, atol=0.02)
    moved = flow.copy()
    moved[30:60, 40:70] += [4.0, -3.0]  # an object, 7 % of the frame, moving on its own
    residual = np.linalg.norm(moved - camera_flow(moved), axis=-1)
    assert residual[30:60, 40:70].mean() == pytest.approx(5.0, abs=0.05)
    outside = np.ones((H, W), bool)
    outside[30:60, 40:70] = False
    assert residual[outside].max() < 0.05


def test_independent_motion_marks_the_object_not_the_panning_scene():
    video, masks = panning_video()
    residual = independent_motion(video, short_side=H)
    assert residual.shape == (len(video) - 1, H, W)
    inside = np.mean([r[m].mean() for r, m in zip(residual, masks)])
    outside = np.mean([r[~m].mean() for r, m in zip(residual, masks)])
    # the object moves by |(-3, 2) - (-2, -1)| ≈ 3.2 px relative to the scene's flow
    assert inside > 1.5 and outside < 0.5, (inside, outside)
    # other analysis sizes give the same picture, in pixels of that size
    small = independent_motion(video, short_side=48)
    assert small.shape == (len(video) - 1, 48, 64)


def test_independent_motion_rejects_what_it_cannot_use():
    video, _ = panning_video(frames=2)
    with pytest.raises(ValueError, match="two frames"):
        independent_motion(video[:1])
    with pytest.raises(ValueError, match="one size"):
        independent_motion([video[0], video[1][:64]])


def test_moving_object_touching_the_border_beats_a_centred_still_region():
    """The object (channel 1) touches the left border, so appearance alone prefers a centred
    patch of scenery (channel 2); what moves apart from the camera settles it."""
    video, _ = panning_video(frames=5, camera=(2, 0), obj=(2, 0), box=(36, 0, 24, 24))
    t = len(video)
    masks = np.zeros((t, 3, H, W), np.float32)
    masks[:, 0] = 1.0
    for i in range(t):
        left = 2 * i
        masks[i, 0, 36:60, left : left + 24] = 0.0
        masks[i, 1, 36:60, left : left + 24] = 1.0
    masks[:, 0, 10:40, 70:110] = 0.0
    masks[:, 2, 10:40, 70:110] = 1.0  # still scenery, away from the border
    residual = independent_motion(video, short_side=H)
    assert choose_foreground_channel(masks) == 2
    assert choose_foreground_channel(masks, residual_motion=residual) == 1
    evidence = channel_evidence(masks, residual_motion=residual)
    assert evidence["departure"][1] > 1.0 > 0.0 > max(evidence["departure"][[0, 2]])
    plain = residual_departure(masks, residual, relative_to_frame=False)
    assert plain[1] > 3 * max(plain[0], plain[2])
    # masks at a coarser grid than the motion: the residual is averaged down to them
    coarse = masks[:, :, ::4, ::4]
    assert choose_foreground_channel(coarse, residual_motion=residual) == 1


def test_resize_maps_averages_down_and_keeps_the_mean():
    maps = np.random.default_rng(0).random((2, 32, 48)).astype(np.float32)
    small = resize_maps(maps, (8, 12))
    assert small.shape == (2, 8, 12)
    np.testing.assert_allclose(small.mean(axis=(1, 2)), maps.mean(axis=(1, 2)), rtol=1e-4)
    assert resize_maps(maps, (32, 48)) is maps


def test_a_channel_is_compared_with_the_frame_it_lies_in():
    """Frame 1's camera motion is explained poorly everywhere (residual 3 px off the
    object). Channel 2 holds frame 1's background only, channel 0 the object (plus some
    background) in both frames: by plain mean residual channel 2 moves most; compared with
    its own frame it moves least."""
    h = w = 20
    obj = np.zeros((h, w), bool)
    obj[8:12, 8:12] = True
    residual = np.stack([np.where(obj, 6.0, 0.2), np.where(obj, 8.0, 3.0)]).astype(np.float32)
    masks = np.zeros((3, 3, h, w), np.float32)
    left = np.zeros((h, w), bool)
    left[:, :10] = True
    band = np.zeros((h, w), bool)
    band[6:14, 6:14] = True
    masks[0, 0] = left | obj
    masks[0, 1] = ~(left | obj)
    masks[1:, 0] = band
    masks[1:, 2] = ~band
    plain = residual_departure(masks, residual, relative_to_frame=False)
    relative = residual_departure(masks, residual)
    assert np.argmax(plain) == 2
    assert np.argmax(relative) == 0 and relative[2] < 0
    # the channels' frame-relative residuals, weighted by their mass, cancel in every frame
    for t in range(len(residual)):
        one_frame = residual_departure(masks[t : t + 1], residual[t : t + 1])
        assert (one_frame * masks[t].sum(axis=(1, 2))).sum() == pytest.approx(0.0, abs=1e-2)
    assert choose_foreground_channel(masks, residual_motion=residual) == 0

"""Segmenter, objectness and the amd-segment CLI."""

import numpy as np
import pytest
from PIL import Image

from amd_plugin import Segmenter, save_checkpoint
from amd_plugin.cli.segment import main as segment_main
from amd_plugin.io.video import VideoWriter
from amd_plugin.objectness import channel_evidence, choose_foreground_channel, objectness_score


def test_objectness_high_for_a_distinct_object_low_otherwise():
    blob = np.zeros((64, 64), np.float32)
    blob[20:44, 24:40] = 0.95
    assert objectness_score(blob) > 0.8
    assert objectness_score(np.zeros((64, 64), np.float32)) == 0.0
    assert objectness_score(np.full((64, 64), 0.9, np.float32)) < 0.05  # everything = background
    assert objectness_score(np.full((64, 64), 0.5, np.float32)) < 0.05  # undecided
    hesitant = blob * 0.55 + 0.2
    assert objectness_score(hesitant) < objectness_score(blob)


def test_label_free_channel_prefers_the_centred_moving_segment():
    t, k, h, w = 4, 3, 32, 32
    masks = np.zeros((t, k, h, w), np.float32)
    masks[:, 0] = 1.0
    masks[:, 0, 10:22, 10:22] = 0.0
    masks[:, 1, 10:22, 10:22] = 1.0  # the object, away from the border
    masks[:, 2] = 0.0  # an empty channel must not win just by avoiding the border
    assert choose_foreground_channel(masks) == 1
    motion = np.zeros((t, k, 2), np.float32)
    motion[:, 1] = [3.0, 0.0]
    assert choose_foreground_channel(masks, motion) == 1
    # the evidence itself, with known values: channel 1 holds 144 of 1024 pixels, none on
    # the border; channel 0 holds the rest and all of the border
    evidence = channel_evidence(masks, motion[:3])  # 3 frame pairs for 4 frames
    np.testing.assert_allclose(evidence["mass"], [880 / 1024, 144 / 1024, 0.0], rtol=1e-5)
    assert evidence["centredness"][1] == 1.0 and evidence["centredness"][0] == 0.0
    assert evidence["present"].tolist() == [True, True, False]
    # dominant flow per frame = (144·3 + 880·0) / 1024 px; each channel's distance from it
    dominant = 144 * 3.0 / 1024
    np.testing.assert_allclose(evidence["departure"][:2], [dominant, 3.0 - dominant], rtol=1e-4)
    assert "departure" not in channel_evidence(masks)
    # with motion, all the evidence comes from the frames that have one (the last has none)
    moved = masks.copy()
    moved[-1] = masks[-1, [1, 0, 2]]
    with_motion = channel_evidence(moved, motion[:3])
    for key, value in channel_evidence(moved[:3], motion[:3]).items():
        np.testing.assert_array_equal(with_motion[key], value)


def test_sub_pixel_departures_do_not_outweigh_a_centred_segment():
    """Two candidates: a block touching the bottom border (centredness 0.29) and a strip along
    the left border (centredness 0), departing 0.17 and 0.25 px from the dominant flow.
    Divided by the largest departure alone, the strip's 0.25 px counts as a full motion and
    wins; with the floor (0.5 px) the more centred block wins; a real motion still wins."""
    t, k, h, w = 4, 3, 32, 32
    masks = np.zeros((t, k, h, w), np.float32)
    masks[:, 0] = 1.0
    masks[:, 0, 20:, 8:24] = 0.0
    masks[:, 1, 20:, 8:24] = 1.0
    masks[:, 0, :, :6] = 0.0
    masks[:, 2, :, :6] = 1.0  # a strip on the left border
    motion = np.zeros((t, k, 2), np.float32)
    motion[:, 1] = [0.2, 0.0]
    motion[:, 2] = [0.0, 0.3]
    evidence = channel_evidence(masks, motion)
    np.testing.assert_allclose(evidence["centredness"][1:], [0.289, 0.0], atol=1e-3)
    np.testing.assert_allclose(evidence["departure"][1:], [0.172, 0.247], atol=1e-3)
    assert choose_foreground_channel(masks, motion) == 1
    assert choose_foreground_channel(masks, motion, departure_floor=0.0) == 2
    motion[:, 2] = [0.0, 3.0]
    assert choose_foreground_channel(masks, motion) == 2


def test_centredness_fades_as_the_motion_grows():
    """A moving channel on the border (centredness 0, 1.84 px) against a centred one that
    moves less (0.32, 1.58 px): with centredness at full weight the centred one wins; with
    its weight faded to 0.5 px / 1.84 px the moving one does. In a still video (departures
    under the 0.5 px floor) centredness keeps its full weight and decides."""
    from amd_plugin.objectness import choose_from_evidence

    evidence = {
        "mass": np.array([0.5, 0.2, 0.3]),
        "centredness": np.array([0.0, 0.0, 0.32]),
        "present": np.array([True, True, True]),
        "departure": np.array([1.0, 1.84, 1.58]),
    }
    assert choose_from_evidence(evidence) == 1
    assert choose_from_evidence(evidence, fade_centredness=False) == 2
    still = {**evidence, "departure": np.array([0.1, 0.3, 0.2])}
    assert choose_from_evidence(still) == 2


def test_predictions_have_input_size_and_valid_ranges(small_model):
    segmenter = Segmenter(small_model, short_side=64, foreground=1)
    images = [
        np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        for i, (h, w) in enumerate([(50, 70), (64, 64), (30, 90)])
    ]
    preds = segmenter.predict(images)
    for image, pred in zip(images, preds):
        assert pred.foreground.shape == image.shape[:2] and pred.foreground.dtype == np.float32
        assert 0.0 <= pred.foreground.min() <= pred.foreground.max() <= 1.0
        assert pred.segments.shape[0] == small_model.num_segments
        assert np.allclose(pred.segments.sum(0), 1.0, atol=1e-4)
        assert 0.0 <= pred.objectness <= 1.0 and pred.foreground_channel == 1


def test_auto_channel_works_for_a_fresh_model(small_model):
    segmenter = Segmenter(small_model, short_side=64)
    assert segmenter.foreground_channel is None
    segmenter.predict([np.zeros((40, 40, 3), np.uint8)])
    assert 0 <= segmenter.foreground_channel < small_model.num_segments


def test_calibrate_uses_motion_only_for_consecutive_frames(small_model, monkeypatch):
    import amd_plugin.predictor as predictor

    seen = []

    def spy(masks, residual_motion=None):
        seen.append(None if residual_motion is None else residual_motion.shape)
        return 3

    monkeypatch.setattr(predictor, "choose_foreground_channel", spy)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    segmenter = Segmenter(small_model, short_side=64)
    assert segmenter.calibrate(frames) == 3 and segmenter.foreground_channel == 3
    assert segmenter.calibrate(frames, consecutive=True) == 3
    mixed = [*frames[:2], rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)]
    segmenter.calibrate(mixed, consecutive=True)  # sizes differ: appearance alone
    assert seen == [None, (3, 128, 171), None]  # 3 pairs at short side 128


@pytest.fixture
def inputs(tmp_path, small_model):
    ckpt = save_checkpoint(small_model, tmp_path / "m.pt", foreground_channel=1)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(
            folder / f"{i:05d}.jpg"
        )
    with VideoWriter(tmp_path / "clip.mp4", fps=5) as writer:
        for _ in range(4):
            writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    (tmp_path / "broken.mp4").write_bytes(b"garbage" * 50)
    (tmp_path / "notes.jpg").write_text("this is text")
    return tmp_path, ckpt


def test_cli_writes_masks_for_image_folder_and_video(inputs, capsys):
    root, ckpt = inputs
    out = root / "out"
    code = segment_main(
        [
            str(root / "photo.png"),
            str(root / "frames"),
            str(root / "clip.mp4"),
            "--checkpoint",
            str(ckpt),
            "--out",
            str(out),
            "--short-side",
            "48",
        ]
    )
    assert code == 0
    mask = np.asarray(Image.open(out / "photo_mask.png"))
    assert mask.shape == (48, 64) and set(np.unique(mask)) <= {0, 255}
    assert (out / "photo_overlay.png").exists() and (out / "photo_heatmap.png").exists()
    assert sorted(p.name for p in (out / "frames" / "masks").iterdir()) == [
        "00001.png",
        "00002.png",
        "00003.png",
    ]
    assert len(list((out / "clip" / "masks").iterdir())) == 4
    assert (out / "clip" / "overlay.mp4").stat().st_size > 0
    assert "objectness" in capsys.readouterr().out


def test_cli_bad_inputs_are_named_and_others_complete(inputs, capsys):
    root, ckpt = inputs
    out = root / "out2"
    code = segment_main(
        [
            str(root / "broken.mp4"),
            str(root / "notes.jpg"),
            str(root / "nothere.png"),
            str(root / "photo.png"),
            "--checkpoint",
            str(ckpt),
            "--out",
            str(out),
            "--short-side",
            "48",
        ]
    )
    assert code == 1
    printed = capsys.readouterr()
    text = printed.out + printed.err
    for name in ("broken.mp4", "notes.jpg", "nothere.png"):
        assert name in text
    assert (out / "photo_mask.png").exists()


def test_auto_short_side_is_the_size_the_checkpoint_records(small_model, tmp_path):
    from amd_plugin.checkpoint import export_inference_checkpoint
    from amd_plugin.predictor import DEFAULT_SHORT_SIDE

    plain = save_checkpoint(small_model, tmp_path / "plain.pt", foreground_channel=1)
    sized = export_inference_checkpoint(plain, tmp_path / "sized.pt", short_side=96)
    assert Segmenter(plain).short_side == DEFAULT_SHORT_SIDE  # nothing recorded
    assert Segmenter(sized).short_side == 96
    assert Segmenter(sized, short_side=48).short_side == 48  # an explicit size wins
    assert Segmenter(sized, short_side=None).short_side is None  # keep the input size
    assert Segmenter(small_model).short_side == DEFAULT_SHORT_SIDE  # a model object: no record
    pred = Segmenter(sized, foreground=1).predict([np.zeros((48, 64, 3), np.uint8)])[0]
    assert pred.foreground.shape == (48, 64)  # resized back to the input
    with pytest.raises(ValueError, match="short_side"):
        Segmenter(sized, short_side="big")


def test_builtin_checkpoints_record_their_inference_size():
    from amd_plugin.checkpoint import BUILTIN_CHECKPOINTS, DEFAULT_CHECKPOINT, load_model

    assert DEFAULT_CHECKPOINT == "real-small"
    real = load_model("real-small", device="cpu")
    assert real.inference_short_side == 256  # the size its README figures were measured at
    assert real.foreground_channel is not None and real.model.num_segments == 2
    assert BUILTIN_CHECKPOINTS["real-small"].stat().st_size < 10 * 2**20  # ships ≤ 10 MB
    assert Segmenter("real-small").short_side == 256

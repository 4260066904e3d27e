"""Our checkpoint format and import of the authors' release."""

import pytest
import torch

from amd_plugin import AMD, ModelConfig, load_model, save_checkpoint
from amd_plugin.checkpoint import CheckpointError
from amd_plugin.official import to_official_state_dict


def test_our_checkpoint_round_trip(tmp_path, small_model):
    path = save_checkpoint(small_model, tmp_path / "m.pt", foreground_channel=3)
    loaded = load_model(path)
    assert loaded.source == "ours" and loaded.foreground_channel == 3
    assert loaded.model.cfg == small_model.cfg
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.equal(loaded.model.appearance(x), small_model.appearance(x))
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


@pytest.mark.parametrize("prefix", ["", "module."])
def test_official_import_round_trip(tmp_path, prefix):
    torch.manual_seed(0)
    model = AMD(ModelConfig()).eval()
    state = {prefix + k: v for k, v in to_official_state_dict(model).items()}
    assert "backbone2.layer1.0.downsample.0.weight" in to_official_state_dict(model)
    assert "decode_head.flownet.flow_estimators.predict_flow2.0.bias" in to_official_state_dict(
        model
    )
    torch.save(
        {"state_dict": state, "meta": {"mmcv_version": "1.x"}}, tmp_path / "amd_pretrained.pth"
    )
    loaded = load_model(tmp_path / "amd_pretrained.pth")
    assert loaded.source == "official" and loaded.foreground_channel == 1
    assert loaded.missing_keys == [] and loaded.unexpected_keys == []
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        assert torch.equal(loaded.model.appearance(x), model.appearance(x))
        masks = torch.rand(1, 5, 16, 16).softmax(1)
        a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
        assert torch.equal(
            loaded.model.motion(a, b, masks, masks).forward[0],
            model.motion(a, b, masks, masks).forward[0],
        )


def test_official_import_reports_missing_and_unexpected(tmp_path):
    state = to_official_state_dict(AMD(ModelConfig()))
    state.pop("decode_head.flownet.conv_1x1.0.0.bias")
    state["decode_head.extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "o.pth")
    loaded = load_model(tmp_path / "o.pth")
    assert loaded.missing_keys == ["motion.reduce.0.0.bias"]
    assert "decode_head.extra.weight" in loaded.unexpected_keys
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path / "o.pth", strict_official=True)


def test_official_import_rejects_wrong_shape(tmp_path):
    state = to_official_state_dict(AMD(ModelConfig()))
    state["backbone2.layer1.0.conv1.weight"] = torch.zeros(32, 64, 1, 1)
    torch.save({"state_dict": state}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"bad\.pth.*wrong shape") as info:
        load_model(tmp_path / "bad.pth")
    assert "appearance.backbone.layer1.0.conv1.weight" in str(info.value)


def test_checkpoint_of_another_architecture_is_refused(tmp_path, small_model):
    path = save_checkpoint(small_model, tmp_path / "m.pt")
    ckpt = torch.load(path, weights_only=False)
    ckpt["model_config"]["small_width"] = 16
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_model(path)


def test_truncated_and_missing_checkpoints_name_the_file(tmp_path, small_model):
    path = save_checkpoint(small_model, tmp_path / "m.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"cut\.pt"):
        load_model(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match=r"nope\.pt.*not found"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "other.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"other\.pt"):
        load_model(tmp_path / "other.pt")

"""Typed YAML configs: nearest-key errors, type checks, overrides."""

import pytest

from amd_plugin.config import ConfigError, apply_overrides
from amd_train.config import TrainConfig, find_config, load_train_config


def test_packaged_configs_load_by_name():
    for name in ("ytvos.yaml", "synthetic", "tta.yaml"):
        assert isinstance(load_train_config(name), TrainConfig)
    assert load_train_config("ytvos.yaml").model.backbone == "resnet50"
    assert find_config("ytvos").name == "ytvos.yaml"


def test_misspelled_key_names_nearest(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"optim\.lrr.*did you mean 'lr'"):
        load_train_config(path)


def test_wrong_type_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  batch_size: two\n")
    with pytest.raises(ConfigError, match=r"run\.batch_size.*integer"):
        load_train_config(path)
    with pytest.raises(ConfigError, match="one of"):
        load_train_config(None, ["model.backbone=resnet99"])


def test_overrides_return_a_new_config():
    base = TrainConfig()
    cfg = apply_overrides(
        base, ["run.max_steps=7", "model.motion_size=[128, 192]", "optim.lr=1e-3"]
    )
    assert cfg.run.max_steps == 7 and cfg.model.motion_size == (128, 192) and cfg.optim.lr == 1e-3
    assert base.run.max_steps == 300_000
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        apply_overrides(base, ["run.max_step=3"])
    with pytest.raises(ValueError, match="multiples of 64"):
        apply_overrides(base, ["model.motion_size=[100, 128]"])


def test_yaml_boolean_words_set_string_choices(tmp_path):
    # YAML 1.1 parses a bare `off` as False; `run.amp: off` must still mean "off"
    cfg = load_train_config(None, ["run.amp=off"])
    assert cfg.run.amp == "off"
    path = tmp_path / "c.yaml"
    path.write_text("run:\n  amp: off\n")
    assert load_train_config(path).run.amp == "off"
    with pytest.raises(ConfigError, match=r"run\.amp"):
        load_train_config(None, ["run.amp=yes"])

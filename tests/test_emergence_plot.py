"""benchmarks/emergence.py: the curve of a run, with other runs drawn beside it."""

from __future__ import annotations

import json

import pytest


def write_run(folder, ious):
    folder.mkdir()
    lines = [
        {"kind": "eval", "step": 100 * i, "minutes": 2.5 * i, "iou": v, "oracle_iou": v}
        for i, v in enumerate(ious, 1)
    ]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return folder


def test_other_runs_are_drawn_under_their_own_names(tmp_path, benchmark_module, capsys):
    new = write_run(tmp_path / "new", [0.5, 0.7, 0.8])
    old = write_run(tmp_path / "old", [0.4, 0.6, 0.7])
    out = tmp_path / "curve.png"
    with benchmark_module("emergence") as module:
        args = [str(new), "--also", str(old), "--also-labels", "old recipe", "--out", str(out)]
        assert module.main(args) == 0
        assert out.stat().st_size > 0
        assert "| 7.5 | 300 | 0.800 | 0.800 |" in capsys.readouterr().out
        with pytest.raises(SystemExit):  # two names for one run
            module.main([str(new), "--also", str(old), "--also-labels", "a", "b"])
    assert "--also-labels names 2 curves, --also gives 1" in capsys.readouterr().err

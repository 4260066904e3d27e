"""``amd-train``: unsupervised AMD training (CPU, one GPU, or ``torchrun`` for many).

amd-train --config synthetic.yaml                       # CPU quickstart
amd-train --config ytvos.yaml --set data.root=DIR --set data.split=FILE
torchrun --nproc_per_node=8 -m amd_train.cli.train --config ytvos.yaml --set ...
"""

from __future__ import annotations

import argparse
import logging
import sys

from amd_plugin.checkpoint import CheckpointError
from amd_plugin.config import ConfigError
from amd_train.data.base import DataError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="amd-train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "--config",
        default="synthetic.yaml",
        help="YAML file or packaged config name (synthetic, ytvos, tta)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. --set run.max_steps=100 model.num_segments=3",
    )
    p.add_argument("--out-dir", help="shortcut for --set run.out_dir=DIR")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from amd_plugin.config import to_dict
    from amd_train.config import load_train_config

    overrides = list(args.overrides) + ([f"run.out_dir={args.out_dir}"] if args.out_dir else [])
    try:
        cfg = load_train_config(args.config, overrides)
    except (ConfigError, ValueError) as err:
        print(f"amd-train: {err}", file=sys.stderr)
        return 2
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(cfg), sort_keys=False))
        return 0

    from amd_train.distributed import teardown_distributed
    from amd_train.trainer import TrainingDiverged, train

    try:
        state = train(cfg, show_progress=not args.quiet)
    except (DataError, CheckpointError, TrainingDiverged) as err:
        print(f"amd-train: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C: checkpoints are written atomically, so the newest one is complete
        from amd_train.checkpointing import newest_checkpoint_step

        step = newest_checkpoint_step(cfg.run.out_dir)
        saved = f"newest checkpoint at step {step}" if step is not None else "no checkpoint yet"
        print(
            f"amd-train: interrupted; {saved} in {cfg.run.out_dir} "
            "(the same command resumes from it)",
            file=sys.stderr,
        )
        return 130
    finally:
        teardown_distributed()
    if state.history:
        last = state.history[-1]
        print(
            f"done: step {state.step}, label-free IoU {last['iou']:.3f} after {last['minutes']:.1f} min, foreground channel {state.foreground_channel}"
        )
    else:
        print(f"done: step {state.step}; checkpoints in {cfg.run.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

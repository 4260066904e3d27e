"""One readable training loop for AMD: CPU, one GPU, or many through ``torchrun`` (DDP).

    for each batch of frame pairs:
        masks  = softmax(appearance(frame))            # both frames
        flows  = motion(frame_a, frame_b, masks)        # segment flow, both directions
        loss   = view_synthesis(flows, frame_a, frame_b)
        step Adam; poly-decay the learning rate

Everything else here is bookkeeping: exact resume, atomic checkpoints, a NaN guard,
previews, periodic label-free evaluation on held-out videos.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, IterableDataset
from tqdm import tqdm

from amd_plugin.checkpoint import CheckpointError, load_model, load_state_strict
from amd_plugin.config import save_yaml
from amd_plugin.modeling.amd import AMD
from amd_train.checkpointing import (
    load_resume_state,
    save_best_checkpoint,
    save_training_checkpoint,
    set_rng_state,
)
from amd_train.config import TrainConfig
from amd_train.data.datasets import build_dataset, frame_pair_collate
from amd_train.data.sampling import make_generator, worker_init_fn
from amd_train.distributed import DistInfo, all_reduce_mean, setup_distributed
from amd_train.heldout import HeldOutEvaluator
from amd_train.objective import training_objective
from amd_train.plots import emergence_plot
from amd_train.previews import RunLogger, mask_statistics, write_preview
from amd_train.sampler import ResumableSampler
from amd_train.schedule import TrainingClock, poly_lambda, run_progress, step_limit
from amd_train.sync_bn import convert_batchnorm
from amd_train.weight_average import WeightAverage

log = logging.getLogger("amd-train")


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is left intact."""


def _steps_done(step: int, cfg: TrainConfig) -> bool:
    return step >= step_limit(cfg)


def param_groups(model: AMD, cfg: TrainConfig) -> list[dict]:
    """One Adam group, or two when the motion pathway gets its own lr multiplier.

    ``model`` is the bare :class:`AMD` (the optimizer is built before any DDP wrapping).
    """
    scale = cfg.optim.motion_lr_scale
    if scale == 1.0:
        return [{"params": list(model.parameters()), "lr": cfg.optim.lr}]
    return [
        {"params": list(model.appearance.parameters()), "lr": cfg.optim.lr},
        {"params": list(model.motion.parameters()), "lr": cfg.optim.lr * scale},
    ]


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    foreground_channel: int | None = None
    history: list[dict] = field(default_factory=list)


def build_loader(cfg: TrainConfig, info: DistInfo, state: TrainState):
    dataset = build_dataset(cfg.data, seed=cfg.run.seed, rank=info.rank)
    dataset.set_epoch(state.epoch)
    kwargs = dict(
        batch_size=cfg.run.batch_size,
        num_workers=cfg.data.num_workers,
        collate_fn=frame_pair_collate,
        worker_init_fn=worker_init_fn,
        generator=make_generator(cfg.run.seed + state.epoch, info.rank),
        drop_last=True,
        persistent_workers=False,
    )
    if isinstance(dataset, IterableDataset):
        return dataset, DataLoader(dataset, **kwargs), None
    sampler = ResumableSampler(
        len(dataset), cfg.run.seed, info.rank, info.world_size, cfg.run.batch_size
    )
    sampler.set_position(state.epoch, state.batch_in_epoch)
    return dataset, DataLoader(dataset, sampler=sampler, **kwargs), sampler


def autocast_context(cfg: TrainConfig, device: torch.device):
    if cfg.run.amp == "off" or device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if cfg.run.amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def train(cfg: TrainConfig, show_progress: bool = True) -> TrainState:
    """Run (or resume) training as configured; returns the final state."""
    info = setup_distributed(cfg.run.device)
    out_dir = Path(cfg.run.out_dir)
    if cfg.run.threads > 0:
        torch.set_num_threads(cfg.run.threads)
    if cfg.run.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(cfg.run.seed + info.rank)

    model = AMD.from_config(cfg.model)
    if cfg.run.init_from:
        init = load_model(cfg.run.init_from).model
        missing, _ = load_state_strict(model, init.state_dict(), cfg.run.init_from)
        if missing:
            raise CheckpointError(
                f"{cfg.run.init_from}: lacks {len(missing)} weight(s) of this model, e.g. {missing[:3]}"
            )
    model = model.to(info.device)
    if cfg.run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if info.enabled:
        # torch's SyncBatchNorm is CUDA-only; on CPU (gloo) use our all-reduce version
        model = (
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            if info.device.type == "cuda"
            else convert_batchnorm(model)
        )
    optimizer = torch.optim.Adam(param_groups(model, cfg), weight_decay=cfg.optim.weight_decay)
    clock = TrainingClock()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, poly_lambda(cfg, clock))
    scaler = torch.amp.GradScaler(
        "cuda", enabled=cfg.run.amp == "fp16" and info.device.type == "cuda"
    )

    state = TrainState()
    resume = load_resume_state(out_dir) if cfg.run.resume else None
    # with a weight average, "state_dict" holds the averaged weights (what inference loads)
    # and "train_state_dict" the raw ones the optimizer steps
    averaged = resume is not None and "train_state_dict" in resume
    if resume is not None:
        model.load_state_dict(resume["train_state_dict" if averaged else "state_dict"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        set_rng_state(resume["rng"])
        clock.resume_at(resume.get("minutes", 0.0))
        pos = resume.get("data_position", {})
        state = TrainState(
            resume["step"],
            pos.get("epoch", 0),
            pos.get("batch_in_epoch", 0),
            resume.get("foreground_channel"),
            resume.get("history", []),
        )
        if info.is_main:
            log.info("resumed from %s at step %d", resume["_path"], state.step)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(cfg, out_dir / "config.yaml")

    core = model
    average = (
        WeightAverage(core, cfg.optim.ema_decay)
        if cfg.optim.ema_decay > 0 and info.is_main
        else None
    )
    if average is not None and averaged:
        average.restore(resume["state_dict"], resume["weight_average"])
    # the weights that are evaluated, get the foreground channel and are saved as the model
    served = core if average is None else average.model
    net = (
        DistributedDataParallel(
            model, device_ids=[info.device.index] if info.device.type == "cuda" else None
        )
        if info.enabled
        else model
    )
    if cfg.run.compile:
        net = torch.compile(net)
    dataset, loader, sampler = build_loader(cfg, info, state)
    run_log = (
        RunLogger(out_dir, cfg.run.tensorboard, fresh=resume is None) if info.is_main else None
    )
    evaluator = HeldOutEvaluator(cfg) if info.is_main else None
    clock.start_now()
    last_ckpt_time = time.monotonic()
    # A run with a time budget ends at its minutes or its step limit, whichever comes first:
    # its bar shows the share of the run done by the further along of the two (a bar over
    # the minutes alone would stop short when the steps end it, one over the 100000 steps
    # such configs give as a ceiling would predict hours to go).
    by_time = cfg.run.max_minutes > 0
    bar = tqdm(
        total=100.0 if by_time else step_limit(cfg),
        initial=100.0 * run_progress(state.step, clock.minutes(), cfg) if by_time else state.step,
        desc="train",
        bar_format="{desc}: {n:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]" if by_time else None,
        unit="step",
        disable=not (show_progress and info.is_main),
        dynamic_ncols=True,
    )

    def checkpoint() -> None:
        if not info.is_main:
            return
        extra = {"history": state.history, "minutes": clock.minutes()}
        if average is not None:
            extra["train_state_dict"] = {k: v.detach().cpu() for k, v in core.state_dict().items()}
            extra["weight_average"] = average.state()
        save_training_checkpoint(
            out_dir, served, cfg, optimizer, scheduler,
            state.step, {"epoch": state.epoch, "batch_in_epoch": state.batch_in_epoch},
            state.foreground_channel, cfg.run.keep_last, extra,
        )  # fmt: skip

    def evaluate() -> None:
        if evaluator is None or not evaluator.enabled:
            return
        result = evaluator.run(served)
        if average is not None:  # the raw weights too, to show what the average adds
            raw = evaluator.run(core)
            result.update(raw_iou=raw["iou"], raw_oracle_iou=raw["oracle_iou"])
        result.update(step=state.step, minutes=clock.minutes())
        # the held-out score can fall late in a run (benchmarks/README.md, emergence): keep
        # the weights of its best evaluation besides the last ones
        best_before = max((h["iou"] for h in state.history), default=-1.0)
        state.history.append(result)
        scalars = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        if cfg.run.keep_best and result["iou"] > best_before:
            channel = evaluator.choose_channel(served)  # as the end of a run stores it
            save_best_checkpoint(out_dir, served, cfg, channel, scalars)
        run_log.scalars(state.step, scalars, kind="eval")
        raw = f"; raw weights {result['raw_iou']:.3f}" if average is not None else ""
        bar.write(
            f"[eval] step {state.step} ({result['minutes']:.1f} min): label-free IoU {result['iou']:.3f} (oracle-channel IoU {result['oracle_iou']:.3f}, analysis only; no-model guess {result['chance_iou']:.3f}{raw})"
        )
        # the curve so far, redrawn at every evaluation so it can be watched while training
        emergence_plot(state.history, out_dir / "emergence.png", f"held-out IoU: {out_dir.name}")

    model.train()
    accumulate = max(1, cfg.optim.accumulate)
    last_eval_minutes = clock.minutes()
    done = _steps_done(state.step, cfg)
    tick = time.monotonic()
    skip = state.batch_in_epoch if sampler is None else 0  # iterable streams: fast-forward
    while not done:
        batches = iter(loader)
        for _ in range(skip):
            next(batches, None)
        skip = 0
        for micro, batch in enumerate(batches):
            frame_a = batch["frame_a"].to(info.device, non_blocking=True)
            frame_b = batch["frame_b"].to(info.device, non_blocking=True)
            sync = (micro + 1) % accumulate == 0
            with (
                net.no_sync() if info.enabled and not sync else nullcontext(),
                autocast_context(cfg, info.device),
            ):
                loss_cfg = cfg.loss.at_step(state.step)
                # None keeps the model's own pairing; False switches to own-frame masks
                own_frame = loss_cfg.own_frame_masks_at(state.step)
                out = net(frame_a, frame_b, False if own_frame else None)
                rotated = None
                if loss_cfg.rotation_consistency_weight > 0:
                    rotated = (out.logits_a, core.appearance(frame_a.flip(-2, -1)))
                loss, terms = training_objective(
                    out.motion,
                    out.frame_a.float(),
                    out.frame_b.float(),
                    loss_cfg,
                    masks=torch.cat([out.masks_a, out.masks_b]) if loss_cfg.needs_masks else None,
                    rotated_logits=rotated,
                )
                scaler.scale(loss / accumulate).backward()
            if not math.isfinite(float(loss.detach())):
                checkpoint_note = "the last good checkpoint in " + str(out_dir) + " is intact"
                raise TrainingDiverged(
                    f"loss became {float(loss)} at step {state.step}; stopping ({checkpoint_note})"
                )
            state.batch_in_epoch += 1
            if not sync:
                continue
            if cfg.optim.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            if cfg.run.max_minutes > 0:  # one time for all ranks: the lr and the stop agree
                clock.share(info)
            scheduler.step()
            if average is not None:
                average.update(core)
            state.step += 1
            bar.update(
                100.0 * run_progress(state.step, clock.shared, cfg) - bar.n if by_time else 1
            )

            if state.step % cfg.run.log_every == 0 or state.step == 1:
                loss_mean = float(all_reduce_mean(loss.detach(), info))
                now = time.monotonic()
                pairs_per_s = (
                    cfg.run.log_every
                    * cfg.run.batch_size
                    * accumulate
                    * info.world_size
                    / max(now - tick, 1e-9)
                )
                tick = now
                if run_log is not None:
                    values = {
                        "loss": loss_mean,
                        "lr": scheduler.get_last_lr()[0],
                        "pairs_per_s": pairs_per_s,
                    }
                    values.update({k: float(v) for k, v in terms.items()})
                    values.update(mask_statistics(out.masks_a.detach()))
                    run_log.scalars(state.step, values)
                postfix = {"loss": f"{loss_mean:.4f}", "lr": f"{scheduler.get_last_lr()[0]:.2e}"}
                if by_time:
                    postfix["step"] = str(state.step)
                bar.set_postfix(postfix)
            if (
                run_log is not None
                and cfg.run.preview_every
                and state.step % cfg.run.preview_every == 0
            ):
                picture = write_preview(out, out_dir / "previews" / f"step_{state.step:08d}.png")
                run_log.image(state.step, "preview", picture)
            if evaluator is not None and evaluator.due(
                state.step, clock.minutes() - last_eval_minutes
            ):
                evaluate()
                last_eval_minutes = clock.minutes()
                model.train()
            out_of_time = cfg.run.max_minutes > 0 and clock.shared >= cfg.run.max_minutes
            done = _steps_done(state.step, cfg) or out_of_time
            timed = (
                cfg.run.checkpoint_minutes > 0
                and time.monotonic() - last_ckpt_time >= 60 * cfg.run.checkpoint_minutes
            )
            if (
                done
                or timed
                or (cfg.run.checkpoint_every and state.step % cfg.run.checkpoint_every == 0)
            ):
                if done and evaluator is not None:
                    state.foreground_channel = evaluator.choose_channel(served)
                    model.train()
                checkpoint()
                last_ckpt_time = time.monotonic()
            if done:
                break
        else:
            state.epoch += 1
            state.batch_in_epoch = 0
            dataset.set_epoch(state.epoch)
            if sampler is not None:
                sampler.set_position(state.epoch, 0)
    if (
        evaluator is not None
        and evaluator.enabled
        and (not state.history or state.history[-1]["step"] != state.step)
    ):
        evaluate()
        checkpoint()
    bar.close()
    if run_log is not None:
        run_log.close()
    return state

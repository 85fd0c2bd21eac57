"""Training, in the paper's three stages:
`python -m alphanet.training.train {seg,matting,e2e} --data DIR --out RUN ...`.

- seg: DeepLabV3+ alone, focal + dice loss on whole images resized to 496 x 496.
- matting: the matting net alone on 320 x 320 crops with trimaps made from the ground truth; loss
  0.5 x alpha L1 + 0.5 x composition L1 over the whole crop; Adam; He init; backbone BatchNorm frozen once its
  statistics mean something (see --freeze-bn-after-steps).
- e2e: both nets joined through the ED layer. The ED layer has no gradient, so the matting loss cannot reach the
  segmentation net through it; only its value does: it weights the segmentation net's own focal + dice loss,
  relative to its running mean, so the images whose trimaps hurt the matting most push the segmentation hardest.

A run lives in one folder: `last.pt` (everything needed to resume exactly: weights, optimiser, position in the
epoch, random seeds), `weights.pt` (compact fp16 AlphaNet weights after the last epoch, what export and serving
load), `metrics.csv` (validation MSE, SAD, gradient, connectivity and IoU per epoch, on the same validation items
in every run) and `preview_epochNNN.png`; `--validate-only` adds `validation.csv`, the same metrics item by item.
Run the same command again to resume after an interruption. Uses CUDA when available. `--data` takes several
roots of one layout and pools their items (say the default synthetic set and one rich in see-through objects).
"""
import argparse
import csv
import dataclasses
import math
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler
from tqdm import tqdm

from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, read_weights, save_weights
from alphanet.data.cutouts import CutoutReader, training_cutouts
from alphanet.data.datasets import MattingDataset, SegmentationDataset
from alphanet.data.readers import CompositionReader, ImageAlphaReader, ImageMaskReader
from alphanet.training.losses import gradient_loss, laplacian_loss, matting_loss, segmentation_loss
from alphanet.model import AlphaNet, fuse
from alphanet.training.validation import predict_validation_batch, save_preview, score_batch

STAGES = ("seg", "matting", "e2e")
METRIC_NAMES = ("mse", "sad", "gradient", "connectivity", "iou")
# The validation crops, backgrounds and trimaps are drawn with this seed, not the run's `--seed`, so that the
# validation figures of runs with different data orders are measured on the same items and compare.
VALIDATION_SEED = 0


# ---------------------------------------------------------------- data


class SeededItems(Dataset):
    """Wraps a dataset whose items draw from torch's global generator: item `(index, seed)` is drawn with the
    generator seeded by `seed`, so an item no longer depends on which worker made it or what came before, and a
    resumed epoch sees exactly the items an uninterrupted one would."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Tuple[int, int]):
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


class EpochBatches(Sampler):
    """The batches of `(index, seed)` of one epoch: a permutation and item seeds drawn from (run seed, epoch), so
    any epoch can be replayed, and the first `skip` batches left out when resuming mid-epoch."""

    def __init__(self, size: int, batch_size: int, run_seed: int, epoch: int, skip: int = 0):
        generator = torch.Generator().manual_seed(run_seed * 100_003 + epoch)
        order = torch.randperm(size, generator=generator).tolist()
        seeds = torch.randint(0, 2**62, (size,), generator=generator).tolist()
        count = size // batch_size
        self.batches = [[(order[i], seeds[i]) for i in range(b * batch_size, (b + 1) * batch_size)]
                        for b in range(skip, count)]

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def make_reader(layout: str, root: Path, backgrounds: List[Path]):
    if layout == "composition":
        return CompositionReader.from_root(root, backgrounds)
    if layout == "image-alpha":
        return ImageAlphaReader.from_root(root)
    return ImageMaskReader.from_root(root)


def make_dataset(args, root: Path, validation: bool, reader=None) -> Dataset:
    """The stage's dataset over `root` in `--layout`, or over `reader` when given."""
    reader = reader or make_reader(args.layout, root, args.backgrounds)
    trimap_width = tuple(args.trimap_width)
    if args.stage == "matting":
        return MattingDataset(reader, crop_size=args.crop_size, trimap_width=trimap_width,
                              vary_backgrounds=args.vary_backgrounds, validation=validation, seed=VALIDATION_SEED)
    size = (args.image_size, args.image_size)
    return SegmentationDataset(reader, size=size, trimap_width=trimap_width, vary_backgrounds=args.vary_backgrounds,
                               validation=validation, seed=VALIDATION_SEED)


# ---------------------------------------------------------------- model and losses


def build_model(args) -> AlphaNet:
    """A fresh AlphaNet, with the trained parts of earlier runs loaded (`--init`, `--init-seg`, `--init-matting`)."""
    torch.manual_seed(args.seed)
    config = AlphaNetConfig()
    if args.init:
        config = AlphaNetConfig(**read_weights(args.init)["config"])
    model = build_alphanet(config)
    for path, prefix in ((args.init, ""), (args.init_seg, "segmenter."), (args.init_matting, "matting_net.")):
        if path:
            state = {k: v.float() for k, v in read_weights(path)["state_dict"].items() if k.startswith(prefix)}
            missing = [k for k in model.state_dict() if k.startswith(prefix) and k not in state]
            if missing:
                raise ValueError(f"{path} lacks {len(missing)} weights of {prefix or 'the model'}, e.g. {missing[0]}")
            model.load_state_dict(state, strict=False)
    return model


def trained_part(model: AlphaNet, stage: str) -> nn.Module:
    return {"seg": model.segmenter, "matting": model.matting_net, "e2e": model}[stage]


def freeze_backbone_batchnorm(model: AlphaNet) -> None:
    """Put the matting encoder's BatchNorm layers in eval mode with frozen affine parameters (the paper's
    "fixing the BN layers of the backbone"); the caller re-applies it after every model.train()."""
    for module in model.matting_net.encoder.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
            module.weight.requires_grad_(False)
            module.bias.requires_grad_(False)


class E2ELoss:
    """The matting loss of the whole pipeline, plus the segmentation net's focal + dice loss weighted by that
    matting loss value relative to its running mean (the only way the value can reach it past the ED layer)."""

    def __init__(self, momentum: float = 0.98):
        self.momentum, self.running = momentum, None

    def __call__(self, model: AlphaNet, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        image = batch["image"]
        logits = torch.cat([model.segmenter.net(x[None]) for x in image.unbind(0)])
        with torch.no_grad():
            trimap = model.ed_layer(torch.sigmoid(logits))
        alpha = fuse(model.matte(image, trimap), trimap)
        matting = matting_loss(alpha, batch["alpha"], image, batch["fg"], batch["bg"], batch["has_fg_bg"])
        value = matting.detach()
        self.running = value if self.running is None else self.momentum * self.running + (1 - self.momentum) * value
        return matting + (value / self.running.clamp_min(1e-6)) * segmentation_loss(logits, batch["mask"])


def stage_loss(stage: str, model: AlphaNet, batch: Dict[str, torch.Tensor], e2e_loss: E2ELoss,
               unknown_weight: float = 1.0, laplacian_weight: float = 0.0,
               gradient_weight: float = 0.0) -> torch.Tensor:
    if stage == "seg":
        return segmentation_loss(model.segmenter.net(batch["image"]), batch["mask"])
    if stage == "matting":
        alpha = model.matting_net(batch["image"], batch["trimap"])
        loss = matting_loss(alpha, batch["alpha"], batch["image"], batch["fg"], batch["bg"], batch["has_fg_bg"],
                            trimap=batch["trimap"], unknown_weight=unknown_weight)
        if not (laplacian_weight or gradient_weight):
            return loss
        # The extra terms see the fused alpha, which is what serving returns: only the band's pixels count.
        fused = fuse(alpha, batch["trimap"])
        if laplacian_weight:
            loss = loss + laplacian_weight * laplacian_loss(fused, batch["alpha"])
        if gradient_weight:
            loss = loss + gradient_weight * gradient_loss(fused, batch["alpha"])
        return loss
    return e2e_loss(model, batch)


# ---------------------------------------------------------------- checkpoints


@dataclasses.dataclass
class Position:
    epoch: int = 0  # the epoch in progress
    batch: int = 0  # batches of it already done
    step: int = 0  # optimiser steps in all


@dataclasses.dataclass
class Run:
    """What a training run carries from step to step, all of it saved in its folder's `last.pt`."""
    out: Path
    device: torch.device
    model: AlphaNet
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    e2e_loss: E2ELoss
    position: Position
    bf16: bool  # whether the steps run under bfloat16 autocast (not saved: each machine chooses its own)

    @property
    def checkpoint(self) -> Path:
        return self.out / "last.pt"

    def save(self) -> None:
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "position": dataclasses.asdict(self.position),
                    "e2e_running": self.e2e_loss.running, "torch_rng": torch.get_rng_state()}, tmp)
        tmp.replace(self.checkpoint)  # atomic: an interruption never leaves a half-written checkpoint

    def resume(self) -> None:
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.e2e_loss.running = state["e2e_running"]
        torch.set_rng_state(state["torch_rng"])
        self.position = Position(**state["position"])

    def save_weights(self) -> None:
        """The compact fp16 `weights.pt` that export, evaluation and `--init` read."""
        save_weights(self.model, AlphaNetConfig(**_config_of(self.model)), self.out / "weights.pt")


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 in hardware (a CPU: AVX512-BF16 or AMX). Elsewhere autocast emulates it,
    far slower than fp32: on a 2-core AVX2 CPU a DeepLab step took 70 s in bf16 against 4 s in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # torch has no public query for these; the private ones are what its own bf16 CPU tests check
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def uses_bf16(precision: str, native: bool) -> bool:
    """`--precision` on a device with (`native`) or without bfloat16 hardware: "auto" is bf16 autocast where the
    hardware has it, fp32 elsewhere."""
    return precision == "bf16" or (precision == "auto" and native)


def start_run(args, steps_per_epoch: int) -> Run:
    """A new run, or the one in `--out` where it stopped (unless `--restart`)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    # channels-last lets oneDNN / cuDNN pick their fastest convolution kernels
    model = build_model(args).to(device, memory_format=torch.channels_last)
    params = [p for p in trained_part(model, args.stage).parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    total_steps = steps_per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # cosine decay to 5% over the planned run
        optimizer, lambda step: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    native = native_bf16(device)
    bf16 = uses_bf16(args.precision, native)
    print(f"precision: {'bf16 autocast' if bf16 else 'fp32'} ({args.precision}; this {device.type} "
          f"{'has' if native else 'lacks'} native bfloat16)")
    run = Run(out, device, model, optimizer, scheduler, E2ELoss(), Position(), bf16)
    if run.checkpoint.exists() and not args.restart:
        run.resume()
        print(f"resuming {run.checkpoint} at epoch {run.position.epoch}, batch {run.position.batch}, "
              f"step {run.position.step}")
    return run


# ---------------------------------------------------------------- loop


def to_device(batch: Dict[str, torch.Tensor], device: torch.device) -> Dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True, memory_format=torch.channels_last) if v.dim() == 4
            else v.to(device, non_blocking=True) for k, v in batch.items()}


def set_train_mode(model: AlphaNet, args, position: Position) -> None:
    model.train()
    if args.stage != "seg" and position.step >= args.freeze_bn_after_steps:
        freeze_backbone_batchnorm(model)


def validate(model: AlphaNet, args, loader: DataLoader, device, out: Path, epoch: int) -> List[Dict[str, float]]:
    """One row of metrics per validation item, in the loader's order; saves the epoch's preview picture."""
    model.eval()
    rows, shown = [], ([], [], [])
    for batch in loader:
        batch = to_device(batch, device)
        alpha, trimap = predict_validation_batch(model, args.stage, batch)
        cpu_batch = {k: v.cpu() for k, v in batch.items()}
        rows += score_batch(alpha.cpu(), cpu_batch)
        for i in range(min(args.preview_count - len(shown[0]), alpha.shape[0])):
            shown[0].append(cpu_batch["image"][i].permute(1, 2, 0).numpy())
            shown[1].append(trimap[i, 0].cpu().numpy())
            shown[2].append(alpha[i, 0].cpu().numpy())
    save_preview(out / f"preview_epoch{epoch:03d}.png", *shown)
    return rows


def mean_scores(rows: List[Dict[str, float]]) -> Dict[str, float]:
    """`validate`'s rows -> each metric's mean over the items."""
    return {name: float(np.mean([r[name] for r in rows])) for name in METRIC_NAMES}


def append_csv(path: Path, row: Dict[str, float]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def write_item_scores(path: Path, names: List[str], rows: List[Dict[str, float]]) -> None:
    """One CSV row per validation item, named by its file stem (rewritten each time): to see whether a mean is
    lowered by a few failures or by every item a little."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["name", *METRIC_NAMES])
        writer.writeheader()
        writer.writerows({"name": name, **{metric: row[metric] for metric in METRIC_NAMES}}
                         for name, row in zip(names, rows, strict=True))


def train_epoch(run: Run, args, train_set: Dataset, stop_at: Optional[int]) -> float:
    """The epoch in progress, until its end or step `stop_at`; the last batch's loss (NaN if none was left)."""
    position = run.position
    batches = EpochBatches(len(train_set), args.batch_size, args.seed, position.epoch, skip=position.batch)
    epoch_end = position.batch + len(batches)
    loader = DataLoader(train_set, batch_sampler=batches, num_workers=args.workers,
                        persistent_workers=False, pin_memory=run.device.type == "cuda")
    set_train_mode(run.model, args, position)
    progress = tqdm(loader, total=len(batches), desc=f"{args.stage} epoch {position.epoch + 1}/{args.epochs}",
                    dynamic_ncols=True, disable=args.quiet)
    started, seen, last_loss = time.perf_counter(), 0, float("nan")
    for batch in progress:
        batch = to_device(batch, run.device)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.bf16):
            loss = stage_loss(args.stage, run.model, batch, run.e2e_loss, args.unknown_weight,
                              args.laplacian_weight, args.gradient_weight).float()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        position.batch += 1
        position.step += 1
        seen += batch["image"].shape[0]
        last_loss = loss.item()
        progress.set_postfix(loss=f"{last_loss:.4f}", img_s=f"{seen / (time.perf_counter() - started):.2f}")
        if position.step == args.freeze_bn_after_steps:
            set_train_mode(run.model, args, position)
        if stop_at is not None and position.step >= stop_at:
            break  # the caller saves, as it does at the epoch's end
        if position.step % args.save_every == 0 and position.batch < epoch_end:
            run.save()
    return last_loss


def end_epoch(run: Run, args, val_loader: Optional[DataLoader], last_loss: float) -> None:
    """Validation figures to `metrics.csv` and the console, then the checkpoint and `weights.pt`."""
    position = run.position
    row = {"epoch": position.epoch + 1, "step": position.step, "train_loss": last_loss}
    if val_loader is not None:
        row.update(mean_scores(validate(run.model, args, val_loader, run.device, run.out, position.epoch + 1)))
    append_csv(run.out / "metrics.csv", row)
    print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    position.epoch, position.batch = position.epoch + 1, 0
    run.save()
    run.save_weights()


def training_set(args) -> Dataset:
    """`--data`'s roots pooled with the training part of `--cutouts`' libraries, each item of those shown
    `--cutout-repeats` times an epoch (a new photo each time: they are composited at every read)."""
    parts = [make_dataset(args, root, validation=False) for root in args.data]
    if args.cutouts:
        reader = CutoutReader(training_cutouts(args.cutouts), args.backgrounds, size=args.image_size,
                              closeup_probability=args.closeups)
        parts += [make_dataset(args, None, validation=False, reader=reader)] * args.cutout_repeats
    return SeededItems(ConcatDataset(parts))


def train(args) -> Path:
    train_set = training_set(args)
    steps_per_epoch = len(train_set) // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"--data has {len(train_set)} items, fewer than one batch of {args.batch_size}")
    run = start_run(args, steps_per_epoch)
    if args.weights_only:
        run.save_weights()
        return run.out
    val_loader = None
    if args.val_data:
        val_set = make_dataset(args, args.val_data, validation=True)
        val_loader = DataLoader(val_set, batch_size=args.batch_size, num_workers=args.workers)
    if args.validate_only:
        if val_loader is None:
            raise ValueError("--validate-only needs --val-data")
        rows = validate(run.model, args, val_loader, run.device, run.out, run.position.epoch)
        write_item_scores(run.out / "validation.csv", val_set.reader.names, rows)  # the loader keeps its order
        print(" ".join(f"{k}={v:.5g}" for k, v in mean_scores(rows).items()) + f" (step {run.position.step})")
        return run.out
    stop_at = run.position.step + args.max_steps if args.max_steps else None
    while run.position.epoch < args.epochs and (stop_at is None or run.position.step < stop_at):
        last_loss = train_epoch(run, args, train_set, stop_at)
        if run.position.batch == steps_per_epoch:
            end_epoch(run, args, val_loader, last_loss)
        else:  # stopped mid-epoch by --max-steps
            run.save()
    return run.out


def _config_of(model: AlphaNet) -> dict:
    return {"seg_input_size": model.segmenter.input_size, "max_side": model.max_side,
            "mirror_average": model.mirror_average, "guided_filter": model.guided_filter,
            "band_matting": model.band_matting, "closed_form": model.closed_form}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="training data roots, all of one --layout (their items are pooled)")
    parser.add_argument("--val-data", type=Path, help="validation data root (same layout)")
    parser.add_argument("--cutouts", nargs="*", default=[], metavar="LIBRARY",
                        help="also train on real cutouts composited as catalog and lifestyle photos on --backgrounds: "
                             "libraries by name (stamps, qabcs, portraits; alphanet/data/cutouts.py) or folders of "
                             "transparent images; their held-out part is never used")
    parser.add_argument("--cutout-repeats", type=int, default=1, help="times each cutout is shown per epoch")
    parser.add_argument("--closeups", type=float, default=0.0, metavar="PROBABILITY",
                        help="the share of --cutouts' photos shot close, the object filling the photo and cut by its "
                             "frame (alphanet/data/cutouts.py)")
    parser.add_argument("--layout", choices=("composition", "image-alpha", "image-mask"), default="composition",
                        help="composition: fg/ + alpha/ composited on --backgrounds; image-alpha: image/ + alpha/; "
                             "image-mask: image/ + mask/ (segmentation only)")
    parser.add_argument("--backgrounds", type=Path, nargs="*", default=[], help="background folders (composition)")
    parser.add_argument("--vary-backgrounds", type=float, nargs="?", const=1.0, default=0.0, metavar="PROBABILITY",
                        help="zoom, mirror, recolour, collage and blur composited backgrounds of training items, each "
                             "with this probability (the bare flag: 1, all of them)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (resumed when it has last.pt)")
    parser.add_argument("--init", help="AlphaNet weights to start from (all parts)")
    parser.add_argument("--init-seg", help="AlphaNet weights whose segmenter to start from (e2e)")
    parser.add_argument("--init-matting", help="AlphaNet weights whose matting net to start from (e2e)")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--max-steps", type=int, help="stop (with a checkpoint) after this many steps this call")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--unknown-weight", type=float, default=1.0,
                        help="matting stage: weight of the unknown band's pixels in the loss (1 = the paper's "
                             "plain whole-image loss)")
    parser.add_argument("--laplacian-weight", type=float, default=0.0,
                        help="matting stage: weight of a Laplacian-pyramid L1 loss on the fused alpha (0 = the "
                             "paper's loss; it sharpens thin structures such as hair)")
    parser.add_argument("--gradient-weight", type=float, default=0.0,
                        help="matting stage: weight of an L1 loss on the fused alpha's spatial derivatives (0 = the "
                             "paper's loss; it penalises noisy and smeared edges)")
    parser.add_argument("--crop-size", type=int, default=320, help="matting crops")
    parser.add_argument("--image-size", type=int, default=496, help="seg and e2e images")
    parser.add_argument("--trimap-width", type=int, nargs=2, default=(4, 40), metavar=("MIN", "MAX"),
                        help="training trimap band width on each side, pixels")
    parser.add_argument("--freeze-bn-after-steps", type=int, default=500,
                        help="freeze the matting encoder's BatchNorm from this step on: with no ImageNet weights "
                             "here its statistics must first be learnt")
    parser.add_argument("--save-every", type=int, default=50, help="steps between checkpoints")
    parser.add_argument("--workers", type=int, default=1, help="data loader processes")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                        help="bf16 autocast (weights stay fp32) is 2-3x faster on GPUs and CPUs with AVX512-BF16 or "
                             "AMX, and over 10x slower on other CPUs; auto (default) picks it only where it is native")
    parser.add_argument("--preview-count", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the data order and the training items (validation items are the same in every run)")
    parser.add_argument("--restart", action="store_true", help="ignore an existing last.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--weights-only", action="store_true",
                        help="write weights.pt from the run's last.pt (mid-epoch too) and stop")
    parser.add_argument("--validate-only", action="store_true",
                        help="print the validation metrics of the run's last.pt (mid-epoch too), write them item "
                             "by item to validation.csv, and stop")
    args = parser.parse_args(argv)
    if args.stage != "seg" and args.layout == "image-mask":
        parser.error("image-mask data has no alpha: it can only train the seg stage")
    if not 0 <= args.vary_backgrounds <= 1:
        parser.error(f"--vary-backgrounds is a probability, from 0 to 1, not {args.vary_backgrounds}")
    if args.stage == "e2e" and not (args.init or (args.init_seg and args.init_matting)):
        print("warning: e2e without --init or --init-seg/--init-matting starts from random weights")
    return args


def main(argv: Optional[List[str]] = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()

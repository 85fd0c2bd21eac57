"""Training: a few steps lower the loss, and a resumed run takes exactly the step an uninterrupted one would."""
from pathlib import Path

import pytest
import torch

from alphanet.training.checkpoint import load_alphanet
from alphanet.data.cutouts import held_out_cutouts, training_cutouts
from alphanet.data.synthetic import write_dataset
from alphanet.training.train import EpochBatches, Run, make_dataset, native_bf16, parse_args, train, uses_bf16
from test_data_cutouts import make_library

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root, count=8, seed=3, texture_dirs=[SHARED / "data" / "photos"], size=96)
    return root


def run(tiny_data: Path, out: Path, stage: str, *extra: str) -> Path:
    argv = [stage, "--data", str(tiny_data), "--backgrounds", str(SHARED / "data" / "photos"), "--out", str(out),
            "--batch-size", "2", "--crop-size", "64", "--image-size", "64", "--workers", "0", "--quiet",
            "--precision", "fp32", "--epochs", "3", "--lr", "3e-3", *extra]
    return train(parse_args(argv))


def test_epoch_batches_replay_and_skip():
    full = EpochBatches(10, 3, run_seed=1, epoch=2).batches
    assert full == EpochBatches(10, 3, run_seed=1, epoch=2).batches
    assert EpochBatches(10, 3, run_seed=1, epoch=2, skip=2).batches == full[2:]
    assert full != EpochBatches(10, 3, run_seed=1, epoch=3).batches


def test_auto_precision_uses_bf16_only_where_the_cpu_has_it():
    """The CPU's own flags (what `make mar` reads for the same choice) decide; an explicit choice is kept."""
    cpu = torch.device("cpu")
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    flags = set(next(line for line in cpuinfo if line.startswith("flags")).split())
    assert native_bf16(cpu) == bool(flags & {"avx512_bf16", "amx_bf16"})
    assert uses_bf16("auto", native=True) and not uses_bf16("auto", native=False)
    assert uses_bf16("bf16", native=False) and not uses_bf16("fp32", native=True)
    assert parse_args(["seg", "--data", "d", "--out", "o"]).precision == "auto"


@pytest.mark.parametrize("stage, laplacian_weight, gradient_weight",
                         [("matting", 0.0, 0.0), ("matting", 1.0, 0.0), ("matting", 0.0, 4.0), ("seg", 0.0, 0.0)])
def test_a_few_steps_on_one_batch_lower_the_loss(tiny_data, tmp_path, stage, laplacian_weight, gradient_weight):
    from alphanet.training.train import SeededItems, build_model, make_dataset, stage_loss, E2ELoss
    args = parse_args([stage, "--data", str(tiny_data), "--backgrounds", str(SHARED / "data" / "photos"),
                       "--out", str(tmp_path), "--crop-size", "64", "--image-size", "64"])
    dataset = SeededItems(make_dataset(args, tiny_data, validation=False))
    batch = torch.utils.data.default_collate([dataset[(i, i)] for i in range(4)])
    model = build_model(args).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = stage_loss(stage, model, batch, E2ELoss(), laplacian_weight=laplacian_weight,
                          gradient_weight=gradient_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_resume_takes_the_same_next_step_as_an_uninterrupted_run(tiny_data, tmp_path):
    run(tiny_data, tmp_path / "a", "matting", "--max-steps", "3", "--freeze-bn-after-steps", "2")
    run(tiny_data, tmp_path / "a", "matting", "--max-steps", "2", "--freeze-bn-after-steps", "2")  # resumes mid-epoch
    run(tiny_data, tmp_path / "b", "matting", "--max-steps", "5", "--freeze-bn-after-steps", "2")
    resumed = torch.load(tmp_path / "a" / "last.pt", weights_only=False)
    straight = torch.load(tmp_path / "b" / "last.pt", weights_only=False)
    assert resumed["position"] == straight["position"] == {"epoch": 1, "batch": 1, "step": 5}
    for name, value in straight["model"].items():
        assert torch.equal(resumed["model"][name], value), name
    # and the run really moved the weights
    fresh = run(tiny_data, tmp_path / "c", "matting", "--max-steps", "1")
    assert not torch.equal(torch.load(fresh / "last.pt", weights_only=False)["model"]["matting_net.predict.weight"],
                           straight["model"]["matting_net.predict.weight"])


def test_a_stop_at_an_epochs_last_batch_still_ends_the_epoch(tiny_data, tmp_path):
    """8 items in batches of 2: step 4 is epoch 1's last, so its metrics and weights are written then, and the
    next run starts epoch 2."""
    out = run(tiny_data, tmp_path / "s", "matting", "--max-steps", "4")
    assert torch.load(out / "last.pt", weights_only=False)["position"] == {"epoch": 1, "batch": 0, "step": 4}
    assert (out / "weights.pt").exists()
    run(tiny_data, out, "matting", "--max-steps", "1")
    assert [row.split(",")[:2] for row in (out / "metrics.csv").read_text().splitlines()[1:]] == [["1", "4"]]
    assert torch.load(out / "last.pt", weights_only=False)["position"] == {"epoch": 1, "batch": 1, "step": 5}


def test_each_step_is_saved_once(tiny_data, tmp_path, monkeypatch):
    """Steps 2 and 4 are save points; step 4 also ends epoch 1 and step 5 is where --max-steps stops: the epoch's
    end and the stop save, and nothing saves the same step again."""
    saved_steps = []
    real_save = Run.save
    monkeypatch.setattr(Run, "save", lambda run: saved_steps.append(run.position.step) or real_save(run))
    run(tiny_data, tmp_path / "s", "matting", "--max-steps", "5", "--save-every", "2")
    assert saved_steps == [2, 4, 5]


def test_full_epochs_write_metrics_preview_and_loadable_weights(tiny_data, tmp_path):
    out = run(tiny_data, tmp_path / "e2e_init", "matting", "--epochs", "1")
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].split(",") == ["epoch", "step", "train_loss"]  # no --val-data, no validation columns
    out = run(tiny_data, tmp_path / "m", "matting", "--epochs", "1", "--val-data", str(tiny_data))
    header, row = (out / "metrics.csv").read_text().splitlines()
    assert header.split(",") == ["epoch", "step", "train_loss", "mse", "sad", "gradient", "connectivity", "iou"]
    assert all(float(v) >= 0 for v in row.split(","))
    assert (out / "preview_epoch001.png").exists()
    model = load_alphanet(out / "weights.pt")
    alpha, trimap = model(torch.full((40, 50, 3), 90, dtype=torch.uint8))
    assert alpha.shape == (40, 50)
    e2e = run(tiny_data, tmp_path / "e", "e2e", "--epochs", "1", "--init-seg", str(out / "weights.pt"),
              "--init-matting", str(out / "weights.pt"), "--val-data", str(tiny_data))
    assert (e2e / "weights.pt").exists()


def test_several_data_roots_are_pooled(tiny_data, tmp_path):
    second = tmp_path / "second"
    write_dataset(second, count=4, seed=4, texture_dirs=[SHARED / "data" / "photos"], size=96)
    argv = ["matting", "--data", str(tiny_data), str(second), "--backgrounds", str(SHARED / "data" / "photos"),
            "--out", str(tmp_path / "pooled"), "--batch-size", "2", "--crop-size", "64", "--workers", "0",
            "--quiet", "--precision", "fp32", "--epochs", "1"]
    out = train(parse_args(argv))
    position = torch.load(out / "last.pt", weights_only=False)["position"]
    assert position["step"] == (8 + 4) // 2  # one epoch over both roots' items


def test_validation_items_do_not_depend_on_the_run_seed(tiny_data, tmp_path):
    def validation_item(stage: str, seed: str) -> dict:
        args = parse_args([stage, "--data", str(tiny_data), "--backgrounds", str(SHARED / "data" / "photos"),
                           "--out", str(tmp_path), "--crop-size", "64", "--image-size", "64", "--seed", seed])
        return make_dataset(args, tiny_data, validation=True)[1]

    for stage in ("matting", "seg"):
        first, second = validation_item(stage, "1"), validation_item(stage, "2")
        for name in ("image", "alpha", "trimap"):
            torch.testing.assert_close(first[name], second[name])


def test_combine_weights_takes_each_part_from_its_file(tmp_path):
    from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, combine_weights, save_weights
    torch.manual_seed(1)
    seg_model = build_alphanet(AlphaNetConfig(seg_input_size=320))
    torch.manual_seed(2)
    matting_model = build_alphanet(AlphaNetConfig(erode_fraction=0.07))
    save_weights(seg_model, AlphaNetConfig(seg_input_size=320), tmp_path / "seg.pt")
    save_weights(matting_model, AlphaNetConfig(erode_fraction=0.07), tmp_path / "matting.pt")
    combine_weights(tmp_path / "seg.pt", tmp_path / "matting.pt", tmp_path / "both.pt")
    both = load_alphanet(tmp_path / "both.pt")
    assert both.segmenter.input_size == 320 and both.ed_layer.erode_fraction == 0.07
    name = "segmenter.net.classifier.weight"
    torch.testing.assert_close(both.state_dict()[name], seg_model.state_dict()[name].half().float())
    name = "matting_net.predict.weight"
    torch.testing.assert_close(both.state_dict()[name], matting_model.state_dict()[name].half().float())


def test_weights_only_writes_the_checkpoints_model(tiny_data, tmp_path):
    out = run(tiny_data, tmp_path / "w", "matting", "--max-steps", "1")
    assert not (out / "weights.pt").exists()
    run(tiny_data, out, "matting", "--weights-only")
    run(tiny_data, out, "matting", "--validate-only", "--val-data", str(tiny_data))
    assert (out / "preview_epoch000.png").exists()
    header, *items = (out / "validation.csv").read_text().splitlines()
    assert header.split(",") == ["name", "mse", "sad", "gradient", "connectivity", "iou"]
    stems = sorted(path.stem for path in (tiny_data / "alpha").iterdir())
    assert [row.split(",")[0] for row in items] == stems
    state = torch.load(out / "last.pt", weights_only=False)["model"]
    weights = load_alphanet(out / "weights.pt").state_dict()
    saved = state["matting_net.predict.weight"].half().float()
    torch.testing.assert_close(weights["matting_net.predict.weight"], saved)


def test_loader_workers_make_the_same_items_as_the_main_process(tiny_data, tmp_path):
    from torch.utils.data import DataLoader
    from alphanet.training.train import SeededItems
    args = parse_args(["matting", "--data", str(tiny_data), "--backgrounds", str(SHARED / "data" / "photos"),
                       "--out", str(tmp_path), "--crop-size", "64"])
    dataset = SeededItems(make_dataset(args, tiny_data, validation=False))
    batches = EpochBatches(len(dataset), 2, run_seed=1, epoch=0)
    in_workers = list(DataLoader(dataset, batch_sampler=batches, num_workers=2))
    in_main = list(DataLoader(dataset, batch_sampler=batches))
    assert len(in_workers) == len(in_main) == 4
    for from_worker, from_main in zip(in_workers, in_main):
        for key in from_main:
            torch.testing.assert_close(from_worker[key], from_main[key])


def test_vary_backgrounds_reaches_the_training_items_of_both_stages(tiny_data, tmp_path):
    for stage in ("matting", "seg"):
        for flag, expected in (([], 0.0), (["--vary-backgrounds"], 1.0), (["--vary-backgrounds", "0.5"], 0.5)):
            args = parse_args([stage, "--data", str(tiny_data), "--backgrounds", str(SHARED / "data" / "photos"),
                               "--out", str(tmp_path), *flag])
            assert make_dataset(args, tiny_data, validation=False).vary_backgrounds == expected


def test_cutouts_join_the_training_items_without_their_held_out_part(tiny_data, tmp_path):
    library = str(make_library(tmp_path / "lib"))
    training = training_cutouts([library])
    assert {c.key for c in training}.isdisjoint({c.key for c in held_out_cutouts(library)})
    argv = ["seg", "--data", str(tiny_data), "--cutouts", library, "--cutout-repeats", "2",
            "--backgrounds", str(SHARED / "data" / "photos"), "--out", str(tmp_path / "run"), "--batch-size", "2",
            "--image-size", "64", "--workers", "0", "--quiet", "--precision", "fp32", "--epochs", "1"]
    out = train(parse_args(argv))
    position = torch.load(out / "last.pt", weights_only=False)["position"]
    assert position["step"] == (8 + 2 * len(training)) // 2

"""The evaluation command: Tables I and II in both conventions, the per-image CSV, trimaps given or made, baselines
that fail, and the scoring itself, on tiny composites made here and a seeded random AlphaNet."""
import csv
import re
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, load_alphanet, load_as_archive, save_weights
from alphanet.data.image_io import read_alpha, read_rgb
from alphanet.data.synthetic import write_dataset
from alphanet.evaluation.evaluate import (BASELINES, CONVENTIONS, CSV_COLUMNS, METRICS, TABLES, AlphaNetMatting,
                                          EvaluationSet, main, predict_case, pymatting_on_shrunk_copy, report,
                                          run_with_trimap, score)
from alphanet.export import script_alphanet
from alphanet.evaluation.metrics import all_metrics
from tests.broken_images import refused_headers

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
IMAGE_COUNT = 3
BAND_WIDTH = "2"  # the default 10 px band would leave no opaque pixel in a 64 px composite


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # The test machine's two cores are shared: a second torch thread waiting for a busy core makes a 64 px
    # forward pass 20 times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_data(root: Path) -> Path:
    """root/image + root/alpha: synthetic 64 px foregrounds composited onto a crop of a shared photo."""
    write_dataset(root / "synthetic", count=IMAGE_COUNT, seed=5, texture_dirs=[PHOTOS], size=64)
    background = read_rgb(PHOTOS / "brick.png")[:64, :64]
    for fg_path in sorted((root / "synthetic" / "fg").iterdir()):
        fg, alpha = read_rgb(fg_path), read_alpha(root / "synthetic" / "alpha" / fg_path.name)
        image = alpha[:, :, None] * fg + (1 - alpha[:, :, None]) * background
        save(root / "image" / fg_path.name, np.round(image * 255).astype(np.uint8))
        save(root / "alpha" / fg_path.name, np.round(alpha * 255).astype(np.uint8))
    return root


def save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A seeded random AlphaNet whose segmenter looks at 64 px, so that each forward pass is quick."""
    config = AlphaNetConfig(seg_input_size=64)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.pt"
    save_weights(build_alphanet(config), config, path)
    return path


def evaluate_cli(data: Path, weights: Path, out: Path, *extra: str) -> list[dict]:
    """Runs the command; returns the CSV rows."""
    main(["--data", str(data), "--weights", str(weights), "--out", str(out), "--band-width", BAND_WIDTH, *extra])
    with open(out / "per_image.csv", newline="") as file:
        return list(csv.DictReader(file))


def rows_of(rows: list[dict], table: str, convention: str) -> list[dict]:
    return [row for row in rows if row["table"] == table and row["convention"] == convention]


def test_command_writes_both_tables_in_both_conventions_a_full_csv_and_a_contact_sheet(data, weights, tmp_path,
                                                                                        capsys):
    rows = evaluate_cli(data, weights, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert report in capsys.readouterr().out
    for title in TABLES.values():
        for convention in CONVENTIONS.values():
            assert f"### {title} ({convention.heading})" in report
    assert report.count("| AlphaNet |") == report.count("| Closed-form (CF) |") == report.count("| KNN |") == 4

    assert list(rows[0]) == list(CSV_COLUMNS)
    keys = [(row["image"], row["table"], row["method"], row["convention"]) for row in rows]
    expected = {(image, table, method, convention) for image in ("00000", "00001", "00002")
                for table in TABLES for method in ("alphanet", "cf", "knn") for convention in CONVENTIONS}
    assert len(keys) == len(set(keys)) == len(expected) and set(keys) == expected
    assert all(float(row["seconds"]) >= 0 for row in rows)

    sheet = np.asarray(Image.open(tmp_path / "contact_sheet.png"))
    assert sheet.shape[1] >= 4 * 160 and sheet.shape[0] > 2 * 160  # four panels per case, best and worst


def test_csv_numbers_are_the_metrics_of_the_saved_matte(data, weights, tmp_path):
    rows = evaluate_cli(data, weights, tmp_path)
    name = "00000"
    gt = read_alpha(data / "alpha" / f"{name}.png")
    gt_trimap = np.asarray(Image.open(tmp_path / "trimaps" / "ground_truth" / f"{name}.png"))
    for table, method in (("trimap_gt", "cf"), ("automatic", "alphanet")):
        predicted = read_alpha(tmp_path / "predictions" / table / method / f"{name}.png")
        for convention, trimap in (("usual", gt_trimap), ("paper", None)):
            [row] = [r for r in rows_of(rows, table, convention) if r["image"] == name and r["method"] == method]
            assert row["error"] == ""
            expected = all_metrics(predicted, gt, trimap)
            assert {m: float(row[m]) for m in METRICS} == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert (gt_trimap == 128).any() and (gt_trimap == 255).any(), "the case should have a band and a core"


@pytest.mark.parametrize("given_as", ["data/trimap folder", "--trimaps"])
def test_ground_truth_trimaps_from_a_folder_are_given_to_every_method(weights, tmp_path, given_as):
    data = make_data(tmp_path / "data")
    trimap_dir = data / "trimap" if given_as == "data/trimap folder" else tmp_path / "my_trimaps"
    known_everywhere = {}
    for alpha_path in sorted((data / "alpha").iterdir()):
        # Everything known: every method's answer must be this trimap, and it scores the trimap's own error.
        trimap = np.where(read_alpha(alpha_path) >= 0.5, 255, 0).astype(np.uint8)
        save(trimap_dir / alpha_path.name, trimap)
        known_everywhere[alpha_path.stem] = trimap
    extra = [] if given_as == "data/trimap folder" else ["--trimaps", str(trimap_dir)]
    rows = evaluate_cli(data, weights, tmp_path / "out", *extra)
    for row in rows_of(rows, "trimap_gt", "paper"):
        expected = all_metrics(known_everywhere[row["image"]] / 255, read_alpha(data / "alpha" / f"{row['image']}.png"))
        assert {m: float(row[m]) for m in METRICS} == pytest.approx(expected, rel=1e-6, abs=1e-12), row
        assert expected["sad"] > 0  # soft edges: a hard trimap is not the ground truth
    for row in rows_of(rows, "trimap_gt", "usual") + rows_of(rows, "automatic", "usual"):
        assert all(float(row[m]) == 0.0 for m in METRICS)  # no unknown pixel in the ground-truth trimap


def test_a_perfect_method_scores_zero_and_a_wrong_one_does_not(data):
    case = EvaluationSet(data, band_width=int(BAND_WIDTH)).case(0)
    predictions = predict_case(case, automatic=lambda image: (case.alpha, case.trimap),
                               methods={"perfect": lambda image, trimap: case.alpha,
                                        "inverted": lambda image, trimap: 1 - case.alpha})
    assert {(p.table, p.method) for p in predictions} == {
        ("automatic", "alphanet"), ("automatic", "perfect"), ("automatic", "inverted"),
        ("trimap_gt", "perfect"), ("trimap_gt", "inverted")}
    for prediction in predictions:
        for row in score(prediction, case):
            if prediction.method == "inverted":
                assert all(row[m] > 0 for m in METRICS), row
            else:
                assert all(row[m] == 0 for m in METRICS), row


def test_a_baseline_that_fails_is_recorded_and_the_others_still_scored(weights, tmp_path):
    data = make_data(tmp_path / "data")
    for alpha_path in (data / "alpha").iterdir():  # nothing known: pymatting has no constraint to start from
        save(data / "trimap" / alpha_path.name, np.full((64, 64), 128, np.uint8))
    rows = evaluate_cli(data, weights, tmp_path / "out", "--methods", "alphanet,knn")
    table_two = [row for row in rows if row["table"] == "trimap_gt"]
    assert {row["method"] for row in rows} == {"alphanet", "knn"}
    for row in table_two:
        if row["method"] == "knn":
            assert "foreground" in row["error"] or "background" in row["error"]
            assert all(row[m] == "" for m in METRICS)
        else:
            assert row["error"] == "" and all(float(row[m]) >= 0 for m in METRICS)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| KNN | failed | failed | failed | failed | 3 / 3 | - |" in report
    assert "Means over the 3 of 3 images" in report  # AlphaNet's means are not emptied by KNN's failures


def test_a_table_averages_over_the_images_every_method_could_matte():
    def row(image: str, method: str, value: float | None, error: str = "") -> dict:
        return {"image": image, "table": "trimap_gt", "method": method, "convention": "usual",
                **dict.fromkeys(METRICS, value), "seconds": value or 9.0, "error": error}

    rows = [row("a", "alphanet", 1.0), row("b", "alphanet", 3.0), row("a", "knn", 2.0),
            row("b", "knn", None, "ValueError: no foreground")]
    text = report(rows, "# header")
    assert "| AlphaNet | 1 | 1 | 1 | 1 | 0 / 2 | 1 |" in text  # b left out, though AlphaNet matted it
    assert "| KNN | 2 | 2 | 2 | 2 | 1 / 2 | 2 |" in text
    assert "Means over the 1 of 2 images that every method could matte (left out: b; see per_image.csv)." in text


def test_baselines_on_a_shrunk_copy_give_full_size_mattes_that_still_fit_the_image(data):
    case = EvaluationSet(data, band_width=int(BAND_WIDTH)).case(0)
    # Not square, so that a swapped height and width shows.
    image, trimap, truth = case.image[:, :48], case.trimap[:, :48], case.alpha[:, :48]
    unknown = trimap == 128
    for name, estimate_alpha in BASELINES.items():
        for max_side, tolerance in ((64, 0.1), (32, 0.2)):  # half the pixels: a coarser matte
            method = partial(pymatting_on_shrunk_copy, estimate_alpha, max_side=max_side)
            alpha = run_with_trimap("trimap_gt", name, method, image, trimap).alpha / 255
            assert alpha.shape == (64, 48)
            np.testing.assert_array_equal(alpha[~unknown], trimap[~unknown] / 255)
            assert np.abs(alpha - truth)[unknown].mean() < tolerance, (name, max_side)


def test_the_alphanet_methods_follow_the_forward_contract(data, weights):
    alphanet = AlphaNetMatting(load_alphanet(weights))
    case = EvaluationSet(data, band_width=int(BAND_WIDTH)).case(2)
    alpha, trimap = alphanet.automatic(case.image)
    assert alpha.shape == trimap.shape == (64, 64) and trimap.dtype == np.uint8
    assert set(np.unique(trimap)) <= {0, 128, 255}
    with_trimap = alphanet.with_trimap(case.image, case.trimap)
    known = case.trimap != 128
    np.testing.assert_array_equal(with_trimap[known], case.trimap[known] / 255)


def test_bad_data_folders_and_options_fail_with_clear_messages(data, weights, tmp_path):
    def error_of(*argv: str) -> str:
        with pytest.raises(SystemExit) as raised:
            main(["--weights", str(weights), "--out", str(tmp_path / "out"), *argv])
        return str(raised.value.code)

    assert "no such folder" in error_of("--data", str(tmp_path / "missing"))
    save(tmp_path / "no_alpha" / "image" / "a.png", np.zeros((8, 8, 3), np.uint8))
    assert "no alpha folder" in error_of("--data", str(tmp_path / "no_alpha"))
    save(tmp_path / "trimaps" / "00000.png", np.zeros((64, 64), np.uint8))  # 00001 and 00002 have none
    assert "00001.png, 00002.png has no file of the same name" in error_of("--data", str(data), "--trimaps",
                                                                str(tmp_path / "trimaps"))
    assert error_of("--data", str(data), "--methods", "alphanet,ifm") == "2"


def test_an_image_with_an_unreadable_file_is_named_skipped_and_the_others_evaluated(data, weights, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(data, mixed)
    photo = np.zeros((64, 64, 3), np.uint8)
    (mixed / "image" / "bad_header.png").write_bytes(refused_headers()["DDS in an unknown pixel format"])
    save(mixed / "alpha" / "bad_header.png", photo[:, :, 0])
    save(mixed / "image" / "cut_alpha.png", photo)
    (mixed / "alpha" / "cut_alpha.png").write_bytes((data / "alpha" / "00000.png").read_bytes()[:300])
    rows = evaluate_cli(mixed, weights, tmp_path / "out", "--methods", "alphanet")
    assert {row["image"] for row in rows} == {"00000", "00001", "00002"}
    printed = capsys.readouterr()
    for name, reason in (("bad_header", "Unimplemented pixel format"), ("cut_alpha", "truncated")):
        assert re.search(rf"skipped {name} \(.*{name}.png.*\): .*{reason}", printed.out + printed.err), name
    report_text = (tmp_path / "out" / "report.md").read_text()
    assert "- images: 3;" in report_text and "- skipped, unreadable: 2" in report_text


@pytest.mark.slow
def test_a_scripted_file_scores_like_the_eager_model_it_came_from(data, weights, tmp_path):
    scripted = tmp_path / "alphanet_scripted.pt"
    script_alphanet(load_as_archive(weights)).save(str(scripted))  # as `make mar WEIGHTS=` builds it
    eager_rows = evaluate_cli(data, weights, tmp_path / "eager", "--methods", "alphanet")
    main(["--data", str(data), "--scripted", str(scripted), "--out", str(tmp_path / "scripted"),
          "--band-width", BAND_WIDTH, "--methods", "alphanet"])
    with open(tmp_path / "scripted" / "per_image.csv", newline="") as file:
        scripted_rows = list(csv.DictReader(file))
    assert len(scripted_rows) == len(eager_rows) == IMAGE_COUNT * 2 * 2
    for eager, from_file in zip(eager_rows, scripted_rows):
        # Freezing folds BatchNorm into the convolutions: equal up to float rounding, so up to a rare 1/255 step.
        assert {m: float(from_file[m]) for m in METRICS} == pytest.approx(
            {m: float(eager[m]) for m in METRICS}, rel=1e-3, abs=1e-6), eager
    assert "scripted file" in (tmp_path / "scripted" / "report.md").read_text()

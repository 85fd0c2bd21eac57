"""The soft / hard split of a method's error in the unknown band, on mattes these tests write and work out by hand."""
import numpy as np
import pytest
from PIL import Image

from alphanet.evaluation.error_breakdown import breakdown, main


def save(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path):
    """One 1x4 image: band = the middle two pixels, one soft (gt 102 = 0.4) and one hard (gt 255)."""
    save(tmp_path / "gt" / "a.png", [[0, 102, 255, 255]])
    save(tmp_path / "trimaps" / "a.png", [[0, 128, 128, 255]])
    save(tmp_path / "good" / "a.png", [[0, 51, 255, 255]])      # soft: 0.2 (error -0.2), hard: exact
    save(tmp_path / "bad" / "a.png", [[0, 204, 153, 255]])      # soft: 0.8 (+0.4), hard: 0.6 (error 0.4)
    # An image only one method has (the other failed on it) must not be counted.
    save(tmp_path / "gt" / "b.png", [[0, 128, 128, 255]])
    save(tmp_path / "trimaps" / "b.png", [[0, 128, 128, 255]])
    save(tmp_path / "good" / "b.png", [[0, 0, 0, 0]])
    return tmp_path


def test_errors_are_split_between_soft_and_hard_pixels(folders):
    stems, (good, bad) = breakdown(folders / "gt", folders / "trimaps", [folders / "good", folders / "bad"])
    assert stems == ["a"]
    assert good.row() == pytest.approx({"soft MAE": 0.2, "hard MAE": 0.0, "soft share of SAD": 1.0,
                                        "soft mean signed error": -0.2})
    assert bad.row() == pytest.approx({"soft MAE": 0.4, "hard MAE": 0.4, "soft share of SAD": 0.5,
                                       "soft mean signed error": 0.4})


def test_the_command_prints_one_row_per_folder(folders, capsys):
    main(["--ground-truth", str(folders / "gt"), "--trimaps", str(folders / "trimaps"),
          str(folders / "good"), str(folders / "bad")])
    out = capsys.readouterr().out
    assert "Unknown band of 1 images" in out
    assert f"| {folders / 'bad'} | 0.4000 | 0.4000 | 0.5000 | 0.4000 |" in out


def test_folders_with_no_image_in_common_are_an_error(folders, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no image is in every folder"):
        breakdown(folders / "gt", folders / "trimaps", [tmp_path / "empty"])


def test_a_matte_of_another_size_is_an_error_naming_the_file(folders):
    save(folders / "bad" / "a.png", [[0, 204, 153]])
    with pytest.raises(SystemExit, match=r"bad/a.png is \(1, 3\), its ground truth \(1, 4\)"):
        breakdown(folders / "gt", folders / "trimaps", [folders / "good", folders / "bad"])

"""BlazePose converted: its two networks against the reference TFLite interpreter (ai-edge-litert) on the .tflite files
of the MediaPipe wheel the committed checkpoints were made from, and the person pipeline around them on real photos."""
import dataclasses
import hashlib
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from alphanet.nets.convert_tflite import convert_tflite, load_tflite_net
from alphanet.nets.pose_person import (PosePerson, body_square, photo_to_roi_transform, square_roi_transform,
                                      with_person)
from alphanet.nets.tflite_net import DepthToSpace
from alphanet.training.checkpoint import (DEFAULT_ARCHIVE, POSE_WEIGHTS, AlphaNetConfig, load_alphanet,
                                         load_as_archive, save_weights)

PROJECT = Path(__file__).resolve().parents[1]
PHOTO_DIR = PROJECT.parent / "shared" / "data" / "photos"
WHEEL = "mediapipe==0.10.14"
# The wheel's files for each committed checkpoint, with each network's input scaling (alphanet/nets/pose_person.py).
MODELS = {"pose_detection": ("mediapipe/modules/pose_detection/pose_detection.tflite", -1.0),
          "pose_landmark_full": ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite", 0.0)}


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory) -> dict:
    """The two .tflite files, taken out of the MediaPipe wheel that pip downloads from the package index."""
    folder = tmp_path_factory.mktemp("mediapipe")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "--dest", str(folder), WHEEL],
                   check=True)
    wheel = zipfile.ZipFile(next(folder.glob("mediapipe-*.whl")))
    files = {}
    for name, (member, _) in MODELS.items():
        files[name] = folder / f"{name}.tflite"
        files[name].write_bytes(wheel.read(member))
    return files


def photo(name: str) -> torch.Tensor:
    rgb = np.asarray(Image.open(PHOTO_DIR / name).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


@pytest.fixture(scope="module")
def pose() -> PosePerson:
    return PosePerson(*map(load_tflite_net, POSE_WEIGHTS)).eval()


@pytest.mark.parametrize("name", MODELS)
def test_converted_net_matches_tflite_interpreter(name, tflite_files):
    low = MODELS[name][1]
    net = convert_tflite(tflite_files[name])
    size = net.input_size
    interpreter = Interpreter(model_path=str(tflite_files[name]), num_threads=1)
    interpreter.allocate_tensors()
    for photo_name in ("astronaut.png", "camera.png", "coffee.png"):
        rgb = np.asarray(Image.open(PHOTO_DIR / photo_name).convert("RGB").resize(size[::-1]), np.float32) / 255
        nhwc = (rgb * (1 - low) + low)[None]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], nhwc)
        interpreter.invoke()
        with torch.no_grad():
            ours = net.outputs(torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous())
        for detail, value in zip(interpreter.get_output_details(), ours):
            expected = interpreter.get_tensor(detail["index"])
            value = value.numpy()
            if value.ndim == 4:
                value = value.transpose(0, 2, 3, 1)
            assert value.shape == expected.shape
            # fp32 sums in XNNPACK's order differ in the last bits: box offsets (pixels of the 224 px input) near 0
            # by 2e-4; the mask's logits, which reach the thousands, by up to 1 % of a logit of 25, and its
            # probability, what the pipeline uses, by up to 0.002 at single pixels.
            if value.shape[-1] == 1 and value.ndim == 4:
                difference = np.abs(1 / (1 + np.exp(-value)) - 1 / (1 + np.exp(-expected)))
                assert difference.max() < 5e-3 and difference.mean() < 1e-5, detail["name"]
            else:
                np.testing.assert_allclose(value, expected, rtol=1e-3, atol=1e-3, err_msg=detail["name"])


@pytest.mark.parametrize("name", MODELS)
def test_committed_checkpoint_is_the_wheels_network(name, tflite_files):
    checkpoint = torch.load(PROJECT / "alphanet" / "weights" / f"{name}.pt", weights_only=True)
    assert checkpoint["source"]["sha256"] == hashlib.sha256(tflite_files[name].read_bytes()).hexdigest()
    converted = convert_tflite(tflite_files[name])
    loaded = load_tflite_net(PROJECT / "alphanet" / "weights" / f"{name}.pt")
    assert (loaded.op_specs, loaded.output_slots) == (converted.op_specs, converted.output_slots)
    assert converted.state_dict().keys() == loaded.state_dict().keys()
    assert all(torch.equal(value, loaded.state_dict()[key]) for key, value in converted.state_dict().items())


def test_depth_to_space_uses_tflite_channel_order():
    """TFLite: out[h * b + i, w * b + j, c] = in[h, w, (i * b + j) * C + c] (NHWC)."""
    block, channels = 2, 3
    nhwc = np.random.default_rng(0).normal(size=(1, 4, 5, block * block * channels)).astype(np.float32)
    expected = np.zeros((1, 4 * block, 5 * block, channels), np.float32)
    for i in range(block):
        for j in range(block):
            first = (i * block + j) * channels
            expected[0, i::block, j::block, :] = nhwc[0, :, :, first:first + channels]
    ours = DepthToSpace([0], block)([torch.from_numpy(nhwc).permute(0, 3, 1, 2)])
    np.testing.assert_array_equal(ours.permute(0, 2, 3, 1).numpy(), expected)


def test_roi_transforms_are_inverse():
    centre, side, angle = torch.tensor([130.0, 210.0]), torch.tensor(180.0), torch.tensor(0.7)
    forward = torch.cat([square_roi_transform(centre, side, angle, 300, 400)[0], torch.tensor([[0.0, 0, 1]])])
    inverse = torch.cat([photo_to_roi_transform(centre, side, angle, 300, 400)[0], torch.tensor([[0.0, 0, 1]])])
    torch.testing.assert_close(forward @ inverse, torch.eye(3), atol=1e-5, rtol=0)


@pytest.mark.parametrize("tilt", [0.0, 0.5, -1.2, 3.0])
def test_body_square_has_the_scale_point_straight_above_the_hips(tilt):
    """A dot at the detector's scale point, tilted `tilt` radians from straight above the hips, lands straight
    above the centre of the landmark net's crop, 1 / 1.25 of the way to its top edge."""
    height, width, distance = 300, 400, 60.0
    hips = torch.tensor([200.0, 170.0])
    x, y = (hips + distance * torch.tensor([math.sin(tilt), -math.cos(tilt)])).floor().long().tolist()
    photo_with_dot = torch.zeros(1, 1, height, width)
    photo_with_dot[0, 0, y - 1:y + 2, x - 1:x + 2] = 1
    scale_point = torch.tensor([x + 0.5, y + 0.5])  # the dot's centre: pixel i spans [i, i + 1)
    side, angle = body_square(hips, scale_point, 1.25)
    assert float(side) == pytest.approx(2 * distance * 1.25, rel=0.02)
    to_photo = square_roi_transform(hips, side, angle, height, width)
    crop = F.grid_sample(photo_with_dot, F.affine_grid(to_photo, [1, 1, 256, 256], align_corners=False),
                         align_corners=False)[0, 0]
    rows, columns = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    row, column = float((crop * rows).sum() / crop.sum()), float((crop * columns).sum() / crop.sum())
    assert abs(column - 127.5) <= 1 and abs(row - (127.5 - 128 / 1.25)) <= 1


@pytest.mark.parametrize("name", ["coffee.png", "brick.png"])
def test_no_person_gives_no_mask(pose, name):
    with torch.no_grad():
        mask, confidence = pose(photo(name))
    assert float(confidence) == 0.0 and float(mask.max()) == 0.0


def test_segment_uses_the_pose_mask_only_where_sure():
    """The cameraman stands cut at the waist: the pose is found but its legs are not seen, so the default keeps
    the segmenters' mask; a lower bar brings in the pose's."""
    model = load_as_archive(None)
    without = load_as_archive(None, person_pose=False)
    rgb = photo("camera.png")
    with torch.no_grad():
        person, confidence = model.person_pose(rgb)
        assert 0.5 < float(confidence) < model.person_min_confidence
        torch.testing.assert_close(model.segment(rgb), without.segment(rgb))
        model.person_min_confidence = 0.5
        expected = with_person(without.segment(rgb), person, model.extra_min_probability)
        assert not torch.equal(expected, without.segment(rgb))
        torch.testing.assert_close(model.segment(rgb), expected)


@pytest.mark.parametrize("extra_probability, person_alone", [(0.6, True), (0.95, False)])
def test_person_mask_replaces_what_the_segmenters_are_unsure_of_beside_it(extra_probability, person_alone):
    """A person (left half) found by the segmenters together with a region to its right: background they are
    unsure of is dropped with the person's mask alone, something they are sure of (a bag, a sign) is kept."""
    person = torch.zeros(1, 1, 20, 40)
    person[..., :, 5:20] = 0.9
    probability = torch.zeros(1, 1, 20, 40)
    probability[..., :, 8:20] = 0.97  # the segmenters miss the person's left edge
    probability[..., :, 20:30] = extra_probability
    combined = with_person(probability, person, 0.85)
    torch.testing.assert_close(combined, person if person_alone else torch.maximum(probability, person))


def test_weights_files_load_with_the_pose_on_or_off(tmp_path):
    """A training run's file written with the pose on holds a copy of BlazePose; it loads into a model built without
    it, and a file without it (the default weights) into one with it."""
    with_pose = load_as_archive(None)
    path = tmp_path / "with_pose.pt"
    save_weights(with_pose, dataclasses.replace(AlphaNetConfig(), **DEFAULT_ARCHIVE), path)
    assert any(key.startswith("person_pose.") for key in torch.load(path, weights_only=True)["state_dict"])
    assert load_alphanet(path, person_pose=False).person_pose is None
    reloaded = load_alphanet(path).state_dict()
    for key, value in with_pose.state_dict().items():
        assert torch.equal(reloaded[key], value), key

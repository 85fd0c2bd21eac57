"""The converted MediaPipe selfie segmenter against the reference TFLite interpreter (ai-edge-litert) on real photos,
its TorchScript form, and the committed checkpoints."""
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from alphanet.nets.convert_tflite import (convert_tflite, load_tflite_net, same_padding, save_tflite_net,
                                     transposed_same_crop)
from alphanet.nets.tflite_net import TransposedConv2dBias

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared"
TFLITE_DIR = SHARED / "data" / "models" / "mediapipe_selfie"
PHOTO_DIR = SHARED / "data" / "photos"
WEIGHTS_DIR = PROJECT / "alphanet" / "weights"
MODEL_NAMES = ["selfie_segmentation", "selfie_segmentation_landscape"]
MAX_ABS_DIFF = 1e-3


@pytest.fixture(scope="module", params=MODEL_NAMES)
def model_name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def converted(model_name):
    return convert_tflite(TFLITE_DIR / f"{model_name}.tflite")


def load_photos(height: int, width: int) -> np.ndarray:
    """Every shared photo as RGB (grayscale ones repeated to 3 channels), resized to the model input:
    `(N, height, width, 3)` float32 in [0, 1]."""
    paths = sorted(p for p in PHOTO_DIR.iterdir() if p.suffix in (".png", ".jpg"))
    photos = [np.asarray(Image.open(p).convert("RGB").resize((width, height), Image.BILINEAR)) for p in paths]
    return np.stack(photos).astype(np.float32) / 255.0


def run_tflite(model_name: str, photos_nhwc: np.ndarray) -> np.ndarray:
    """Person probability from the reference interpreter: `(N, H, W, 3)` -> `(N, 1, H, W)`."""
    interpreter = Interpreter(model_path=str(TFLITE_DIR / f"{model_name}.tflite"), num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    probabilities = []
    for photo in photos_nhwc:
        interpreter.set_tensor(input_index, photo[None])
        interpreter.invoke()
        probabilities.append(interpreter.get_tensor(output_index).transpose(0, 3, 1, 2))
    return np.concatenate(probabilities)


def to_nchw(photos_nhwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(photos_nhwc).permute(0, 3, 1, 2).contiguous()


def test_converted_net_matches_tflite_interpreter(model_name, converted):
    photos = load_photos(*converted.input_size)
    expected = run_tflite(model_name, photos)
    with torch.no_grad():
        actual = np.concatenate([converted(to_nchw(photo[None])).numpy() for photo in photos])
    # The comparison only means something if the reference finds a person (the astronaut, the cameraman).
    assert expected.max() > 0.9
    assert actual.shape == expected.shape == (len(photos), 1, *converted.input_size)
    assert np.abs(actual - expected).max() <= MAX_ABS_DIFF


def test_scripted_net_matches_eager_after_save_and_load(converted):
    scripted = torch.jit.script(converted)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    reloaded = torch.jit.load(buffer)
    batch = to_nchw(load_photos(*converted.input_size)[:2])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(batch), converted(batch), rtol=0, atol=1e-6)


def test_committed_checkpoint_rebuilds_the_converted_net(model_name, converted):
    loaded = load_tflite_net(WEIGHTS_DIR / f"{model_name}.pt")
    assert loaded.input_size == converted.input_size
    assert loaded.op_specs == converted.op_specs
    expected_weights = converted.state_dict()
    assert loaded.state_dict().keys() == expected_weights.keys()
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, expected_weights[name]), name
    photo = to_nchw(load_photos(*converted.input_size)[:1])
    with torch.no_grad():
        assert torch.equal(loaded(photo), converted(photo))


def test_checkpoint_refuses_weights_that_fp16_would_round(tmp_path):
    net = load_tflite_net(WEIGHTS_DIR / "selfie_segmentation_landscape.pt")
    with torch.no_grad():
        net.ops[0].weight[0, 0, 0, 0] += 1e-4
    with pytest.raises(ValueError, match="fp16"):
        save_tflite_net(net, tmp_path / "rounded.pt", TFLITE_DIR / "selfie_segmentation_landscape.tflite")


def test_net_rejects_other_input_sizes(converted):
    height, width = converted.input_size
    with pytest.raises(ValueError, match="height x width"):
        converted(torch.zeros(1, 3, height // 2, width))


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (256, 3, 2, (0, 1)),  # stride 2 on an even size: the extra pixel goes after, not on both sides
    (32, 5, 2, (1, 2)),
    (18, 5, 2, (1, 2)),
    (9, 5, 1, (2, 2)),
    (9, 1, 1, (0, 0)),
])
def test_same_padding_is_tflite_asymmetric(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def mediapipe_transposed_conv(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Port of MediaPipe's reference loop for Convolution2DTransposeBias with 'SAME' padding on one image:
    `(H, W, C_in)` with kernel `(C_out, k, k, C_in)` -> `(H_out, W_out, C_out)`."""
    height, width, _ = image.shape
    size = kernel.shape[1]
    pad_h = max(0, size - (height - 1) % stride - 1)
    pad_w = max(0, size - (width - 1) % stride - 1)
    out_h, out_w = stride * (height - 1) + size - pad_h, stride * (width - 1) + size - pad_w
    output = np.tile(bias, (out_h, out_w, 1)).astype(np.float64)
    for in_y in range(height):
        for in_x in range(width):
            for filter_y in range(size):
                for filter_x in range(size):
                    out_y = in_y * stride - pad_h // 2 + filter_y
                    out_x = in_x * stride - pad_w // 2 + filter_x
                    if 0 <= out_y < out_h and 0 <= out_x < out_w:
                        output[out_y, out_x] += kernel[:, filter_y, filter_x, :] @ image[in_y, in_x]
    return output


@pytest.mark.parametrize("height, width, kernel_size", [(5, 6, 3), (4, 4, 2), (3, 5, 4)])
def test_transposed_conv_matches_mediapipe_loop(height, width, kernel_size):
    rng = np.random.default_rng(0)
    in_channels, out_channels, stride = 3, 2, 2
    image = rng.standard_normal((height, width, in_channels))
    kernel = rng.standard_normal((out_channels, kernel_size, kernel_size, in_channels))
    bias = rng.standard_normal(out_channels)
    crop = [*transposed_same_crop(height, kernel_size, stride), *transposed_same_crop(width, kernel_size, stride)]
    op = TransposedConv2dBias([0], in_channels, out_channels, [kernel_size, kernel_size], [stride, stride], crop)
    with torch.no_grad():
        op.weight.copy_(torch.from_numpy(kernel.transpose(3, 0, 1, 2)))
        op.bias.copy_(torch.from_numpy(bias))
        actual = op([torch.from_numpy(image.transpose(2, 0, 1)[None]).float()])[0].numpy().transpose(1, 2, 0)
    expected = mediapipe_transposed_conv(image, kernel, bias, stride)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5)

"""Decoding uploads and encoding answers (alphanet.serving.imageio): fast, offline, no server."""
import io

import numba
import numpy as np
import pytest
from PIL import Image

from alphanet.serving import imageio
from alphanet.errors import BadRequest, internal_error
from alphanet.serving.imageio import DecodedRequest, decode_image, decode_trimap, encode_answer
from alphanet.options import OUTPUT_MODES, OutputOptions
from tests.broken_images import WRITABLE, animations, pixel_bombs, random_image, refused_headers

pytestmark = pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")

LIMIT = 1_000_000


def file_bytes(image: Image.Image, file_format: str = "PNG", **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **save_args)
    return buffer.getvalue()


def gradient_rgb(width: int = 24, height: int = 16) -> np.ndarray:
    """A uint8 RGB image whose every pixel differs, so flips and rotations show."""
    y, x = np.mgrid[:height, :width]
    return np.stack([x * 10, y * 15, (x + y) * 5], axis=2).astype(np.uint8)


def assert_bad(data, status: int, kind: str, **kwargs):
    with pytest.raises(BadRequest) as raised:
        decode_image(data, kwargs.pop("max_pixels", LIMIT))
    assert (raised.value.status, raised.value.kind) == (status, kind), raised.value.message
    return raised.value


# --- decoding: every kind of image becomes displayed 8-bit RGB -----------------------------------

def test_rgb_png_round_trips_exactly():
    rgb = gradient_rgb()
    decoded = decode_image(file_bytes(Image.fromarray(rgb)), LIMIT)
    assert decoded.dtype == np.uint8 and decoded.flags.writeable
    np.testing.assert_array_equal(decoded, rgb)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK"])
def test_opaque_modes_become_rgb(mode):
    source = Image.fromarray(gradient_rgb()).convert(mode)
    data = file_bytes(source, "JPEG" if mode == "CMYK" else "PNG")
    assert Image.open(io.BytesIO(data)).mode == mode
    decoded = decode_image(data, LIMIT)
    assert decoded.shape == (16, 24, 3)
    expected = np.asarray(source.convert("RGB"), dtype=int)
    tolerance = 8 if mode == "CMYK" else 0  # JPEG is lossy
    assert np.abs(decoded.astype(int) - expected).max() <= tolerance


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_modes_are_flattened_over_white(mode):
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, :3, 3] = 255  # left half opaque red, right half fully transparent
    source = Image.fromarray(rgba).convert(mode)
    decoded = decode_image(file_bytes(source), LIMIT)
    opaque = np.asarray(source.convert("RGBA").convert("RGB"))[0, 0]
    assert (decoded[:, :3] == opaque).all()
    assert (decoded[:, 3:] == 255).all()


def test_palette_with_transparent_index_is_flattened_over_white():
    source = Image.new("P", (4, 4), 1)
    source.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    source.paste(0, (0, 0, 2, 4))
    decoded = decode_image(file_bytes(source, transparency=0), LIMIT)
    assert (decoded[:, :2] == 255).all()
    assert (decoded[:, 2:] == [10, 20, 30]).all()


@pytest.mark.parametrize("mode, dtype", [("I;16", np.uint16), ("I", np.int32)])
def test_sixteen_bit_grey_is_scaled_to_eight_bits(mode, dtype):
    grey = np.array([[0, 257, 32896, 65535]], dtype=dtype)
    data = file_bytes(Image.fromarray(grey), "PNG" if mode == "I;16" else "TIFF")
    assert Image.open(io.BytesIO(data)).mode == mode
    decoded = decode_image(data, LIMIT)
    np.testing.assert_array_equal(decoded[0, :, 0], [0, 1, 128, 255])
    assert (decoded == decoded[:, :, :1]).all()


def test_exif_orientation_is_applied():
    rgb = gradient_rgb(24, 16)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = file_bytes(Image.fromarray(rgb), "PNG", exif=exif)
    decoded = decode_image(data, LIMIT)
    np.testing.assert_array_equal(decoded, np.rot90(rgb, k=-1))


def test_animation_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue", "lime")]
    data = file_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert (decode_image(data, LIMIT) == [255, 0, 0]).all()


@pytest.mark.parametrize("name", animations())
def test_animations_of_any_frame_count_give_their_first_frames_size(name):
    data, (width, height) = animations()[name]
    assert decode_image(data, LIMIT).shape == (height, width, 3)


@pytest.mark.parametrize("file_format", WRITABLE)
def test_one_pixel_photos_of_every_format_and_mode_decode_or_are_refused(file_format):
    """Each mode Pillow writes the format in: one pixel of RGB, or a BadRequest (a mode or format not taken).
    (ICNS holds its icon scaled up to 1024 x 1024 as well, hence the served limit.)"""
    for mode in WRITABLE[file_format]:
        try:
            decoded = decode_image(file_bytes(random_image(mode, 1, 1, seed=0), file_format),
                                   imageio.DEFAULT_MAX_PIXELS)
        except BadRequest as refusal:
            assert refusal.kind in ("unsupported_mode", "unsupported_format", "not_an_image"), refusal.message
            continue
        assert decoded.shape[2] == 3 and decoded.dtype == np.uint8


# --- decoding: every problem is a BadRequest naming it -------------------------------------------

def test_missing_empty_and_non_image_bodies():
    assert_bad(None, 400, "missing_image")
    assert_bad(b"", 400, "empty_body")
    assert_bad({"json": "body"}, 400, "not_an_image")
    assert_bad(b"hello, I am text", 400, "not_an_image")


@pytest.mark.parametrize("file_format", ["PNG", "JPEG", "GIF"])
def test_truncated_file(file_format):
    data = file_bytes(Image.fromarray(gradient_rgb(64, 64)), file_format)
    bad = assert_bad(data[: len(data) // 2], 400, "undecodable_image")
    assert "truncated" in bad.message


def test_unsupported_mode():
    data = file_bytes(Image.new("F", (4, 4), 0.5), "TIFF")
    assert_bad(data, 422, "unsupported_mode")


@pytest.mark.parametrize("name", refused_headers())
def test_whatever_a_decoder_raises_is_a_bad_request_with_its_message(name):
    """OSError, NotImplementedError, ValueError...: each plugin raises its own type on a header it refuses."""
    data = refused_headers()[name]
    with pytest.raises(BadRequest) as raised:
        decode_image(data, LIMIT)
    assert (raised.value.status, raised.value.kind) in ((400, "undecodable_image"), (400, "not_an_image"))
    assert raised.value.message


def test_a_decoded_image_that_cannot_be_converted_is_undecodable(monkeypatch):
    def refuse(image, mode=None, *args, **kwargs):
        raise ValueError(f"conversion from {image.mode} to {mode} not supported")

    monkeypatch.setattr(Image.Image, "convert", refuse)
    bad = assert_bad(file_bytes(Image.new("P", (2, 2))), 400, "undecodable_image")
    assert "conversion from P to RGB not supported" in bad.message


def test_postscript_is_refused_before_it_reaches_ghostscript():
    data = file_bytes(Image.new("RGB", (4, 4)), "EPS")
    bad = assert_bad(data, 415, "unsupported_format")
    assert "EPS" in bad.message


def test_a_format_pillow_only_identifies_is_refused():
    grib = b"GRIB" + bytes(3) + b"\x01" + bytes(100)  # edition 1: what Pillow's GRIB stub identifies
    bad = assert_bad(grib, 415, "unsupported_format")
    assert "GRIB" in bad.message


def test_more_pixels_than_the_limit():
    data = file_bytes(Image.new("1", (1001, 1000)))  # a few hundred bytes
    bad = assert_bad(data, 422, "too_many_pixels")
    assert str(LIMIT) in bad.message
    assert decode_image(data, max_pixels=1001 * 1000).shape == (1000, 1001, 3)


def test_pillow_decompression_bomb_error_is_a_bad_request(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow raises above twice its limit
    assert_bad(file_bytes(Image.new("L", (20, 20))), 422, "too_many_pixels")


@pytest.mark.parametrize("name", pixel_bombs(LIMIT))
def test_bombs_are_too_many_pixels(name):
    assert_bad(pixel_bombs(LIMIT)[name], 422, "too_many_pixels")


def test_a_configured_process_agrees_with_pillow_on_the_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    threads = numba.get_num_threads()
    try:
        imageio.configure_process(threads=1, max_pixels=1001 * 1000)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(threads)
    assert Image.MAX_IMAGE_PIXELS == 1001 * 1000


# --- trimaps -------------------------------------------------------------------------------------

def test_trimap_is_decoded_to_grey_of_the_displayed_size():
    trimap = np.array([[0, 128, 255]], dtype=np.uint8).repeat(2, axis=0)
    np.testing.assert_array_equal(decode_trimap(file_bytes(Image.fromarray(trimap)), (2, 3), LIMIT), trimap)


@pytest.mark.parametrize("data, status, kind", [
    (file_bytes(Image.new("L", (3, 2))), 422, "trimap_size"),
    (file_bytes(Image.new("I;16", (2, 3))), 422, "unsupported_mode"),
    (b"not a trimap", 400, "not_an_image"),
])
def test_bad_trimaps(data, status, kind):
    with pytest.raises(BadRequest) as raised:
        decode_trimap(data, (3, 2), LIMIT)
    assert (raised.value.status, raised.value.kind) == (status, kind)
    assert "trimap" in raised.value.message


# --- errors ------------------------------------------------------------------------------------------

def test_bad_request_json_body_names_the_problem():
    body = BadRequest(422, "trimap_size", "the trimap is 3x2").json_body()
    assert body == b'{"code": 422, "type": "trimap_size", "message": "the trimap is 3x2"}'


def test_an_internal_error_is_a_500_naming_the_exception():
    error = internal_error(ZeroDivisionError("division by zero"))
    assert (error.status, error.kind, error.phrase) == (500, "internal_error", "Internal Server Error")
    assert "ZeroDivisionError: division by zero" in error.message


# --- encoding ------------------------------------------------------------------------------------

def soft_edge_scene(width: int = 40, height: int = 8):
    """Red foreground over green background, alpha ramping from 1 to 0 across the middle columns:
    the photo's edge pixels are a red-green mix, which a naive cutout would keep."""
    alpha = np.clip(np.linspace(2.0, -1.0, width, dtype=np.float32), 0, 1)[None].repeat(height, axis=0)
    red, green = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    photo = alpha[:, :, None] * red + (1 - alpha[:, :, None]) * green
    return imageio.to_uint8(photo), alpha


def encoded(mode: str, image: np.ndarray, alpha: np.ndarray, trimap=None, **options) -> Image.Image:
    trimap = np.where(alpha == 1, 1.0, np.where(alpha == 0, 0.0, 0.5)).astype(np.float32) if trimap is None \
        else trimap
    answer = encode_answer(DecodedRequest(image, None, OutputOptions(mode, **options)), alpha, trimap)
    assert answer.content_type == ("image/jpeg" if options.get("file_format") == "jpeg" else "image/png")
    return Image.open(io.BytesIO(answer.body))


def test_alpha_and_trimap_are_grey_pngs():
    photo, alpha = soft_edge_scene()
    alpha_image = encoded("alpha", photo, alpha)
    assert alpha_image.mode == "L" and alpha_image.size == (40, 8)
    np.testing.assert_array_equal(np.asarray(alpha_image), imageio.to_uint8(alpha))
    trimap_values = np.unique(np.asarray(encoded("trimap", photo, alpha)))
    np.testing.assert_array_equal(trimap_values, [0, 128, 255])


def test_cutout_is_rgba_with_the_alpha_images_alpha_and_decontaminated_colours():
    photo, alpha = soft_edge_scene()
    cutout = np.asarray(encoded("cutout", photo, alpha))
    assert cutout.shape == (8, 40, 4)
    np.testing.assert_array_equal(cutout[..., 3], np.asarray(encoded("alpha", photo, alpha)))
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert photo[edge][:, 1].mean() > 60  # the photo's edge is greenish...
    assert cutout[edge][:, 1].max() < 10  # ...the cutout's foreground colour is not
    assert (cutout[alpha == 0] == 0).all()  # transparent pixels carry no colour


@pytest.mark.parametrize("height, width", [(1, 1), (1, 2), (2, 1), (1, 64), (64, 1)])
@pytest.mark.parametrize("mode", OUTPUT_MODES)
def test_the_smallest_photos_are_encoded_in_every_mode(height, width, mode):
    """pymatting's foreground estimate divides by its number of levels, none for one pixel."""
    photo = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = np.full((height, width), 0.5, np.float32)
    assert encoded(mode, photo, alpha).size == (width, height)


def test_foreground_of_a_large_image_is_estimated_at_the_models_size():
    photo, alpha = soft_edge_scene(width=imageio.FOREGROUND_MAX_SIDE + 300)
    foreground = imageio.decontaminated_foreground(photo, alpha)
    assert foreground.shape == photo.shape
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert foreground[edge][:, 1].max() < 0.05


@pytest.mark.parametrize("file_format", ["png", "jpeg"])
def test_composite_puts_the_foreground_on_the_background(file_format):
    photo, alpha = soft_edge_scene()
    composite = np.asarray(encoded("composite", photo, alpha, background=(0, 0, 255), file_format=file_format))
    assert composite.shape == (8, 40, 3)
    tolerance = 12 if file_format == "jpeg" else 0
    assert np.abs(composite[alpha == 0].astype(int) - [0, 0, 255]).max() <= tolerance
    assert np.abs(composite[alpha == 1].astype(int) - [255, 0, 0]).max() <= tolerance
    edge = (alpha > 0.1) & (alpha < 0.9)
    assert composite[edge][:, 1].max() <= tolerance  # no green from the old background

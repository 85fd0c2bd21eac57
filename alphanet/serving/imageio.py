"""Decoding uploaded photos, calling the scripted model and encoding AlphaNet's answers: all around the graph.

Shared by the TorchServe handler, the Triton model and the library call (alphanet.engine), so it imports no
serving framework. Anything wrong with a request raises `BadRequest`, which carries the HTTP status and a JSON
body naming the problem: whatever Pillow raises on a broken upload becomes one, as does a format it identifies
but should not or cannot decode here.

Decoding gives what a viewer displays: EXIF orientation applied, the first frame of an animation, palette,
grey, CMYK and 16-bit images as 8-bit RGB, and transparent images flattened over white (their hidden colours
under transparent pixels are often garbage, and white is what a shop page shows behind them).
"""
import io
import zlib
from dataclasses import dataclass
from typing import Optional

import numba
import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pymatting import estimate_foreground_ml

from alphanet.errors import BadRequest
from alphanet.model import DEFAULT_MAX_SIDE
from alphanet.options import CONTENT_TYPES, OutputOptions
from alphanet.nets.resize import resize_bilinear, scaled_size

DEFAULT_MAX_PIXELS = 25_000_000  # a 24 MP camera photo (6000 x 4000) fits
# zlib level 1 rather than Pillow's default 6: encoding is part of every request's latency, bytes are cheap
# (BENCHMARKS.md, "The answer's PNG encoding", times level 1 under both strategies).
PNG_COMPRESS_LEVEL = 1
# zlib's run-length strategy suits mattes (long runs of 0 and 255): at 1024 px an alpha PNG encoded in 8.2 instead
# of 9.0 ms and a cutout in 56 instead of 61 ms, both 15 % smaller (bench/png_encoding.py, BENCHMARKS.md).
PNG_ZLIB_STRATEGY = zlib.Z_RLE
JPEG_QUALITY = 90
# The model computes alpha at most this long side and resizes it up; colours are estimated at the same size.
FOREGROUND_MAX_SIDE = DEFAULT_MAX_SIDE

SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I" (32-bit) holds 16-bit PNG/TIFF data
_TRANSPARENT_MODES = ("RGBA", "LA")
_OPAQUE_MODES = ("1", "L", "P", "RGB", "CMYK")
_EIGHT_BIT_MODES = _OPAQUE_MODES + _TRANSPARENT_MODES
# Formats Pillow identifies but that are not decoded: EPS is rendered by running Ghostscript, a PostScript
# interpreter, on the file, which no upload should get to do. Stub formats (BUFR, GRIB, HDF5, WMF...), which
# Pillow identifies without a decoder of its own, are refused too (see _refuse_unsupported_format).
REFUSED_FORMATS = ("EPS",)


@dataclass(frozen=True)
class DecodedRequest:
    image: np.ndarray  # uint8 (H, W, 3) RGB as displayed
    trimap: Optional[np.ndarray]  # uint8 (H, W): 0 background, 255 foreground, anything else unknown
    options: OutputOptions


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str


def decode_request(image: Optional[bytes], trimap: Optional[bytes], output: Optional[str], bg: Optional[str],
                   file_format: Optional[str], max_pixels: int) -> DecodedRequest:
    """The raw parts of a request -> checked, decoded inputs for the model; `BadRequest` for any problem.
    Options are parsed first: they are cheap, and a typo should not wait for a big photo to decode."""
    options = OutputOptions.parse(output, bg, file_format)
    rgb = decode_image(image, max_pixels)
    mask = None if trimap is None else decode_trimap(trimap, rgb.shape[:2], max_pixels)
    return DecodedRequest(rgb, mask, options)


def configure_process(threads: int, max_pixels: int) -> None:
    """For a serving process, before its first request: pymatting's parallel loops on `threads` threads, and
    Pillow's own decompression-bomb check at `max_pixels`, so that it agrees with ours."""
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    Image.MAX_IMAGE_PIXELS = max_pixels


def decode_image(data: Optional[bytes], max_pixels: int) -> np.ndarray:
    """Image file bytes -> uint8 (H, W, 3) RGB as displayed."""
    image = _open(data, "image", max_pixels)
    if image.mode not in SIXTEEN_BIT_MODES + _EIGHT_BIT_MODES:
        raise BadRequest(422, "unsupported_mode", f"the image's pixel mode {image.mode!r} is not supported; send "
                                                  "8-bit or 16-bit grey, RGB, RGBA, palette or CMYK")
    return _converted(image, "image", _displayed_rgb)


def decode_trimap(data: bytes, size: tuple, max_pixels: int) -> np.ndarray:
    """Trimap file bytes -> uint8 (H, W) grey; it must be an 8-bit image of `size` (height, width) as displayed."""
    image = _open(data, "trimap", max_pixels)
    if image.mode not in _EIGHT_BIT_MODES:
        raise BadRequest(422, "unsupported_mode",
                         f"the trimap's pixel mode {image.mode!r} is not supported; send an 8-bit grey image")
    if (image.height, image.width) != tuple(size):
        raise BadRequest(422, "trimap_size", f"the trimap is {image.width}x{image.height} but the image is "
                                             f"{size[1]}x{size[0]} (width x height, as displayed)")
    return _converted(image, "trimap", lambda grey: np.array(grey.convert("L")))


def _displayed_rgb(image: Image.Image) -> np.ndarray:
    """A decoded image of a supported mode -> uint8 (H, W, 3) RGB, transparency flattened over white."""
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.rint(np.clip(np.asarray(image), 0, 65535) / 257).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in _TRANSPARENT_MODES or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, "white")
        return np.array(Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"))
    return np.array(image.convert("RGB"))


def _converted(image: Image.Image, what: str, convert) -> np.ndarray:
    """`convert(image)`; a file whose decoded data cannot be converted (a palette that does not fit its pixels,
    say) is as undecodable as a corrupt one."""
    try:
        return convert(image)
    except Exception as error:
        raise _undecodable(what, error) from None


def _open(data: Optional[bytes], what: str, max_pixels: int) -> Image.Image:
    """Fully decode `data` (so truncated files fail here) with EXIF orientation applied."""
    _check_upload(data, what)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadRequest(400, "not_an_image", f"the {what} is not an image file Pillow can read "
                                              "(JPEG, PNG, WebP, GIF, TIFF, BMP, ...)") from None
    except Image.DecompressionBombError:  # Pillow's own limit, above ours when ours is set as it should be
        raise _too_many_pixels(what, max_pixels) from None
    except Exception as error:  # a broken header: each plugin raises its own type (OSError, ValueError...)
        raise _undecodable(what, error) from None
    _refuse_unsupported_format(image, what)
    if image.width * image.height > max_pixels:
        raise _too_many_pixels(what, max_pixels)
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:  # a frame or icon larger than the header said (GIF, ICO, ICNS...)
        raise _too_many_pixels(what, max_pixels) from None
    except Exception as error:  # corrupt data: OSError, SyntaxError, struct.error, NotImplementedError...
        raise _undecodable(what, error) from None


def _check_upload(data, what: str) -> None:
    """Refuse what is no file at all: nothing, a body the server decoded as JSON or text, empty bytes."""
    if data is None:
        raise BadRequest(400, "missing_image", f"no {what}: send it as the body or as the multipart part "
                                               f"named '{what}'")
    if not isinstance(data, (bytes, bytearray)):  # the server decoded a JSON or text body
        raise BadRequest(400, "not_an_image", f"the {what} must be image file bytes, not JSON or text: send "
                                              "Content-Type application/octet-stream or image/*")
    if not data:
        raise BadRequest(400, "empty_body", f"the {what} is empty")


def _refuse_unsupported_format(image: Image.Image, what: str) -> None:
    """Before any decoding: a format in REFUSED_FORMATS, or one Pillow only identifies (a stub, whose loading
    would fail for want of a decoder), gets a clear answer instead of a decoder's error."""
    if image.format in REFUSED_FORMATS or isinstance(image, ImageFile.StubImageFile):
        raise BadRequest(415, "unsupported_format", f"the {what} is a {image.format} file, which is not "
                                                    "accepted: send JPEG, PNG, WebP, GIF, TIFF, BMP, ...")


def _undecodable(what: str, error: Exception) -> BadRequest:
    return BadRequest(400, "undecodable_image", f"the {what} could not be decoded: {error}")


def _too_many_pixels(what: str, max_pixels: int) -> BadRequest:
    return BadRequest(422, "too_many_pixels", f"the {what} has more than {max_pixels} pixels, the limit")


def matte(model, request: DecodedRequest) -> tuple:
    """The scripted model on a decoded request -> its float32 (H, W) alpha and the trimap it used, as numpy
    arrays for encode_answer. The caller chooses torch's inference mode."""
    trimap = None if request.trimap is None else torch.from_numpy(request.trimap)
    alpha, used_trimap = model(torch.from_numpy(request.image), trimap)
    return alpha.numpy(), used_trimap.numpy()


def encode_answer(request: DecodedRequest, alpha: np.ndarray, trimap: np.ndarray) -> Answer:
    """The model's float32 (H, W) alpha and trimap -> the encoded image the client asked for."""
    options = request.options
    if options.mode == "alpha":
        return _encode(to_uint8(alpha), "png")
    if options.mode == "trimap":
        return _encode(to_uint8(trimap), "png")  # 0, 128, 255
    foreground = decontaminated_foreground(request.image, alpha)
    if options.mode == "cutout":
        return _encode(cutout_rgba(foreground, alpha), "png")
    background = np.asarray(options.background, dtype=np.float32) / 255.0
    composite = foreground * alpha[:, :, None] + background * (1.0 - alpha[:, :, None])
    return _encode(to_uint8(composite), options.file_format)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] -> uint8 in [0, 255], rounded (0.5 -> 128)."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def cutout_rgba(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Float RGB foreground and alpha -> uint8 (H, W, 4); fully transparent pixels are black, which hides
    whatever was behind and compresses better."""
    rgba = to_uint8(np.dstack([foreground, alpha]))
    rgba[rgba[:, :, 3] == 0, :3] = 0
    return rgba


def decontaminated_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB and its alpha -> float32 (H, W, 3) foreground colours in [0, 1] without the background's colour
    bleeding into soft edges (pymatting's multilevel estimate, about 0.35 s at 1500 px on one core).

    Above FOREGROUND_MAX_SIDE the estimate runs at that size (alpha has no finer detail) and only its
    correction to the photo is scaled up, so the photo's own full-resolution texture is kept."""
    rgb = image.astype(np.float32) / 255.0
    height, width = alpha.shape
    if height * width == 1:
        # pymatting's estimate works on log2(long side) levels and divides by their count: zero for one pixel.
        # A lone pixel has no neighbour whose colour could correct its own.
        return rgb
    if max(height, width) <= FOREGROUND_MAX_SIDE:
        return estimate_foreground_ml(rgb, alpha)
    small_size = scaled_size(height, width, FOREGROUND_MAX_SIDE)
    small_rgb, small_alpha = (_resize(x, small_size) for x in (rgb, alpha[:, :, None]))
    correction = estimate_foreground_ml(small_rgb, small_alpha[:, :, 0]) - small_rgb
    return np.clip(rgb + _resize(correction, [height, width]), 0.0, 1.0)


def _resize(pixels: np.ndarray, size: list) -> np.ndarray:
    """float32 (H, W, C) -> (size[0], size[1], C) with the graph's own resizing (antialiased when shrinking)."""
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    return resize_bilinear(tensor, size)[0].permute(1, 2, 0).contiguous().numpy()


def _encode(pixels: np.ndarray, file_format: str) -> Answer:
    buffer = io.BytesIO()
    if file_format == "png":
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_ZLIB_STRATEGY)
    else:
        Image.fromarray(pixels).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return Answer(buffer.getvalue(), CONTENT_TYPES[file_format])

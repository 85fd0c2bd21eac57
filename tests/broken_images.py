"""Image files a careless or hostile client may upload, for the tests of what the servers answer them: photos in
every format and mode Pillow writes, from 1x1 pixel up; those files truncated and with header bits flipped;
headers Pillow's decoders refuse with errors of every type; decompression bombs; animations.

Every file is made here, from seeds: no data files, and the same bytes on every run.
"""
import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

# Every mode Pillow can make an image in; `WRITABLE` says which of them each format can save.
MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "PA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16",
         "I;16B", "I;16L", "F")
# Pillow names these in Image.SAVE but cannot write them without a handler registered by the application.
_STUB_WRITERS = ("BUFR", "GRIB", "HDF5", "WMF")


def random_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """Random pixels (random transparency too) in `mode`."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def encoded(image: Image.Image, file_format: str, **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **save_args)
    return buffer.getvalue()


def _writable_modes(file_format: str) -> tuple:
    modes = []
    for mode in MODES:
        try:
            encoded(random_image(mode, 3, 2, seed=0), file_format)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        modes.append(mode)
    return tuple(modes)


def _writable() -> dict:
    Image.init()
    formats = sorted(set(Image.SAVE) - set(_STUB_WRITERS))
    with warnings.catch_warnings():  # Pillow's notice that its IM format is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return {file_format: modes for file_format in formats if (modes := _writable_modes(file_format))}


WRITABLE = _writable()  # format -> the modes Pillow saves it in


# --- mutations of valid files -------------------------------------------------------------------------------

def truncations(data: bytes, count: int) -> list:
    """`data` cut short at `count` points spread over its length, the first byte to the last but one."""
    ends = np.unique(np.linspace(1, len(data) - 1, count).astype(int))
    return [data[:end] for end in ends]


def header_flips(data: bytes, count: int, seed: int, header_bytes: int = 64) -> list:
    """`count` copies of `data`, each with one random bit flipped among its first `header_bytes` bytes, where the
    dimensions, modes, offsets and chunk lengths decoders trust are."""
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(count):
        copy = bytearray(data)
        copy[rng.integers(min(header_bytes, len(data)))] ^= 1 << int(rng.integers(8))
        copies.append(bytes(copy))
    return copies


# --- headers that Pillow's decoders refuse, each with its own type of error ------------------------------------

def bmp(bits: int = 24, compression: int = 0, colors: int = 0, masks: bytes = b"") -> bytes:
    """A 2x2 BMP (BITMAPINFOHEADER) with the given header fields, `masks` after the header, zero pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, bits, compression, 0, 2835, 2835, colors, 0)
    after_header = masks + bytes(4 * min(colors, 16))
    pixels = bytes(64)
    offset = 14 + len(info) + len(after_header)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + after_header + pixels


def dds(fourcc: bytes) -> bytes:
    """A 4x4 DDS whose pixel format is the compressed format `fourcc`."""
    flags = 0x1 | 0x2 | 0x4 | 0x1000  # caps, height, width, pixel format
    pixel_format = struct.pack("<II4s5I", 32, 0x4, fourcc, 0, 0, 0, 0, 0)
    header = struct.pack("<7I", 124, flags, 4, 4, 0, 0, 0) + bytes(44) + pixel_format + struct.pack("<5I", 0x1000,
                                                                                                     0, 0, 0, 0)
    return b"DDS " + header + bytes(64)


def png(width: int, height: int, pixels: bytes = b"") -> bytes:
    """An 8-bit grey PNG whose header says `width` x `height`, whatever `pixels` (compressed into one IDAT) hold."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(pixels)) + _chunk(b"IEND",
                                                                                                          b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_text_bomb() -> bytes:
    """A valid 2x2 PNG with a compressed text chunk of 4 MB, 4 kB in the file."""
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "a" * 4_000_000, zip=True)
    return encoded(Image.new("L", (2, 2)), "PNG", pnginfo=info)


def big_tiff_with_unreachable_frame() -> bytes:
    """A BigTIFF whose first frame is at an offset no file can reach (2**63)."""
    return b"II" + struct.pack("<HHHQ", 43, 8, 0, 2 ** 63)


def tiff_zip_bomb(width: int, height: int) -> bytes:
    """A deflate-compressed black TIFF: `width` x `height` bytes of pixels in a file a thousand times smaller."""
    return encoded(Image.new("L", (width, height)), "TIFF", compression="tiff_adobe_deflate")


def gif_with_oversized_frame() -> bytes:
    """A 1x1 GIF whose single frame claims 65535 x 65535 pixels."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 65535, 65535, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b";"


def refused_headers() -> dict:
    """Name -> file whose header makes Pillow raise: OSError (BMP), NotImplementedError (DDS), ValueError (a PNG
    text chunk that inflates past Pillow's limit, a TIFF frame), or identify nothing (a PNG of no pixels)."""
    return {
        "BMP of 7 bits a pixel": bmp(bits=7),
        "BMP with a bitfields layout": bmp(bits=32, compression=3, masks=struct.pack("<III", 0xF, 0xF0, 0xF00)),
        "BMP with compression 9": bmp(compression=9),
        "BMP with 70000 palette colours": bmp(bits=8, colors=70000),
        "DDS in an unknown pixel format": dds(b"XYZW"),
        "DDS in an unknown DXGI format": dds(b"DX10"),
        "PNG with a text chunk bomb": png_text_bomb(),
        "BigTIFF with an unreachable frame": big_tiff_with_unreachable_frame(),
        "PNG of 0 x 0 pixels": png(0, 0),
        "PNG of 65535 x 1 pixels without data": png(65535, 1),
    }


def pixel_bombs(max_pixels: int) -> dict:
    """Name -> file of more than `max_pixels` pixels: declared by a header with next to no data behind it, or
    real pixels deflated a thousandfold."""
    return {
        "PNG of 100000 x 100000 pixels": png(100_000, 100_000, bytes(1000)),
        "GIF with a 65535 x 65535 frame": gif_with_oversized_frame(),
        "TIFF zip bomb": tiff_zip_bomb(5000, max_pixels // 5000 + 1),
    }


# --- animations ---------------------------------------------------------------------------------------------

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "TIFF")  # PNG: APNG; TIFF: pages


def animated(file_format: str, frames: int, width: int = 7, height: int = 5) -> bytes:
    """`frames` random frames of `width` x `height` (random RGBA: GIF keeps a transparent index), each
    shown for another number of milliseconds."""
    images = [random_image("RGBA", width, height, seed) for seed in range(frames)]
    return encoded(images[0], file_format, save_all=True, append_images=images[1:],
                   duration=[40 + 10 * index for index in range(frames)], loop=0)


def animations() -> dict:
    """Name -> (file, the size of its first frame): odd and even frame counts in every animated format, a
    TIFF whose pages differ in size, and a GIF cut off after its first frame."""
    files = {f"{file_format} animation of {frames} frame(s)": (animated(file_format, frames), (7, 5))
             for file_format in ANIMATED_FORMATS for frames in (1, 2, 3, 7)}
    pages = [random_image("RGB", 4 + page, 9 - page, seed=page) for page in range(3)]
    files["TIFF of 3 pages of different sizes"] = (encoded(pages[0], "TIFF", save_all=True,
                                                           append_images=pages[1:]), (4, 9))
    seven_frames = animated("GIF", 7)
    files["GIF animation of 7 frames cut off in the second"] = (seven_frames[:len(seven_frames) // 3], (7, 5))
    return files

"""Cut out photos in this process, without a server: the API's answer for the same photo and options.

    import alphanet
    png = alphanet.cutout("photo.jpg")  # the RGBA PNG that POST /predictions/alphanet answers
    jpeg = alphanet.cutout(photo_bytes, output="composite", bg="#f4f4f4", file_format="jpeg")

`alphanet cutout photo.jpg -o photo.png` is its command line, for a photo or a folder of them. A photo takes the
server's way: alphanet.serving.imageio decodes it, calls the scripted model and encodes the answer, so the options,
the limits and the errors (BadRequest, of the kind the API's JSON names) are the API's. The model is the default
archive's (`make mar`): the project's weights with the choices of alphanet.training.checkpoint.DEFAULT_ARCHIVE
(fused segmentation, one matting pass), in fp32, scripted here on first use (about 10 s) and kept for the process.
An archive built for bf16 (PRECISION=bf16, where the CPU has it) answers a little differently: pass its exported
file as `model=` to get its answers.
"""
import argparse
import functools
import io
import os
import sys
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image

from alphanet.training.checkpoint import load_alphanet
from alphanet.client import Summary, UsageError, plan_jobs, write_atomically
from alphanet.errors import BadRequest
from alphanet.export import script_alphanet
from alphanet.serving.imageio import DEFAULT_MAX_PIXELS, decode_request, encode_answer, matte
from alphanet.options import DEFAULT_OUTPUT, OutputOptions, add_option_arguments
from alphanet.quiet_jit import quiet_jit
from alphanet.serving.worker import warm_up

# Pixel modes a PNG holds; pixels of other modes (CMYK, 32-bit float...) are handed over as a TIFF.
PNG_MODES = ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA")

# A photo or trimap: a file's path or bytes, or pixels (a PIL image, a numpy array).
Picture = Union[str, Path, bytes, Image.Image, np.ndarray]


def cutout(image: Picture, output: str = DEFAULT_OUTPUT, bg: Optional[str] = None, file_format: Optional[str] = None,
           trimap: Optional[Picture] = None, model=None, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """`image` cut out as the API answers it for the same options: the answer file's bytes, a PNG (a JPEG for a
    composite with file_format="jpeg").

    A file (path or bytes) is used as displayed, as an upload is (EXIF orientation applied); pixels are used as
    they are: uint8 arrays of (H, W, 3) RGB, (H, W, 4) RGBA (flattened over white) or (H, W) grey. `trimap` is
    optional, as in the API. `model` is a scripted AlphaNet or the path of one (`alphanet export`); by default,
    the default archive's. Raises BadRequest for what the API refuses, before the model is loaded."""
    request = decode_request(file_bytes(image), None if trimap is None else file_bytes(trimap), output, bg,
                             file_format, max_pixels)
    with torch.inference_mode():
        alpha, used_trimap = matte(scripted_model(model), request)
    return encode_answer(request, alpha, used_trimap).body


def file_bytes(picture: Picture) -> bytes:
    """What the server would be sent for `picture`: a file's bytes as they are, pixels as a lossless file that
    the server's decoder then takes or refuses as it would take or refuse an upload of them."""
    if isinstance(picture, (str, Path)):
        return Path(picture).read_bytes()
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray(picture)
    if not isinstance(picture, Image.Image):
        return picture  # bytes, or something the decoder refuses as no image file
    buffer = io.BytesIO()
    if picture.mode in PNG_MODES:
        picture.save(buffer, "PNG", compress_level=0)  # decoded again at once: no time spent compressing
    else:
        picture.save(buffer, "TIFF")
    return buffer.getvalue()


def scripted_model(model=None):
    """`model` itself, the scripted file at that path (loaded once), or the default archive's model."""
    if model is None:
        return default_model()
    if isinstance(model, (str, Path)):
        return loaded_model(str(Path(model).resolve()))
    return model


@functools.cache
def default_model() -> torch.jit.ScriptModule:
    """The default archive's model, scripted and frozen as `alphanet export` writes it; warmed up, as a server
    worker's is, so that the first photo does not pay for the graph's optimisation."""
    model = script_alphanet(load_alphanet())
    warm_up(model)
    return model


@functools.cache
def loaded_model(path: str) -> torch.jit.ScriptModule:
    with quiet_jit():
        model = torch.jit.load(path)
    warm_up(model)
    return model


# --- Command line: `alphanet cutout` ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphanet cutout", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a photo, or a folder of photos (searched recursively)")
    parser.add_argument("-o", "--out", required=True,
                        help="the answer's file for a photo, or a folder (one that exists, or a name ending in /) "
                             "to write it into under the photo's name; for a folder of photos, the folder its "
                             "answers mirror it into (photos/shoes/red.jpg -> OUT/shoes/red.png, or .jpg for a "
                             "JPEG composite)")
    add_option_arguments(parser)
    parser.add_argument("--trimap", type=Path, help="the photo's trimap; for a folder, a folder of trimaps at the "
                                                    "photos' relative paths (photos without one get the model's)")
    parser.add_argument("--model", type=Path, help="a scripted AlphaNet (`alphanet export`; default: the default "
                                                   "archive's model, scripted here, about 10 s)")
    return parser


def main(argv: Optional[list] = None) -> int:
    """Exit status 0 when every photo got its answer, 1 when some did not (each is named, with the reason), 2 for
    arguments that cannot work (before any model loads)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    failed = {}
    try:
        options = OutputOptions.parse(args.output, args.bg, args.file_format)
        cutouts = planned_cutouts(args.source, output_path(args.source, args.out, options.suffix), args.trimap,
                                  options.suffix, failed)
    except (BadRequest, UsageError) as error:
        parser.error(str(error))
    model = scripted_model(args.model)
    for photo, trimap, output in cutouts:
        try:
            write_atomically(output, cutout(photo, args.output, args.bg, args.file_format, trimap, model))
        except BadRequest as error:
            failed[photo] = f"{error.kind}: {error.message}"
            continue
        print(f"wrote {output}")
    for photo, reason in failed.items():
        print(f"failed {photo}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def output_path(source: Path, out: str, suffix: str) -> Path:
    """`-o` as given -> where the answers go: for a photo, into a folder named by `out` when it is one or ends in
    a path separator (under the photo's name and the answer's `suffix`), else the file `out`; for a folder of
    photos, the folder `out`."""
    if source.is_file() and (out.endswith(("/", os.sep)) or Path(out).is_dir()):
        return Path(out) / f"{source.stem}{suffix}"
    return Path(out)


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest parent that exists."""
    return next(candidate for candidate in (path, *path.parents) if candidate.exists())


def planned_cutouts(source: Path, out: Path, trimap: Optional[Path], suffix: str, failed: dict) -> list:
    """(photo, its trimap or None, its answer's file) for the photo `source`, answered into `out`, or for each
    photo under the folder `source`, mirrored under `out` as the bulk client does (alphanet.client.plan_jobs):
    of two photos that would share an answer's file, the second goes into `failed`. Paths that cannot work (a
    folder of photos into a file, an answer over its own photo or under a file, a photo's trimap that is not a
    file) raise UsageError, before any model loads."""
    if source.is_file():
        if out.is_dir():
            raise UsageError(f"-o: {out} is a folder; the answer's file would replace it")
        if out.exists() and out.samefile(source):
            raise UsageError(f"-o: {out} is the photo itself; its answer would replace it")
        existing = nearest_existing(out.parent)
        if not existing.is_dir():
            raise UsageError(f"-o: {existing} is a file, so {out} cannot be written")
        if trimap is not None and not trimap.is_file():
            raise UsageError(f"--trimap: no such file: {trimap} (a photo takes one trimap file)")
        return [(source, trimap, out)]
    if source.is_dir() and out.exists() and not out.is_dir():
        raise UsageError(f"-o: {out} is a file; a folder of photos needs a folder for its answers")
    summary = Summary()
    jobs = plan_jobs([source], out, trimap, summary)
    failed.update(summary.failed)
    return [(job.image, job.trimap, job.output_with(suffix)) for job in jobs]


if __name__ == "__main__":
    sys.exit(main())

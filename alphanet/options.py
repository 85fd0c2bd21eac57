"""The options of every answer, defined once: the API's `output`, `bg` and `format`, their values and defaults.

The TorchServe handler and Triton's alphanet_cutout parse them from each request; the bulk client checks them
before it sends a photo, and the library call and `alphanet cutout` take them as arguments. All go through
`OutputOptions.parse`, so a value one of them accepts the others accept, with the same defaults. Imports no
torch: the client runs without it.
"""
import argparse
from dataclasses import dataclass
from typing import Optional

from PIL import ImageColor

from alphanet.errors import BadRequest

OUTPUT_MODES = ("cutout", "alpha", "composite", "trimap")
# How the `format` option may be spelled, and the file format each spelling names.
FORMATS = {"png": "png", "jpeg": "jpeg", "jpg": "jpeg"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg"}  # the file name extension of an answer, by its type
DEFAULT_OUTPUT = "cutout"
DEFAULT_BG = "white"
DEFAULT_FORMAT = "png"


@dataclass(frozen=True)
class OutputOptions:
    """What to answer a photo with. `parse` makes one from the options as a request spells them."""
    mode: str = DEFAULT_OUTPUT
    background: tuple = (255, 255, 255)  # DEFAULT_BG as (r, g, b); the composite's only
    file_format: str = DEFAULT_FORMAT  # the composite's only: every other output is a PNG

    @classmethod
    def parse(cls, output: Optional[str] = None, bg: Optional[str] = None,
              file_format: Optional[str] = None) -> "OutputOptions":
        """The options' values as strings, None where absent -> OutputOptions; BadRequest (400) for a bad one.
        `bg` and `format` belong to the composite only: elsewhere they would be silently ignored, so they are
        refused."""
        mode = output or DEFAULT_OUTPUT
        if mode not in OUTPUT_MODES:
            raise BadRequest(400, "unknown_output", f"output={mode!r} is not one of {', '.join(OUTPUT_MODES)}")
        if mode != "composite" and (bg is not None or file_format is not None):
            raise BadRequest(400, "option_not_applicable", "bg= and format= apply to output=composite only")
        spelling = (file_format or DEFAULT_FORMAT).lower()
        if spelling not in FORMATS:
            raise BadRequest(400, "unknown_format", f"format={spelling!r} is not one of png, jpeg")
        return cls(mode, parse_color(bg or DEFAULT_BG), FORMATS[spelling])

    @property
    def answer_format(self) -> str:
        return self.file_format if self.mode == "composite" else "png"

    @property
    def suffix(self) -> str:
        """The answer's file name extension: .jpg for a JPEG composite, else .png."""
        return SUFFIXES[CONTENT_TYPES[self.answer_format]]

    def parameters(self) -> dict:
        """The options as a request spells them, which `parse` reads back into these: `bg` and `format` only for
        a composite, where they are allowed."""
        if self.mode != "composite":
            return {"output": self.mode}
        return {"output": self.mode, "bg": "#%02x%02x%02x" % self.background, "format": self.file_format}


def parse_color(value: str) -> tuple:
    """'#RRGGBB', 'RRGGBB' (a '#' must be written %23 in a URL) or a CSS colour name -> (r, g, b)."""
    spec = f"#{value}" if len(value) in (3, 6) and all(c in "0123456789abcdefABCDEF" for c in value) else value
    try:
        color = ImageColor.getrgb(spec)
    except ValueError:
        color = None
    if color is None or len(color) != 3:
        raise BadRequest(400, "bad_color", f"bg={value!r} is not a colour: use #RRGGBB or a name such as white")
    return color


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """--output, --bg and --format, for a command that asks for answers; `OutputOptions.parse(args.output,
    args.bg, args.file_format)` checks them."""
    parser.add_argument("--output", choices=OUTPUT_MODES, default=DEFAULT_OUTPUT,
                        help="cutout (RGBA PNG, edge colours decontaminated), alpha (grey PNG), composite (over "
                             f"--bg), trimap (the one the model used); default {DEFAULT_OUTPUT}")
    parser.add_argument("--bg", help=f"the composite's background: #RRGGBB or a colour name (default {DEFAULT_BG})")
    parser.add_argument("--format", dest="file_format", choices=FORMATS,
                        help=f"the composite's file format (default {DEFAULT_FORMAT})")

"""The options of every answer (alphanet.options): parsing, defaults, and their spelling for a server."""
import argparse

import pytest

from alphanet.errors import BadRequest
from alphanet.options import OutputOptions, add_option_arguments


@pytest.mark.parametrize("bg, color", [(None, (255, 255, 255)), ("white", (255, 255, 255)),
                                       ("#FF8000", (255, 128, 0)), ("ff8000", (255, 128, 0)),
                                       ("navy", (0, 0, 128))])
def test_composite_backgrounds(bg, color):
    assert OutputOptions.parse("composite", bg, None).background == color


def test_default_options_are_a_png_cutout():
    assert OutputOptions.parse() == OutputOptions("cutout", (255, 255, 255), "png")
    assert OutputOptions.parse().suffix == ".png"


@pytest.mark.parametrize("spelling", ["jpeg", "jpg", "JPEG"])
def test_every_spelling_of_jpeg_is_one_format(spelling):
    options = OutputOptions.parse("composite", None, spelling)
    assert (options.file_format, options.suffix) == ("jpeg", ".jpg")


@pytest.mark.parametrize("output, bg, file_format, kind", [
    ("mask", None, None, "unknown_output"),
    ("composite", "#12345", None, "bad_color"),
    ("composite", "#FF000080", None, "bad_color"),
    ("composite", "no-such-colour", None, "bad_color"),
    ("composite", None, "gif", "unknown_format"),
    ("alpha", "white", None, "option_not_applicable"),
    ("cutout", None, "jpeg", "option_not_applicable"),
])
def test_bad_options(output, bg, file_format, kind):
    with pytest.raises(BadRequest) as raised:
        OutputOptions.parse(output, bg, file_format)
    assert (raised.value.status, raised.value.kind) == (400, kind)


@pytest.mark.parametrize("given", [("alpha", None, None), ("composite", None, None), ("composite", "navy", "jpg"),
                                   ("composite", "#102030", "png")])
def test_the_parameters_sent_to_a_server_parse_back_into_the_same_options(given):
    options = OutputOptions.parse(*given)
    parameters = options.parameters()
    assert OutputOptions.parse(parameters["output"], parameters.get("bg"), parameters.get("format")) == options


def test_a_command_lines_options_parse_with_the_same_defaults():
    parser = argparse.ArgumentParser()
    add_option_arguments(parser)
    args = parser.parse_args([])
    assert OutputOptions.parse(args.output, args.bg, args.file_format) == OutputOptions()
    args = parser.parse_args(["--output", "composite", "--bg", "navy", "--format", "jpg"])
    assert OutputOptions.parse(args.output, args.bg, args.file_format) == OutputOptions("composite", (0, 0, 128),
                                                                                        "jpeg")

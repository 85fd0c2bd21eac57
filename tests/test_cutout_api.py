"""alphanet.cutout and `alphanet cutout`: the server's answers without a server. The TorchServe handler runs in
this process (TorchServe's own Context around it) on the same model, to be compared with."""
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pytest
import torch
from PIL import Image
from ts.context import Context, RequestProcessor

import alphanet
from alphanet import cli, engine
from alphanet.errors import BadRequest
from alphanet.serving.imageio import DEFAULT_MAX_PIXELS
from alphanet.training.checkpoint import DEFAULT_ARCHIVE
from alphanet.quiet_jit import quiet_jit
from alphanet.serving.worker import TRIM_ABOVE_PIXELS, TrimWhenIdle
from handlers.alphanet_handler import AlphaNetHandler
from tests.conftest import REPO

DEMO = REPO / "alphanet" / "assets" / "demo.jpg"


class OnceEach:
    """A model called once per distinct input (a call on the demo photo takes about 5 s here), its answers kept:
    the handler and the library then get the same alpha, as calls of their own give (the graph is deterministic)."""

    def __init__(self, model):
        self.model, self.answers = model, {}

    def __call__(self, image: torch.Tensor, trimap=None):
        key = (image.numpy().tobytes(), image.shape, None if trimap is None else trimap.numpy().tobytes())
        if key not in self.answers:
            self.answers[key] = self.model(image, trimap)
        return self.answers[key]


def half_transparent(image: torch.Tensor, trimap: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """A stand-in with the scripted model's contract: uint8 (H, W, 3) [and trimap] -> float32 alpha and trimap."""
    size = [image.shape[0], image.shape[1]]
    return torch.full(size, 0.5), torch.full(size, 0.5)


def never_called(image: torch.Tensor, trimap=None):
    raise AssertionError("the model was called on a request that should be refused before it")


@pytest.fixture(scope="module")
def default_model():
    return OnceEach(engine.default_model())


def served(model, image: bytes, trimap=None, **options) -> tuple:
    """(status, content type, body) of the TorchServe handler's answer to one request: the photo (and trimap)
    as multipart parts, the options (the API's names: output, bg, format) as X- headers."""
    handler = AlphaNetHandler()
    handler.model, handler.max_pixels, handler.trim_when_idle = model, DEFAULT_MAX_PIXELS, TrimWhenIdle()
    handler.trim_above_pixels = TRIM_ABOVE_PIXELS
    handler.context = Context("alphanet", "", {}, 1, None, "0.12")
    handler.context.request_processor = [RequestProcessor({f"X-{name}": value for name, value in options.items()})]
    parts = {"image": image} if trimap is None else {"image": image, "trimap": trimap}
    (body,) = handler.postprocess(handler.inference(handler.preprocess([parts])))
    return handler.context.get_response_status(0)[0], handler.context.get_response_content_type(0), body


def library_options(options: dict) -> dict:
    """The API's option names -> alphanet.cutout's keyword arguments."""
    return {{"format": "file_format"}.get(name, name): value for name, value in options.items()}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def demo_trimap() -> bytes:
    """The demo photo's trimap: background in a 40 px border, foreground in a central box, unknown between."""
    trimap = np.full((512, 512), 128, np.uint8)
    trimap[:40], trimap[-40:], trimap[:, :40], trimap[:, -40:] = 0, 0, 0, 0
    trimap[200:400, 150:350] = 255
    return png_bytes(Image.fromarray(trimap))


def small_photo(width: int = 48, height: int = 32) -> Image.Image:
    return Image.open(DEMO).convert("RGB").resize((width, height))


# --- The library call answers as the server does ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("options, with_trimap", [
    ({}, False),
    ({"output": "alpha"}, False),
    ({"output": "composite", "bg": "#f4f4f4", "format": "jpeg"}, False),
    ({"output": "trimap"}, True),
    ({"output": "cutout"}, True),
], ids=["cutout", "alpha", "composite-jpeg", "user-trimap", "cutout-user-trimap"])
def test_the_library_answers_the_demo_photo_as_the_handler_does(default_model, options, with_trimap):
    trimap = demo_trimap() if with_trimap else None
    status, _, body = served(default_model, DEMO.read_bytes(), trimap, **options)
    assert status == 200
    assert alphanet.cutout(DEMO, trimap=trimap, model=default_model, **library_options(options)) == body


@pytest.mark.slow
def test_without_a_model_the_default_archives_answers_scripted_once(default_model):
    assert engine.scripted_model(None) is engine.scripted_model(None) is default_model.model


class HalfTransparent(torch.nn.Module):
    def forward(self, image: torch.Tensor, trimap: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        return half_transparent(image)


def test_a_model_may_be_a_scripted_file(tmp_path):
    scripted = tmp_path / "half_transparent.pt"
    with quiet_jit():
        torch.jit.script(HalfTransparent()).save(str(scripted))
    photo = png_bytes(small_photo())
    assert alphanet.cutout(photo, model=scripted) == alphanet.cutout(photo, model=half_transparent)


def test_a_path_bytes_a_pil_image_and_an_array_are_one_photo(tmp_path):
    photo = small_photo()
    path = tmp_path / "photo.png"
    photo.save(path)
    answers = {kind: alphanet.cutout(given, model=half_transparent) for kind, given in [
        ("path", path), ("str", str(path)), ("bytes", path.read_bytes()), ("PIL", photo), ("array", np.array(photo))]}
    assert len(set(answers.values())) == 1, answers.keys()
    cmyk = alphanet.cutout(photo.convert("CMYK"), model=half_transparent)  # pixels PNG cannot hold: a TIFF
    assert cmyk == alphanet.cutout(photo.convert("CMYK").convert("RGB"), model=half_transparent)


def test_a_trimap_as_an_array_is_the_same_trimap_as_its_file():
    def given_trimap(image: torch.Tensor, trimap: torch.Tensor):
        return torch.full(trimap.shape, 0.5), trimap.float() / 255

    photo, trimap = small_photo(), np.zeros((32, 48), np.uint8)
    trimap[8:24, 12:36] = 255
    from_file = alphanet.cutout(photo, output="trimap", trimap=png_bytes(Image.fromarray(trimap)), model=given_trimap)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(from_file))), trimap)
    assert alphanet.cutout(photo, output="trimap", trimap=trimap, model=given_trimap) == from_file


@pytest.mark.parametrize("image, trimap, options, kind", [
    (b"not an image", None, {}, "not_an_image"),
    (b"", None, {}, "empty_body"),
    (DEMO.read_bytes(), png_bytes(Image.new("L", (3, 2))), {}, "trimap_size"),
    (DEMO.read_bytes(), None, {"output": "mask"}, "unknown_output"),
    (DEMO.read_bytes(), None, {"output": "alpha", "bg": "white"}, "option_not_applicable"),
    (DEMO.read_bytes(), None, {"output": "composite", "bg": "#12345"}, "bad_color"),
    (DEMO.read_bytes(), None, {"output": "composite", "format": "gif"}, "unknown_format"),
])
def test_the_library_refuses_what_the_server_refuses_before_loading_a_model(monkeypatch, image, trimap, options,
                                                                             kind):
    monkeypatch.setattr(engine, "default_model", lambda: pytest.fail("the default model was loaded"))
    status, content_type, body = served(never_called, image, trimap, **options)
    with pytest.raises(BadRequest) as raised:
        alphanet.cutout(image, trimap=trimap, **library_options(options))
    assert raised.value.kind == kind
    assert (status, content_type, body) == (raised.value.status, "application/json", raised.value.json_body())


def test_the_library_builds_the_model_make_mar_builds():
    makefile = (REPO / "Makefile").read_text()
    seg, mirror = (re.search(rf"^{name} \?= (\w+)$", makefile, re.MULTILINE)[1] for name in ("SEG", "MIRROR"))
    assert (seg, mirror == "on") == (DEFAULT_ARCHIVE["segmenter"], DEFAULT_ARCHIVE["mirror_average"])


# --- The command line -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_alphanet_cutout_writes_a_png_of_the_photos_size(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    small_photo(60, 40).save(photo)
    out = tmp_path / "answers" / "photo-cutout.png"
    assert cli.main(["cutout", str(photo), "-o", str(out)]) == 0
    answer = Image.open(out)
    assert (answer.format, answer.mode, answer.size) == ("PNG", "RGBA", (60, 40))
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.slow
def test_alphanet_cutout_mirrors_a_folder_and_names_the_photos_it_could_not_answer(tmp_path, capsys):
    photos = tmp_path / "photos"
    (photos / "shoes").mkdir(parents=True)
    small_photo(60, 40).save(photos / "a.jpg")
    small_photo(30, 50).save(photos / "shoes" / "red.png")
    (photos / "broken.jpg").write_bytes(b"not an image")
    assert cli.main(["cutout", str(photos), "-o", str(tmp_path / "out"), "--output", "alpha"]) == 1
    sizes = {path.relative_to(tmp_path / "out").as_posix(): Image.open(path).size
             for path in (tmp_path / "out").rglob("*.png")}
    assert sizes == {"a.png": (60, 40), "shoes/red.png": (30, 50)}
    assert f"failed {photos / 'broken.jpg'}: not_an_image:" in capsys.readouterr().err


def test_a_bad_option_stops_alphanet_cutout_before_any_model_is_loaded(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine, "default_model", lambda: pytest.fail("the default model was loaded"))
    with pytest.raises(SystemExit) as exited:
        cli.main(["cutout", str(DEMO), "-o", str(tmp_path / "x.png"), "--bg", "navy"])
    assert exited.value.code == 2
    assert "apply to output=composite only" in capsys.readouterr().err


def test_a_photo_into_a_folder_is_answered_under_its_own_name(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine, "default_model", lambda: half_transparent)
    (tmp_path / "answers").mkdir()
    assert cli.main(["cutout", str(DEMO), "-o", str(tmp_path / "answers")]) == 0
    assert Image.open(tmp_path / "answers" / "demo.png").size == Image.open(DEMO).size
    assert cli.main(["cutout", str(DEMO), "-o", f"{tmp_path / 'new'}/", "--output", "composite", "--format",
                     "jpeg"]) == 0
    assert (tmp_path / "new" / "demo.jpg").is_file()
    assert engine.output_path(DEMO, str(tmp_path / "new.png"), ".png") == tmp_path / "new.png"
    assert engine.output_path(REPO / "alphanet" / "assets", str(tmp_path / "out"), ".png") == tmp_path / "out"


@pytest.mark.parametrize("case, message", [
    ("folder into a file", "is a file; a folder of photos needs a folder"),
    ("answer over its photo", "is the photo itself"),
    ("answer under a file", "is a file, so"),
    ("missing trimap", "--trimap: no such file"),
    ("trimap folder for a photo", "--trimap: no such file"),
    ("missing trimap folder", "no such trimap folder"),
])
def test_paths_that_cannot_work_stop_alphanet_cutout_before_any_model_is_loaded(monkeypatch, tmp_path, capsys, case,
                                                                              message):
    monkeypatch.setattr(engine, "default_model", lambda: pytest.fail("the default model was loaded"))
    (tmp_path / "photos").mkdir()
    small_photo().save(tmp_path / "photos" / "a.png")
    (tmp_path / "taken.png").write_bytes(b"")
    arguments = {
        "folder into a file": [str(tmp_path / "photos"), "-o", str(tmp_path / "taken.png")],
        "answer over its photo": [str(tmp_path / "photos" / "a.png"), "-o", str(tmp_path / "photos")],
        "answer under a file": [str(DEMO), "-o", f"{tmp_path / 'taken.png'}/"],
        "missing trimap": [str(DEMO), "-o", str(tmp_path / "x.png"), "--trimap", str(tmp_path / "nope.png")],
        "trimap folder for a photo": [str(DEMO), "-o", str(tmp_path / "x.png"), "--trimap", str(tmp_path)],
        "missing trimap folder": [str(tmp_path / "photos"), "-o", str(tmp_path / "out"), "--trimap",
                                  str(tmp_path / "nope")],
    }[case]
    with pytest.raises(SystemExit) as exited:
        cli.main(["cutout", *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", [[str(Path(sys.executable).with_name("alphanet"))],
                                     [sys.executable, "-m", "alphanet"]])
def test_the_alphanet_command_lists_its_subcommands(command):
    listed = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    for subcommand in cli.SUBCOMMANDS:
        assert f"\n  {subcommand} " in listed.stdout


def test_the_command_and_the_client_load_no_torch():
    """`alphanet client` runs where torch is not installed, and `alphanet --help` answers at once."""
    check = "import sys, alphanet.cli, alphanet.client; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check], cwd=REPO).returncode == 0

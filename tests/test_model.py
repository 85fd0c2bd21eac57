"""The AlphaNet graph: ED layer, attention, sizes, fusion, scripting and the exported file (issue 2)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from alphanet.nets.attention import AttentionModule, attention_pool, attention_unpool
from alphanet.training.checkpoint import (DEFAULT_WEIGHTS, AlphaNetConfig, build_alphanet, load_alphanet,
                                         load_as_archive)
from alphanet.nets.segmenter import FusedSegmenter
from alphanet.nets.ed_layer import EDLayer
from alphanet.export import export_scripted, inference_model, script_alphanet
from alphanet.nets.bfloat16 import Bfloat16Segmentation
from alphanet.nets.conv_activation import ConvActivation
from alphanet.nets.guided_filter import refine_matte
from alphanet.nets.inference_form import SplitDecoderStage, StemHead, StemStage, inference_form
from alphanet.nets.layers import ConvBNReLU
from alphanet.nets.merged_attention import MergedAttention
from alphanet.nets.matting_net import OUTPUT_STRIDE, MattingNet
from alphanet.model import cap_long_side, fuse
from alphanet.nets.resize import resize_bilinear
from tests.cpu_support import lacks_bf16_convolutions, needs_bf16_convolutions
from tests.frozen_graph import graph_nodes

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = sorted((SHARED / "data" / "photos").glob("*.*g"))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_alphanet(AlphaNetConfig()).eval()


@pytest.fixture(scope="module")
def scripted_path(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("export") / "alphanet.pt"
    script_alphanet(model).save(str(path))
    return path


def load_rgb(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB")))


def random_blob_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A binary mask of a few random rectangles and noise, float32 {0, 1}."""
    mask = np.zeros((height, width), np.float32)
    for _ in range(rng.integers(1, 4)):
        top, left = rng.integers(0, height), rng.integers(0, width)
        mask[top:top + rng.integers(1, height), left:left + rng.integers(1, width)] = 1
    mask[rng.random((height, width)) < 0.02] = 1
    return mask


def randomised_group_norms(module: torch.nn.Module) -> torch.nn.Module:
    """`module` with every GroupNorm's affine parameters drawn away from 1 and 0, so that mixing up channels shows."""
    with torch.no_grad():
        for norm in module.modules():
            if isinstance(norm, torch.nn.GroupNorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
    return module


def opencv_trimap(mask: np.ndarray, erode_radius: int, dilate_radius: int) -> np.ndarray:
    square = lambda r: np.ones((2 * r + 1, 2 * r + 1), np.uint8)  # noqa: E731
    core = cv2.erode(mask, square(erode_radius))
    band = cv2.dilate(mask, square(dilate_radius))
    return np.where(core > 0, 1.0, np.where(band > 0, 0.5, 0.0)).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_ed_layer_matches_opencv_erode_dilate(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(5, 200, size=2)
    mask = random_blob_mask(rng, height, width)
    layer = EDLayer(erode_fraction=rng.uniform(0.01, 0.2), dilate_fraction=rng.uniform(0.01, 0.2))
    trimap = layer(torch.from_numpy(mask)[None, None])[0, 0].numpy()
    erode_radius, dilate_radius = layer.radii(torch.from_numpy(mask > 0))
    np.testing.assert_array_equal(trimap, opencv_trimap(mask, erode_radius, dilate_radius))


def test_ed_radii_scale_with_the_bounding_box():
    layer = EDLayer(erode_fraction=0.05, dilate_fraction=0.1)
    small = torch.zeros(400, 400, dtype=torch.bool)
    small[10:50, 20:80] = True  # box 40 x 60 -> mean 50
    large = torch.zeros(400, 400, dtype=torch.bool)
    large[100:180, 100:220] = True  # box 80 x 120 -> mean 100
    assert layer.radii(small) == (2, 5)
    assert layer.radii(large) == (5, 10)


def test_ed_layer_gives_each_image_its_own_box():
    probability = torch.zeros(2, 1, 300, 300)
    probability[0, 0, 10:30, 10:30] = 1.0
    probability[1, 0, 10:210, 10:210] = 1.0
    layer = EDLayer(erode_fraction=0.05, dilate_fraction=0.05)
    trimaps = layer(probability)
    band_widths = [(t[0, 20] == 0.5).sum().item() for t in trimaps]  # a row through both objects
    assert band_widths[1] > 5 * band_widths[0]


def test_empty_mask_gives_zero_trimap_and_alpha(model):
    assert EDLayer()(torch.zeros(1, 1, 30, 40)).abs().sum() == 0

    class NothingThere(torch.nn.Module):
        def forward(self, rgb):
            return torch.zeros_like(rgb[:, :1])

    empty = build_alphanet(AlphaNetConfig()).eval()
    empty.segmenter = NothingThere()
    alpha, trimap = empty(torch.full((20, 30, 3), 200, dtype=torch.uint8))
    assert alpha.shape == (20, 30) and alpha.abs().sum() == 0 and trimap.abs().sum() == 0


def pooled_by_definition(features, encoder_map):
    """Attention pooling as the paper writes it: the sum over each 2x2 window of features x map."""
    return 4 * torch.nn.functional.avg_pool2d(features * encoder_map, 2)


def test_encoder_attention_sums_to_one_per_window_and_decoder_is_in_unit_range():
    torch.manual_seed(1)
    module = AttentionModule(32)
    features = torch.randn(2, 32, 16, 24) * 3
    encoder_map, decoder_map = module(features)
    assert encoder_map.shape == decoder_map.shape == (2, 1, 16, 24)
    window_sums = torch.nn.functional.avg_pool2d(encoder_map, 2) * 4
    torch.testing.assert_close(window_sums, torch.ones_like(window_sums))
    assert decoder_map.min() >= 0 and decoder_map.max() <= 1
    assert decoder_map.std() > 0  # not a constant map
    pooled = attention_pool(features, encoder_map)
    assert pooled.shape == (2, 32, 8, 12)
    torch.testing.assert_close(pooled, pooled_by_definition(features, encoder_map))
    # a window whose four features are equal pools to that value, whatever the attention
    flat = torch.ones(1, 32, 16, 24)
    torch.testing.assert_close(attention_pool(flat, module(flat)[0]), torch.ones(1, 32, 8, 12))
    assert attention_unpool(pooled, decoder_map).shape == features.shape


def test_attention_pooling_passes_the_gradients_of_its_definition():
    torch.manual_seed(2)
    features, encoder_map = torch.randn(1, 8, 6, 10), torch.rand(1, 1, 6, 10)
    gradients = []
    for pool in (attention_pool, pooled_by_definition):
        inputs = [features.clone().requires_grad_(), encoder_map.clone().requires_grad_()]
        (pool(*inputs) * torch.arange(15.0).view(1, 1, 3, 5)).sum().backward()
        gradients.append([tensor.grad for tensor in inputs])
    for ours, reference in zip(*gradients):
        torch.testing.assert_close(ours, reference)


def trained_like_matting_net(seed: int) -> MattingNet:
    """A MattingNet in eval mode whose BatchNorm statistics are far from their initial 0 / 1 (so that their
    folding is really tested) and whose GroupNorms' affine parameters are drawn away from 1 and 0."""
    torch.manual_seed(seed)
    net = MattingNet().train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(2, 3, 64, 64) * 3, (torch.rand(2, 1, 64, 64) * 2).round() / 2)
    return randomised_group_norms(net).eval()


def test_inference_form_computes_the_same_alpha_strip_by_strip_without_concatenating_or_holding_the_stem():
    net = trained_like_matting_net(seed=0)
    # 352 rows: the full-resolution stages work in 6 strips, the half-resolution ones in 3: strip edges are crossed.
    rgb, trimap = torch.rand(2, 3, 352, 96), (torch.rand(2, 1, 352, 96) * 2).round() / 2
    split = inference_form(net)
    assert isinstance(split.encoder[0], StemStage) and isinstance(split.decoder[-1], StemHead)
    assert all(isinstance(stage.attention, MergedAttention) for stage in split.encoder[1:] if stage.attention)
    assert not any(isinstance(module, ConvBNReLU) for module in split.modules())
    assert any(isinstance(module, ConvActivation) for module in split.modules())
    assert all(isinstance(stage, SplitDecoderStage) for stage in split.decoder[:-1])
    assert not any(isinstance(stage, SplitDecoderStage) for stage in net.decoder)  # the original is left alone
    with torch.no_grad():
        expected = net(rgb, trimap)
        assert expected.std() > 0.01
        torch.testing.assert_close(split(rgb, trimap), expected, atol=1e-5, rtol=0)


def test_inference_form_computes_the_last_stage_only_around_the_band_and_exactly_there():
    net = trained_like_matting_net(seed=1)
    # A ring of unknown pixels: most strips' column blocks hold none of it, and the top strips none at all.
    rows, columns = np.mgrid[:288, :320]
    radius = np.hypot(rows - 170, columns - 150)
    levels = np.where(radius < 50, 1.0, 0.0)
    levels[(radius >= 50) & (radius < 58)] = 0.5
    trimap = torch.from_numpy(levels).float()[None, None].repeat(2, 1, 1, 1)
    rgb = torch.rand(2, 3, 288, 320)
    split = inference_form(net)
    band = trimap == 0.5
    far = F.max_pool2d(band.float(), kernel_size=129, stride=1, padding=64) == 0  # no band pixel within 64 px
    with torch.no_grad():
        expected = net(rgb, trimap)
        assert (expected - trimap)[far].abs().min() > 0.01  # the net's own alpha there is not the trimap
        for got in (split(rgb, trimap), torch.jit.script(split)(rgb, trimap)):
            torch.testing.assert_close(got[band], expected[band], atol=1e-5, rtol=0)
            torch.testing.assert_close(got[far], trimap[far], atol=1e-6, rtol=0)


@pytest.mark.parametrize("channels", [24, 32])
def test_merged_attention_gives_the_four_branches_maps_eager_and_scripted(channels):
    torch.manual_seed(channels)
    module = randomised_group_norms(AttentionModule(channels)).eval()
    merged = MergedAttention(module).eval()
    features = torch.randn(2, channels, 20, 34) * 2
    scripted = torch.jit.script(merged)
    with torch.no_grad():
        expected = module(features)
        assert expected[1].std() > 0.01
        for maps in (merged(features), scripted(features)):
            for got, want in zip(maps, expected):
                torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("stride,groups,relu6", [(1, 1, False), (2, 1, True), (1, 16, True)])
def test_conv_activation_computes_conv_batchnorm_and_its_activation(stride, groups, relu6):
    torch.manual_seed(stride + groups)
    block = ConvBNReLU(16, 32, 3, stride=stride, groups=groups, relu6=relu6).train()
    with torch.no_grad():
        block(torch.randn(4, 16, 12, 12) * 4 + 1)  # BatchNorm statistics away from 0 / 1
    block.eval()
    fused = ConvActivation(block)
    x = torch.randn(1, 16, 15, 22) * 4
    with torch.no_grad():
        expected = block(x)
        assert (expected == 6).any() == relu6  # the clip at 6 is exercised, and only with ReLU6
        torch.testing.assert_close(fused(x), expected, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(torch.jit.script(fused)(x), expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("height,width", [(1, 1), (7, 1500), (1501, 3), (3000, 4000)])
def test_output_has_input_size_and_nothing_inside_exceeds_the_cap(model, height, width):
    seen = []
    hooks = [module.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
             for module in (model.segmenter.net, model.matting_net)]
    try:
        image = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8)
        with torch.no_grad():
            alpha, trimap = model(image)
    finally:
        for hook in hooks:
            hook.remove()
    assert alpha.shape == trimap.shape == (height, width)
    assert alpha.dtype == trimap.dtype == torch.float32
    assert 0 <= alpha.min() and alpha.max() <= 1
    assert set(trimap.unique().tolist()) <= {0.0, 0.5, 1.0}
    cap = -(-model.max_side // OUTPUT_STRIDE) * OUTPUT_STRIDE  # the cap, padded to the network stride
    assert seen and all(max(shape[2:]) <= cap for shape in seen)


def test_fusion_keeps_the_trimap_outside_the_band_and_honours_a_user_trimap(model):
    image = load_rgb(SHARED / "data" / "lemur" / "lemur.png")
    user = np.array(Image.open(SHARED / "data" / "lemur" / "lemur_trimap.png").convert("L"))
    with torch.no_grad():
        alpha, trimap = model(image, torch.from_numpy(user))
    alpha, trimap = alpha.numpy(), trimap.numpy()
    np.testing.assert_array_equal(trimap, np.where(user == 0, 0.0, np.where(user == 255, 1.0, 0.5)))
    known = trimap != 0.5
    np.testing.assert_array_equal(alpha[known], trimap[known])  # bit for bit
    assert np.unique(alpha[~known]).size > 10  # the matting net decided the band

    with torch.no_grad():
        auto_alpha, auto_trimap = model(image)
    known = auto_trimap != 0.5
    assert torch.equal(auto_alpha[known], auto_trimap[known])


@pytest.fixture()
def unrefined(model, monkeypatch):
    """The model without its guided filter and its band tiles, for one test of the net's passes: the filter runs
    after the passes are averaged and the clamp after it is not linear, and the tiles of a photo and of its mirror
    image differ, so with either on the passes do not add up exactly."""
    monkeypatch.setattr(model, "guided_filter", False)  # monkeypatch puts the prior values back
    monkeypatch.setattr(model, "band_matting", False)
    return model


def test_mirror_averaging_averages_the_two_passes_and_mirrors_with_the_image(unrefined):
    model = unrefined
    image = load_rgb(SHARED / "data" / "lemur" / "lemur.png")
    trimap = torch.from_numpy(np.array(Image.open(SHARED / "data" / "lemur" / "lemur_trimap.png").convert("L")))
    mirror = lambda tensor: tensor.flip(1).contiguous()  # noqa: E731 - (H, W[, 3]): left-right
    with torch.no_grad():
        averaged, _ = model(image, trimap)
        mirrored_averaged, _ = model(mirror(image), mirror(trimap))
        model.mirror_average = False
        try:
            plain, _ = model(image, trimap)
            plain_of_mirror, _ = model(mirror(image), mirror(trimap))
        finally:
            model.mirror_average = True
    torch.testing.assert_close(averaged, (plain + mirror(plain_of_mirror)) / 2, atol=1e-5, rtol=0)
    torch.testing.assert_close(mirrored_averaged, mirror(averaged), atol=1e-5, rtol=0)
    assert (plain - mirror(plain_of_mirror)).abs().max() > 0.01  # one pass alone is not mirror-symmetric


@pytest.mark.parametrize("max_side", [None, 64], ids=["within_cap", "above_cap"])
def test_the_guided_filter_refines_the_fused_matte_in_the_band(model, monkeypatch, max_side):
    """The filter's place in the pipeline: on the matte fused with the capped trimap (so the fit sees the known
    pixels at 0 and 1), before the resize back to the input size, with the known pixels exact afterwards."""
    if max_side is not None:
        monkeypatch.setattr(model, "max_side", max_side)
    image = load_rgb(PHOTOS[0])[:96, :128].contiguous()
    trimap = torch.full(image.shape[:2], 128, dtype=torch.uint8)
    trimap[:, :20], trimap[:, -20:] = 0, 255
    with torch.no_grad():
        refined, levels = model(image, trimap)
        rgb = cap_long_side(image.permute(2, 0, 1)[None].float() / 255, model.max_side)
        capped_levels = F.interpolate(levels[None, None], size=rgb.shape[2:], mode="nearest")
        fused = fuse(model.matte_passes(rgb, capped_levels), capped_levels)  # mirror averaged: the model's choice
        expected = resize_bilinear(refine_matte(rgb, fused), list(image.shape[:2])).clamp(0, 1)[0, 0]
        unfiltered = resize_bilinear(fused, list(image.shape[:2]))[0, 0]
    band = levels == 0.5
    torch.testing.assert_close(refined[band], expected[band], atol=1e-5, rtol=0)
    assert torch.equal(refined[~band], levels[~band])
    assert (refined - unfiltered)[band].abs().max() > 1e-3


def test_the_default_weights_load_as_the_default_archive():
    default = load_alphanet()
    assert (default.mirror_average, default.guided_filter, default.band_matting) == (False, True, True)
    assert isinstance(default.segmenter, FusedSegmenter)
    # The same file named by its path: its own config, as any weights file's (band matting on where it is unset);
    # what the evaluations score, load_as_archive, gives it the archive's choices as `make mar WEIGHTS=` does.
    named = load_alphanet(DEFAULT_WEIGHTS)
    assert (named.mirror_average, named.band_matting) == (True, True)
    assert not isinstance(named.segmenter, FusedSegmenter)
    as_archive = load_as_archive(DEFAULT_WEIGHTS)
    assert not as_archive.mirror_average and isinstance(as_archive.segmenter, FusedSegmenter)
    assert load_as_archive(DEFAULT_WEIGHTS, mirror_average=True).mirror_average
    assert not load_alphanet(None, band_matting=False).band_matting


@pytest.mark.parametrize("choice", ["mirror_average", "guided_filter"])
def test_inference_choices_are_config_fields_kept_by_export(choice):
    # Closed-form refinement off: its solve magnifies the scripted graph's rounding (tests/test_closed_form.py
    # compares the two with its own tolerance).
    on = load_alphanet(None, closed_form="off", **{choice: True})
    off = load_alphanet(None, closed_form="off", **{choice: False})
    assert not getattr(off, choice)
    image = load_rgb(PHOTOS[0])[:128, :128].contiguous()
    trimap = torch.full(image.shape[:2], 128, dtype=torch.uint8)
    with torch.no_grad():
        eager_off, eager_on = off(image, trimap)[0], on(image, trimap)[0]
        scripted_off = script_alphanet(off)(image, trimap)[0]
    assert (eager_off - scripted_off).abs().max() <= 1e-4
    assert (eager_on - eager_off).abs().max() > 1e-3


def test_bad_inputs_raise_clear_errors(scripted_path):
    scripted = torch.jit.load(str(scripted_path))
    image = torch.zeros(8, 8, 3, dtype=torch.uint8)
    cases = [((image.float(),), "uint8"), ((image[..., :2],), "(H, W, 3)"),
             ((image, torch.zeros(4, 8, dtype=torch.uint8)), "trimap must have the image's size")]
    for args, message in cases:
        with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
            scripted(*args)


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.name)
def test_scripted_matches_eager_on_the_shared_photos(model, scripted_path, photo):
    scripted = torch.jit.load(str(scripted_path))
    image = load_rgb(photo)
    trimap = torch.full(image.shape[:2], 128, dtype=torch.uint8)
    trimap[: image.shape[0] // 4] = 0
    with torch.no_grad():
        eager_alpha, _ = model(image, trimap)
        scripted_alpha, _ = scripted(image, trimap)
        eager_auto, eager_trimap = model(image)
        scripted_auto, scripted_trimap = scripted(image)
    assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4
    assert (eager_auto - scripted_auto).abs().max() <= 1e-4
    assert torch.equal(eager_trimap, scripted_trimap)


def _fp32_and_bf16_exports_on_a_band(weights_model):
    """The fp32 and the bf16 export's alpha for the same photo and trimap, and the trimap's unknown band."""
    image = load_rgb(PHOTOS[0])[:256, :256].contiguous()
    trimap = torch.full(image.shape[:2], 128, dtype=torch.uint8)
    trimap[:64], trimap[-64:] = 0, 255
    with torch.no_grad():
        fp32, _ = script_alphanet(weights_model)(image, trimap)
        bf16, _ = script_alphanet(weights_model, "bf16")(image, trimap)
    return fp32, bf16, trimap == 128


@needs_bf16_convolutions
def test_bf16_export_stays_close_to_fp32():
    weights_model = load_alphanet(None)  # trained weights: random ones would make the comparison meaningless
    fp32, bf16, band = _fp32_and_bf16_exports_on_a_band(weights_model)
    difference = (fp32 - bf16).abs()[band]
    assert difference.max() > 0  # it really computed in bf16
    assert difference.mean() < 0.01 and difference.max() < 0.25


def test_unknown_precisions_are_refused():
    with pytest.raises(ValueError, match="precision"):
        script_alphanet(load_alphanet(None), "fp16")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_no_network_of_the_frozen_archive_sits_in_a_branch(precision):
    """Loading compiles the frozen graph, and each variable that an `if` assigns in one arm only holds a copy of
    the graph's whole source until then: networks inside branches took the bf16 archive's loading peak to 1582
    MiB against 748 MiB (alphanet/nets/loop_count.py). Every stage that runs a network, in every option the
    archive can hold, is a loop of one trip or none instead, and what branches remain are small."""
    model = load_alphanet(None, closed_form="on", mirror_average=True)
    branches = [node for node in graph_nodes(script_alphanet(model, precision).graph) if node.kind() == "prim::If"]
    inside = [[inner for block in branch.blocks() for inner in graph_nodes(block)] for branch in branches]
    in_branches = [node.kind() for nodes in inside for node in nodes if "conv" in node.kind()]
    assert in_branches == [], in_branches
    # The largest branch left holds 133 nodes (the ED layer's band for a non-empty mask); a network holds thousands.
    sizes = sorted(len(nodes) for nodes in inside)
    assert max(sizes, default=0) < 200, sizes[-5:]


@lacks_bf16_convolutions
def test_bf16_export_gives_the_fp32_exports_answers_where_the_cpu_has_no_bf16():
    """A bf16 archive built elsewhere and served on a CPU without bf16 convolutions runs its float32 copies:
    the fp32 archive's alpha to the bit, where the bf16 networks would have been refused or crashed."""
    model = load_alphanet(None)
    fp32, bf16, _ = _fp32_and_bf16_exports_on_a_band(model)
    assert torch.equal(fp32, bf16)
    rgb = load_rgb(PHOTOS[0]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        assert torch.equal(inference_model(model, "bf16").segmenter.objects(rgb), model.segmenter.objects(rgb))


@needs_bf16_convolutions
def test_bf16_runs_deeplab_in_bf16_and_its_mask_stays_close():
    """With precision bf16 the fused stage's DeepLab computes in bfloat16 too (the person segmenter stays float32):
    its probabilities move a little, its mask hardly."""
    model = load_alphanet(None)
    bf16 = inference_model(model, "bf16")
    assert isinstance(bf16.segmenter.objects.net, Bfloat16Segmentation)
    assert next(bf16.segmenter.person.parameters()).dtype == torch.float32
    assert next(model.segmenter.objects.parameters()).dtype == torch.float32  # the model itself is left as it was
    rgb = load_rgb(PHOTOS[0]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        fp32_probability = model.segmenter.objects(rgb)
        bf16_probability = bf16.segmenter.objects(rgb)
    difference = (fp32_probability - bf16_probability).abs()
    assert difference.max() > 0  # it really computed in bf16
    assert difference.mean() < 0.01
    assert ((fp32_probability > 0.5) != (bf16_probability > 0.5)).float().mean() < 0.01



@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
def test_export_names_an_unreadable_weights_file_without_a_traceback(tmp_path, content):
    weights = tmp_path / "my.pt"
    weights.write_bytes(content)
    export = subprocess.run([sys.executable, "-m", "alphanet.export", "--weights", str(weights),
                             "--out", str(tmp_path / "out.pt")], capture_output=True, text=True)
    assert export.returncode == 1
    assert f"{weights} is not an AlphaNet weights file" in export.stderr and "Traceback" not in export.stderr
    assert not (tmp_path / "out.pt").exists()

def test_exported_file_runs_in_a_fresh_process_with_only_torch(tmp_path):
    path = export_scripted(tmp_path / "alphanet.pt")
    probe = (
        "import sys\n"
        "sys.modules['alphanet'] = sys.modules['handlers'] = None  # any import of project code now fails\n"
        "import torch\n"
        f"m = torch.jit.load({str(path)!r})\n"
        "alpha, trimap = m(torch.full((37, 53, 3), 120, dtype=torch.uint8))\n"
        "assert alpha.shape == (37, 53) and trimap.shape == (37, 53)\n"
        "alpha, _ = m(torch.zeros(37, 53, 3, dtype=torch.uint8), torch.full((37, 53), 255, dtype=torch.uint8))\n"
        "assert bool((alpha == 1).all())\n"
        "print('ok')\n"
    )
    # -I: isolated mode, neither the working directory nor PYTHONPATH is on sys.path
    result = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

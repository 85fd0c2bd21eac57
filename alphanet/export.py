"""Export AlphaNet as one TorchScript file: `python -m alphanet.export [--weights FILE] --out model_store/alphanet.pt`.

The file holds the whole pipeline (pre-processing, segmentation, ED layer, matting, fusion, resizing back), so it
runs in TorchServe, Triton's PyTorch backend or plain libtorch with nothing around it. It is frozen: parameters
become constants and BatchNorm is folded into the convolutions, which is exact up to float rounding.
"""
import argparse
import copy
import time
from pathlib import Path
from typing import Optional, Union

import torch

from alphanet.training.checkpoint import SEGMENTERS, given_overrides, load_alphanet
from alphanet.nets.bfloat16 import bfloat16_segmenter
from alphanet.nets.inference_form import PRECISIONS, inference_form
from alphanet.model import CLOSED_FORM_MODES, AlphaNet
from alphanet.quiet_jit import quiet_jit


def inference_model(model: AlphaNet, precision: str = "fp32") -> AlphaNet:
    """A copy of an AlphaNet in eval mode as the archive runs it: the matting net in its inference form (decoder
    stages that never concatenate, alphanet/nets/inference_form.py) and, with `precision="bf16"`, the matting net
    and DeepLab computing in bfloat16 (alphanet/nets/bfloat16.py)."""
    model = copy.deepcopy(model).eval()
    model.matting_net = inference_form(model.matting_net, precision)
    if precision == "bf16":
        bfloat16_segmenter(model.segmenter)
    return model


def script_alphanet(model: AlphaNet, precision: str = "fp32") -> torch.jit.ScriptModule:
    """Script and freeze `inference_model(model, precision)` with every weight channels-last (frozen into
    constants that way, they match the activations' layout, so no convolution reorders its weights at run time)."""
    model = inference_model(model, precision)
    with quiet_jit():
        scripted = torch.jit.script(model.to(memory_format=torch.channels_last))
        return torch.jit.freeze(scripted)


def export_scripted(out_path: Union[str, Path], weights: Optional[Union[str, Path]] = None,
                    precision: str = "fp32", **config_overrides) -> Path:
    """Write the scripted, frozen AlphaNet for `weights` (default: the project's) to `out_path`."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    scripted = script_alphanet(load_alphanet(weights, **config_overrides), precision)
    scripted.save(str(out_path))
    return out_path


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(prog="alphanet export", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="AlphaNet weights file (default: the project's default weights)")
    parser.add_argument("--out", default="model_store/alphanet.pt", help="where to write the TorchScript file")
    parser.add_argument("--segmenter", choices=SEGMENTERS,
                        help="segmentation stage: the paper's DeepLabV3+ (trainable), the converted MediaPipe "
                             "person segmenter (frozen), or both fused (products and people; "
                             "alphanet/nets/segmenter.py); default: the weights file's")
    parser.add_argument("--erode-fraction", type=float, help="override the ED layer's erosion fraction")
    parser.add_argument("--dilate-fraction", type=float, help="override the ED layer's dilation fraction")
    parser.add_argument("--max-side", type=int, help="override the long-side cap in pixels")
    parser.add_argument("--mirror-average", action=argparse.BooleanOptionalAction,
                        help="matte the image and its mirror image and average them: twice the matting net's time "
                             "for at most +0.004 matte IoU on the real validation (MODEL_CARD.md); default: the "
                             "weights file's (`make mar` passes MIRROR, off)")
    parser.add_argument("--guided-filter", action=argparse.BooleanOptionalAction,
                        help="refine the matte with the photo as guide (alphanet/nets/guided_filter.py): smoother, "
                             "truer edges for a little time (MODEL_CARD.md, BENCHMARKS.md); default: the weights "
                             "file's (on)")
    parser.add_argument("--second-look", action=argparse.BooleanOptionalAction,
                        help="segment a crop around the first mask again and blend the two there "
                             "(alphanet/nets/second_look.py): better masks on the real validation for one more "
                             "segmenter call where the object leaves room around it (MODEL_CARD.md); default: "
                             "the weights file's (off), on with the project's weights")
    parser.add_argument("--subject-only", action=argparse.BooleanOptionalAction,
                        help="drop the mask's regions that run off the frame and are less sure than a whole region "
                             "inside it, the scene's own subjects (alphanet/nets/subject_only.py): better masks in "
                             "the real scenes (MODEL_CARD.md); default: the weights file's (off), on with the "
                             "project's weights")
    parser.add_argument("--person-pose", action=argparse.BooleanOptionalAction,
                        help="BlazePose's person mask where it finds a whole person and is sure of its landmarks "
                             "(alphanet/nets/pose_person.py): better masks of real people (MODEL_CARD.md); default: "
                             "the weights file's (off), on with the project's weights")
    parser.add_argument("--band-matting", action=argparse.BooleanOptionalAction,
                        help="run the matting net on a box or tiles around the unknown band only "
                             "(alphanet/nets/band_tiles.py), the full pass where they would cover most of the photo; "
                             "default: the weights file's (on)")
    parser.add_argument("--closed-form", choices=CLOSED_FORM_MODES,
                        help="when to refine the matte by closed-form matting with it as a prior "
                             "(alphanet/nets/closed_form.py): off, trimap (for calls that give a trimap: better real "
                             "edges, MODEL_CARD.md) or on (also in automatic mode, about 2.2x the call's time, "
                             "docs/deployment.md); default: trimap with the project's weights, a weights file's own")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="the matting net's and DeepLab's arithmetic: fp32 (exact, any CPU) or bf16 (1.5x faster "
                             "calls on CPUs with AVX512-BF16 or AMX, 2.4x slower on other AVX-512 CPUs, fp32 on "
                             "CPUs without AVX-512; docs/deployment.md)")
    args = parser.parse_args(argv)
    overrides = given_overrides(segmenter=args.segmenter, erode_fraction=args.erode_fraction,
                                dilate_fraction=args.dilate_fraction, max_side=args.max_side,
                                mirror_average=args.mirror_average, guided_filter=args.guided_filter,
                                band_matting=args.band_matting, closed_form=args.closed_form,
                                second_look=args.second_look, subject_only=args.subject_only,
                                person_pose=args.person_pose)
    start = time.perf_counter()
    try:
        path = export_scripted(args.out, args.weights, args.precision, **overrides)
    except (OSError, ValueError) as error:  # a missing or unreadable weights file: its name, not a traceback
        raise SystemExit(f"alphanet.export: {error}") from None
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

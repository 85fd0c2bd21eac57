"""Building AlphaNet from a configuration, and its compact weights file.

A weights file is a `torch.save`d dict: {"format", "config" (AlphaNetConfig as a dict), "state_dict" (fp16)}.
fp16 halves the file; the model computes in fp32 after loading. `load_alphanet()` with no path loads the project's
default weights (`alphanet/weights/alphanet_default.pt`) or, while none has been trained, a seeded random model
and says so loudly.
"""
import dataclasses
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import torch

from alphanet.nets.deeplab import DeepLabV3Plus
from alphanet.nets.ed_layer import EDLayer
from alphanet.nets.convert_tflite import load_tflite_net
from alphanet.nets.matting_net import MattingNet
from alphanet.nets.pose_person import PosePerson
from alphanet.model import DEFAULT_MAX_SIDE, AlphaNet
from alphanet.nets.segmenter import DeepLabSegmenter, FusedSegmenter, SelfieSegmenter

WEIGHTS_FORMAT = "alphanet-weights/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "alphanet_default.pt"
RANDOM_INIT_SEED = 0
SEGMENTERS = ("deeplab", "selfie", "fused")
# Where each segmenter keeps DeepLab's weights, the only trained ones (the selfie networks come converted): a
# weights file trained with one loads into another (a DeepLab file into the fused stage).
DEEPLAB_PREFIX = {"deeplab": "segmenter.", "fused": "segmenter.objects.", "selfie": None}
SELFIE_WEIGHTS = (DEFAULT_WEIGHTS.parent / "selfie_segmentation.pt",
                  DEFAULT_WEIGHTS.parent / "selfie_segmentation_landscape.pt")
POSE_WEIGHTS = (DEFAULT_WEIGHTS.parent / "pose_detection.pt", DEFAULT_WEIGHTS.parent / "pose_landmark_full.pt")
# The ED layer's (erosion, dilation) fractions of the mask's box size, per segmenter, where a config leaves them
# unset. DeepLab: see EDLayer. Selfie: its network sees 256 px, so at the 1500 px cap one of its pixels spans
# about 6 output pixels and its edge is that much less certain; its masks also stop short of loose hair: a wider
# band, more of it outside the mask.
# Fused: chosen on the real validation (bench.matting_options, MODEL_CARD.md): 0.03/0.04 keeps the matte's IoU of
# 0.04/0.05 over all four sets, makes fewer photos worse than their mask (9 of 114 against 13), and its narrower band
# leaves band-only matting fewer tiles.
ED_FRACTIONS = {"deeplab": (0.03, 0.03), "selfie": (0.04, 0.05), "fused": (0.03, 0.04)}
# The default archive's choices where they differ from the default weights file's config (which names the stage
# they were trained with, and the options of their day): both segmenters fused, and one matting pass, since
# mirror averaging gained at most 0.004 matte IoU on any real validation set (with the guided filter on) for twice
# the matting time. `load_alphanet()` applies them to the default weights, so the library, `alphanet export` and the
# evaluations get the default archive; the Makefile's SEG and MIRROR say the same. Closed-form refinement where the
# caller gives the trimap (alphanet/model.py, CLOSED_FORM_MODES; the Makefile's CLOSED_FORM). The segmenter's second
# look at the object (alphanet/nets/second_look.py; the Makefile's SECOND_LOOK): better masks and mattes on the real
# validation sets (MODEL_CARD.md). The subject only (alphanet/nets/subject_only.py; the Makefile's SUBJECT_ONLY):
# regions of the scene that the segmenters take in beside the subject dropped, better in the real scenes. The
# person's pose (alphanet/nets/pose_person.py; the Makefile's POSE): BlazePose's mask where it is sure of a whole
# person, much better on the real photographs of people (MODEL_CARD.md).
DEFAULT_ARCHIVE = {"segmenter": "fused", "mirror_average": False, "closed_form": "trimap", "second_look": True,
                   "subject_only": True, "person_pose": True}


@dataclass
class AlphaNetConfig:
    segmenter: str = "deeplab"
    seg_input_size: int = 384
    erode_fraction: Optional[float] = None  # None: ED_FRACTIONS of the segmenter
    dilate_fraction: Optional[float] = None
    max_side: int = DEFAULT_MAX_SIDE
    mirror_average: bool = True  # files written before this field existed get it too
    guided_filter: bool = True  # as mirror_average
    band_matting: bool = True  # as mirror_average
    closed_form: str = "off"  # as mirror_average; one of CLOSED_FORM_MODES
    second_look: bool = False  # files written before this field existed: off, as they were scored
    subject_only: bool = False  # as second_look
    person_pose: bool = False  # as second_look

    def __post_init__(self):
        if isinstance(self.closed_form, bool):  # files written when it was on or off
            self.closed_form = "on" if self.closed_form else "off"


def build_alphanet(config: AlphaNetConfig) -> AlphaNet:
    """AlphaNet for `config`: the matting net (and a DeepLab segmenter) freshly initialised (He init); a selfie
    segmenter and BlazePose come with their converted weights."""
    if config.segmenter not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {config.segmenter!r}; expected one of {SEGMENTERS}")
    segmenter: torch.nn.Module
    if config.segmenter == "deeplab":
        segmenter = DeepLabSegmenter(DeepLabV3Plus(), config.seg_input_size)
    elif config.segmenter == "selfie":
        segmenter = _selfie_segmenter()
    else:
        segmenter = FusedSegmenter(_selfie_segmenter(), DeepLabSegmenter(DeepLabV3Plus(), config.seg_input_size))
    erode_default, dilate_default = ED_FRACTIONS[config.segmenter]
    ed_layer = EDLayer(erode_default if config.erode_fraction is None else config.erode_fraction,
                       dilate_default if config.dilate_fraction is None else config.dilate_fraction)
    person_pose = PosePerson(*map(load_tflite_net, POSE_WEIGHTS)) if config.person_pose else None
    return AlphaNet(segmenter, MattingNet(), ed_layer, config.max_side, config.mirror_average,
                   config.guided_filter, config.band_matting, config.closed_form, config.second_look,
                   config.subject_only, person_pose)


def _selfie_segmenter() -> SelfieSegmenter:
    return SelfieSegmenter(*(load_tflite_net(path) for path in SELFIE_WEIGHTS))


def save_weights(model: AlphaNet, config: AlphaNetConfig, path: Union[str, Path]) -> None:
    """Write `model`'s parameters and buffers in fp16 with its config."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu().contiguous() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": WEIGHTS_FORMAT, "config": dataclasses.asdict(config), "state_dict": state}, path)


def read_weights(path: Union[str, Path]) -> dict:
    """The checked contents of a weights file."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:  # not a torch file, or a truncated one
        raise ValueError(f"{path} is not an AlphaNet weights file ({type(error).__name__} from torch.load)") from None
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not an AlphaNet weights file (format {WEIGHTS_FORMAT})")
    return blob


def given_overrides(**options) -> dict:
    """The config overrides a command line gave: its options that are not None (an option left out keeps the
    weights file's value), as keyword arguments for `load_alphanet`."""
    return {name: value for name, value in options.items() if value is not None}


def load_alphanet(path: Optional[Union[str, Path]] = None, **overrides) -> AlphaNet:
    """AlphaNet in eval mode from a weights file, config fields overridable (e.g. `erode_fraction=0.05`). No path:
    the default archive's model (the project's weights with DEFAULT_ARCHIVE's choices); a missing default gives a
    seeded random model with a warning."""
    if path is None:
        overrides = {**DEFAULT_ARCHIVE, **overrides}
    if path is None and not DEFAULT_WEIGHTS.exists():
        warnings.warn(f"NO TRAINED WEIGHTS at {DEFAULT_WEIGHTS}: using a seeded random AlphaNet "
                      f"(seed {RANDOM_INIT_SEED}); its mattes are meaningless", stacklevel=2)
        torch.manual_seed(RANDOM_INIT_SEED)
        model = build_alphanet(dataclasses.replace(AlphaNetConfig(), **overrides))
        return model.to(memory_format=torch.channels_last).eval()
    blob = read_weights(path if path is not None else DEFAULT_WEIGHTS)
    config = dataclasses.replace(AlphaNetConfig(**blob["config"]), **overrides)
    model = build_alphanet(config)
    state = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    if config.segmenter != blob["config"]["segmenter"]:
        state = _moved_segmenter(state, blob["config"]["segmenter"], config.segmenter, model.state_dict())
    # BlazePose comes converted, never trained: the model keeps the converted weights it was built with, whether
    # the file holds a copy (written with the pose on) or not.
    state = {k: v for k, v in state.items() if not k.startswith("person_pose.")}
    converted_pose = {k: v for k, v in model.state_dict().items() if k.startswith("person_pose.")}
    model.load_state_dict({**state, **converted_pose})
    return model.to(memory_format=torch.channels_last).eval()  # the layout forward() computes in


def load_as_archive(path: Optional[Union[str, Path]] = None, **overrides) -> AlphaNet:
    """A weights file (default: the project's) with the default archive's choices, as `make mar WEIGHTS=FILE`
    builds it, then `overrides`: what the evaluations score, so that a training run's file (whose config keeps
    its run's choices, mirror averaging on) is compared with the default as the archive would run it."""
    return load_alphanet(path, **{**DEFAULT_ARCHIVE, **overrides})


def _moved_segmenter(state: dict, saved: str, wanted: str, fresh: dict) -> dict:
    """A file's state for another segmenter than the one it was saved with: its matting net, its DeepLab weights
    where both segmenters hold DeepLab, and the wanted segmenter's own (converted) weights for the rest."""
    matting = {k: v for k, v in state.items() if not k.startswith("segmenter.")}
    segmenter = {k: v for k, v in fresh.items() if k.startswith("segmenter.")}
    saved_prefix, wanted_prefix = DEEPLAB_PREFIX[saved], DEEPLAB_PREFIX[wanted]
    if saved_prefix and wanted_prefix:
        deeplab = {k[len(saved_prefix):]: v for k, v in state.items() if k.startswith(saved_prefix + "net.")}
        segmenter.update({wanted_prefix + k: v for k, v in deeplab.items()})
    return {**matting, **segmenter}


def combine_weights(seg_path: Union[str, Path], matting_path: Union[str, Path], out: Union[str, Path]) -> None:
    """One weights file from the segmenter of one and the matting net of another (e.g. the seg and matting
    pre-training runs, before end-to-end fine-tuning or as a default model without it)."""
    seg, matting = read_weights(seg_path), read_weights(matting_path)
    state = {k: v for k, v in seg["state_dict"].items() if k.startswith("segmenter.")}
    state.update({k: v for k, v in matting["state_dict"].items() if not k.startswith("segmenter.")})
    config = dict(matting["config"], segmenter=seg["config"]["segmenter"],
                  seg_input_size=seg["config"]["seg_input_size"])
    model = build_alphanet(AlphaNetConfig(**config))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    save_weights(model, AlphaNetConfig(**config), out)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Combine the segmenter and matting net of two weights files.")
    parser.add_argument("--seg", required=True, help="weights file whose segmenter to take")
    parser.add_argument("--matting", required=True, help="weights file whose matting net (and ED settings) to take")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    combine_weights(args.seg, args.matting, args.out)
    print(f"wrote {args.out}")

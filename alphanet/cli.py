"""The `alphanet` command: one console script, a subcommand for each of the project's tools.

    alphanet cutout photo.jpg -o photo.png          # no server: the model runs in this process
    alphanet cutout photos/ -o cutouts/ --output composite --bg '#f4f4f4'
    alphanet client photos/ --out cutouts/ --url http://10.0.0.5:8080
    alphanet export --out model_store/alphanet.pt

Each subcommand is its module's command line (`alphanet export ...` is `python -m alphanet.export ...`), imported
only when it runs: `alphanet client` loads no torch, and `alphanet --help` answers at once.
"""
import argparse
import importlib
import sys
from typing import Optional

# Subcommand -> (the module whose main(argv) runs it, what it does).
SUBCOMMANDS = {
    "cutout": ("alphanet.engine", "cut out a photo, or a folder of photos, in this process: no server"),
    "client": ("alphanet.client", "send photos to AlphaNet servers and write their answers into a folder"),
    "export": ("alphanet.export", "export the model as one TorchScript file, as served"),
    "train": ("alphanet.training.train", "train the segmentation stage, the matting net, or both end to end"),
    "evaluate": ("alphanet.evaluation.evaluate",
                 "score the model against closed-form and KNN matting (Tables I and II)"),
    "segmentation-iou": ("alphanet.evaluation.segmentation_iou",
                         "score the segmentation stage against ground-truth mattes"),
}


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<18}{summary}" for name, (_, summary) in SUBCOMMANDS.items())
    epilog = f"subcommands:\n{listing}\n\n`alphanet SUBCOMMAND --help` lists its options."
    parser = argparse.ArgumentParser(prog="alphanet", description=__doc__.split("\n\n")[0], epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("subcommand", choices=SUBCOMMANDS, metavar="SUBCOMMAND", help="one of those below")
    # Everything after the subcommand is its own: REMAINDER takes options too (--help, -o) without reading them.
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help="the subcommand's arguments")
    return parser


def main(argv: Optional[list] = None) -> Optional[int]:
    """The subcommand's exit status (None, from a module whose main returns nothing, is 0)."""
    args = build_parser().parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.subcommand][0])
    return module.main(args.arguments)


if __name__ == "__main__":
    sys.exit(main())

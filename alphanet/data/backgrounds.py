"""Collect training backgrounds: `python -m alphanet.data.backgrounds --out DIR [--sources DIR ...]`.

Walks the source folders (default: the wallpapers of Debian's mate-backgrounds, plasma-workspace-wallpapers,
ukui-wallpapers, gnome-backgrounds and lomiri-wallpapers-20.04 packages, plus ../shared photos), keeps one image per
wallpaper (its largest resolution), shrinks each to a long side of at most `--long-side` px and writes JPEGs plus
SOURCES.tsv (output name, source path, owning Debian package) so the model card can list what was used and under
which licence; every 8th goes to a sibling `<OUT>_val` folder for validation. Backgrounds are training data only:
they are never committed or shipped.
"""
import argparse
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

from PIL import Image
from tqdm import tqdm

from alphanet.shared_data import SHARED_PHOTOS

DEBIAN_WALLPAPER_DIRS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def largest_per_wallpaper(files: List[Path]) -> List[Path]:
    """Plasma ships each wallpaper at many resolutions under NAME/contents/images/: keep the largest file of each
    such folder; every other file stands for itself."""
    chosen: Dict[Path, Path] = {}
    for path in files:
        key = path.parent if path.parent.name == "images" else path
        if key not in chosen or path.stat().st_size > chosen[key].stat().st_size:
            chosen[key] = path
    return sorted(chosen.values())


def debian_package(path: Path) -> str:
    result = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    return result.stdout.split(":")[0] if result.returncode == 0 else "-"


def hold_out(out: Path, every: int) -> int:
    """Move every `every`-th written background (1-based, by name) to `out/../<out name>_val`: backgrounds the
    validation composites use and training never sees. Returns how many moved."""
    held_out = out.parent / f"{out.name}_val"
    held_out.mkdir(exist_ok=True)
    names = sorted(p.name for p in out.glob("*.jpg"))
    moved = names[every - 1::every]
    for name in moved:
        (out / name).replace(held_out / name)
    return len(moved)


def collect(sources: List[Path], out: Path, long_side: int) -> int:
    files = [p for s in sources if s.exists() for p in s.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, path in enumerate(tqdm(largest_per_wallpaper(files), desc="backgrounds")):
        try:
            image = Image.open(path).convert("RGB")
        except OSError as error:
            print(f"skipping {path}: {error}")
            continue
        if min(image.size) < 256:
            continue  # icons and thumbnails
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        name = f"bg{index:04d}.jpg"
        image.save(out / name, quality=92)
        rows.append(f"{name}\t{path}\t{debian_package(path)}")
    (out / "SOURCES.tsv").write_text("name\tsource\tpackage\n" + "\n".join(rows) + "\n")
    return len(rows)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", type=Path, nargs="*",
                        default=[Path(d) for d in DEBIAN_WALLPAPER_DIRS] + [SHARED_PHOTOS])
    parser.add_argument("--long-side", type=int, default=1280)
    parser.add_argument("--hold-out-every", type=int, default=8,
                        help="move every N-th background to OUT_val for validation (0: none)")
    args = parser.parse_args(argv)
    count = collect(args.sources, args.out, args.long_side)
    held_out = hold_out(args.out, args.hold_out_every) if args.hold_out_every else 0
    print(f"wrote {count} backgrounds, {held_out} of them held out in {args.out}_val")


if __name__ == "__main__":
    main()

"""Hair and fur: many thin curved strands with partial alpha.

Strands are grown as polylines (a heading that turns a little at every step, optionally pulled
down by gravity), rooted on the boundary of a mask and pointing outwards, then drawn on a
supersampled `MaskCanvas`: a strand thinner than a pixel gives the pixel a fractional alpha, the
way real hair does.
"""
import cv2
import numpy as np

from alphanet.data.shapes import MaskCanvas

_DOWN = np.pi / 2  # image y grows downwards


def boundary_roots(mask: np.ndarray, rng: np.random.Generator, per_pixel: float,
                   inset: tuple[float, float] = (0.0, 3.0)) -> tuple[np.ndarray, np.ndarray]:
    """About `per_pixel` random points per boundary pixel of `(H, W)` mask (alpha > 0.5), moved
    `inset` pixels inwards.

    Returns `(N, 2)` roots `(x, y)` and `(N,)` outward directions in radians (N = 0 if the mask
    is empty or full).
    """
    contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    boundary = np.concatenate([contour[:, 0, :] for contour in contours]) if contours else np.zeros((0, 2), int)
    # Where the object is cut by the image border there is no edge to grow hair from.
    height, width = mask.shape
    boundary = boundary[(boundary[:, 0] > 0) & (boundary[:, 0] < width - 1)
                        & (boundary[:, 1] > 0) & (boundary[:, 1] < height - 1)]
    count = int(per_pixel * len(boundary))
    if count == 0:
        return np.zeros((0, 2)), np.zeros(0)
    points = boundary[rng.integers(len(boundary), size=count)].astype(np.float64)
    # The outward normal is minus the gradient of the smoothed mask.
    smooth = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2.0)
    gradient_x = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gradient_y = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    columns, rows = points[:, 0].astype(int), points[:, 1].astype(int)
    directions = np.arctan2(-gradient_y[rows, columns], -gradient_x[rows, columns])
    depth = rng.uniform(*inset, size=count)
    roots = points - depth[:, None] * np.stack([np.cos(directions), np.sin(directions)], axis=1)
    return roots, directions


def grow_strands(rng: np.random.Generator, roots: np.ndarray, directions: np.ndarray, lengths: np.ndarray,
                 curl: float, spread: float = 0.5, gravity: float = 0.0, segments: int = 10) -> np.ndarray:
    """`(N, 2)` roots, `(N,)` directions (radians) and lengths (pixels) -> `(N, segments + 1, 2)` paths.

    Each strand starts within `spread` radians of its direction, bends by a constant random
    curvature of up to `curl` radians per segment plus a small wiggle, and with `gravity` > 0 its
    heading is pulled towards straight down.
    """
    count = len(roots)
    heading = directions + rng.uniform(-spread, spread, count)
    curvature = rng.uniform(-curl, curl, count)
    step = (lengths / segments)[:, None]
    paths = [np.asarray(roots, np.float64)]
    for _ in range(segments):
        heading = heading + curvature + rng.normal(0, 0.08, count)
        heading = heading + gravity * np.angle(np.exp(1j * (_DOWN - heading)))  # turn towards down
        offset = step * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        paths.append(paths[-1] + offset)
    return np.stack(paths, axis=1)


def draw_strands(canvas: MaskCanvas, paths: np.ndarray, rng: np.random.Generator,
                 thickness: tuple[float, float] = (0.3, 1.2), opacity: tuple[float, float] = (0.6, 1.0),
                 groups: int = 4) -> None:
    """Draw `(N, P, 2)` paths on the canvas, split into `groups` of random thickness and opacity.

    Strands taper: the half next to the root is drawn again, thicker.
    """
    if len(paths) == 0:
        return
    root_half = paths.shape[1] // 2 + 1
    for group in np.array_split(rng.permutation(len(paths)), groups):
        if len(group) == 0:
            continue
        width, value = rng.uniform(*thickness), rng.uniform(*opacity)
        canvas.lines(paths[group], width * 0.6, value)
        canvas.lines(paths[group, :root_half], width, value)

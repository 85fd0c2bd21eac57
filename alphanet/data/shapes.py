"""Anti-aliased coverage masks and the outlines the synthetic objects are built from.

`MaskCanvas` draws with OpenCV on a supersampled 8-bit canvas (LINE_AA, sub-pixel coordinates)
and averages it down, so every edge pixel gets the fraction of it that the shape covers: the
partial alpha a real photo has along a sharp edge. Coordinates are in output pixels, `(x, y)`.
"""
import cv2
import numpy as np

_SHIFT = 3  # fractional bits of the coordinates handed to OpenCV (1/8 canvas pixel)
# OpenCV's anti-aliased lines come out wider than asked: thickness 1 covers about 1.35 canvas
# pixels, an even thickness t about t + 1.43 (odd ones are rounded up to even).
_THINNEST_LINE = 1.35
_LINE_WIDENING = 1.43


class MaskCanvas:
    """A `(height, width)` coverage mask drawn `supersample` times larger."""

    def __init__(self, height: int, width: int, supersample: int = 2):
        self.height, self.width, self.supersample = height, width, supersample
        self.pixels = np.zeros((height * supersample, width * supersample), np.uint8)

    def polygon(self, points: np.ndarray, value: float = 1.0) -> None:
        """Fill the polygon of `(N, 2)` points with `value` (0 erases: holes)."""
        cv2.fillPoly(self.pixels, [self._fixed_point(points)], _level(value), cv2.LINE_AA, _SHIFT)

    def ellipse(self, centre: tuple[float, float], axes: tuple[float, float], angle: float = 0.0,
                value: float = 1.0, thickness: float | None = None) -> None:
        """Fill an ellipse (semi-axes `axes`, rotated `angle` degrees), or draw its outline `thickness` wide."""
        line_width, fade = (-1, 1.0) if thickness is None else self._line_width(thickness)
        centre_fixed = self._fixed_point(np.array(centre))
        axes_fixed = np.round(np.asarray(axes, np.float64) * self.supersample * (1 << _SHIFT)).astype(int)
        cv2.ellipse(self.pixels, (int(centre_fixed[0]), int(centre_fixed[1])),
                    (int(max(axes_fixed[0], 1)), int(max(axes_fixed[1], 1))), angle, 0, 360,
                    _level(value * fade), line_width, cv2.LINE_AA, _SHIFT)

    def lines(self, paths: np.ndarray, thickness: float, value: float = 1.0, closed: bool = False) -> None:
        """Draw `(N, P, 2)` paths as polylines `thickness` output pixels wide, with round ends."""
        line_width, fade = self._line_width(thickness)
        cv2.polylines(self.pixels, list(self._fixed_point(paths)), closed, _level(value * fade),
                      line_width, cv2.LINE_AA, _SHIFT)

    def alpha(self) -> np.ndarray:
        """The coverage as `(height, width)` float32 in [0, 1]."""
        small = cv2.resize(self.pixels, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0

    def _fixed_point(self, points: np.ndarray) -> np.ndarray:
        """Output-pixel coordinates -> OpenCV's fixed point on the canvas (pixel centres align)."""
        scaled = (np.asarray(points, np.float64) + 0.5) * self.supersample - 0.5
        return np.round(scaled * (1 << _SHIFT)).astype(np.int32)

    def _line_width(self, thickness: float) -> tuple[int, float]:
        """OpenCV thickness drawing closest to `thickness` output pixels, and a factor for the value:
        lines thinner than the thinnest OpenCV line are drawn fainter, which covers the same amount."""
        canvas_width = thickness * self.supersample
        if canvas_width < _THINNEST_LINE:
            return 1, canvas_width / _THINNEST_LINE
        if canvas_width < 2 + _LINE_WIDENING:
            return 2, canvas_width / (2 + _LINE_WIDENING)
        return 2 * int(round((canvas_width - _LINE_WIDENING) / 2)), 1.0


def _level(value: float) -> int:
    return int(round(255 * float(np.clip(value, 0.0, 1.0))))


def blob(rng: np.random.Generator, centre: np.ndarray, radius: float, roughness: float = 0.25,
         points: int = 96) -> np.ndarray:
    """A random smooth closed outline: `(points, 2)`, a circle of `radius` with random harmonics."""
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    harmonics = np.arange(2, 7)
    amplitudes = roughness * rng.uniform(0, 1, len(harmonics)) / harmonics
    phases = rng.uniform(0, 2 * np.pi, len(harmonics))
    radii = radius * (1 + np.sin(np.outer(angles, harmonics) + phases) @ amplitudes)
    stretch = rng.uniform(0.6, 1.0)  # elongated as often as round
    outline = np.stack([np.cos(angles) * radii, np.sin(angles) * radii * stretch], axis=1)
    return rotate(outline, rng.uniform(0, 360)) + centre


def random_polygon(rng: np.random.Generator, centre: np.ndarray, radius: float) -> np.ndarray:
    """`(N, 2)` a star-shaped polygon of 3 to 9 corners around `centre`."""
    corners = rng.integers(3, 10)
    angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
    radii = radius * rng.uniform(0.5, 1.0, corners)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1) + centre


def rounded(points: np.ndarray, iterations: int = 2, closed: bool = True) -> np.ndarray:
    """`(N, 2)` polygon -> its corners cut (Chaikin), so outlines look sewn or moulded, not drawn."""
    for _ in range(iterations):
        following = np.roll(points, -1, axis=0) if closed else points[1:]
        current = points if closed else points[:-1]
        cut = np.stack([0.75 * current + 0.25 * following, 0.25 * current + 0.75 * following], axis=1).reshape(-1, 2)
        points = cut if closed else np.concatenate([points[:1], cut, points[-1:]])
    return points


def rotate(points: np.ndarray, degrees: float, origin: np.ndarray | None = None) -> np.ndarray:
    """`(N, 2)` points rotated by `degrees` about `origin` (default: the coordinate origin)."""
    origin = np.zeros(2) if origin is None else np.asarray(origin, np.float64)
    radians = np.deg2rad(degrees)
    rotation = np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])
    return (np.asarray(points, np.float64) - origin) @ rotation.T + origin


def arc(centre: np.ndarray, axes: tuple[float, float], start_degrees: float, end_degrees: float,
        points: int = 48) -> np.ndarray:
    """`(points, 2)` points along an axis-aligned elliptical arc (angles clockwise from +x, y down)."""
    angles = np.deg2rad(np.linspace(start_degrees, end_degrees, points))
    return np.stack([np.cos(angles) * axes[0], np.sin(angles) * axes[1]], axis=1) + centre

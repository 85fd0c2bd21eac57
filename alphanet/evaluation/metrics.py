"""Alpha-matte error metrics: SAD, MSE, gradient error and connectivity error.

Every metric takes `pred` and `gt`, float alpha mattes in [0, 1] of shape `(H, W)`, and an optional
`trimap`, an integer `(H, W)` map in which 128 marks the unknown region. The two conventions in use
give numbers that cannot be compared with each other, so say which one a table uses:

* With a trimap: the usual convention of Deep Image Matting's evaluation code, used by every
  Composition-1k table. Only pixels where the trimap is 128 count. SAD, gradient and connectivity
  are sums over that region divided by 1000; MSE is the mean over that region. An image whose
  trimap has no unknown pixel scores 0.0 on every metric.
* Without a trimap: the AlphaNet paper's convention. Every metric is its per-pixel error summed
  over the whole image and divided by the number of pixels (no division by 1000).

So with a trimap that is unknown everywhere, SAD, gradient and connectivity under the first
convention are H * W / 1000 times those under the second, and MSE is the same under both.

Gradient error: the gradient magnitudes of both mattes from Deep Image Matting's first-order
Gaussian-derivative filters (sigma 1.4, each kernel scaled to unit L2 norm, borders replicated);
the per-pixel error is the squared difference of the magnitudes.

Connectivity error: for thresholds t = 0.1, 0.2, ..., 1.0 take the largest 4-connected component
of (pred >= t) & (gt >= t); each pixel's level l is the highest threshold at which it still belongs
to that component (0 if it drops out at t = 0.1, 1 if it never drops out). With d = alpha - l,
phi = 1 - d where d >= 0.15 and 1 elsewhere; the per-pixel error is |phi_pred - phi_gt|.
"""
import numpy as np
from scipy import ndimage

UNKNOWN = 128
# Deep Image Matting reports SAD, gradient and connectivity in thousands.
DIM_SCALE = 1000.0

GRADIENT_SIGMA = 1.4
# Deep Image Matting truncates its Gaussian where it falls below this fraction of 1 / (sqrt(2 pi) sigma).
GRADIENT_KERNEL_CUTOFF = 1e-2

# i / 10 rather than an accumulated arange: 3 * 0.1 is 0.30000000000000004, which would drop a pixel
# whose alpha is exactly 0.3 from the 0.3 level.
CONNECTIVITY_THRESHOLDS = np.arange(11) / 10
CONNECTIVITY_THETA = 0.15


def sad(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Sum of absolute differences (see the module docstring for the two conventions)."""
    pred, gt, region = _validated(pred, gt, trimap)
    return _reduced(np.abs(pred - gt), region)


def mse(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Mean squared error over the unknown region, or over the whole image without a trimap."""
    pred, gt, region = _validated(pred, gt, trimap)
    squared_error = (pred - gt) ** 2
    if region is None:
        return float(squared_error.mean())
    if not region.any():
        return 0.0
    return float(squared_error[region].mean())


def gradient_error(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Squared difference of Gaussian-derivative gradient magnitudes (see the module docstring)."""
    pred, gt, region = _validated(pred, gt, trimap)
    # The filters see the whole image even with a trimap, as in Deep Image Matting's code: only the
    # summation is restricted to the unknown region.
    error_map = (_gradient_magnitude(pred) - _gradient_magnitude(gt)) ** 2
    return _reduced(error_map, region)


def connectivity_error(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> float:
    """Difference in how strongly each pixel connects to the common foreground (see the module docstring)."""
    pred, gt, region = _validated(pred, gt, trimap)
    levels = _connectivity_levels(pred, gt)
    error_map = np.abs(_connectivity_phi(pred, levels) - _connectivity_phi(gt, levels))
    return _reduced(error_map, region)


def all_metrics(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> dict[str, float]:
    """The four metrics under one convention: {"sad", "mse", "gradient", "connectivity"}."""
    return {
        "sad": sad(pred, gt, trimap),
        "mse": mse(pred, gt, trimap),
        "gradient": gradient_error(pred, gt, trimap),
        "connectivity": connectivity_error(pred, gt, trimap),
    }


def _validated(pred, gt, trimap) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Checks the inputs; returns pred and gt as float64 `(H, W)` and the unknown region as a bool
    `(H, W)` mask, or None when there is no trimap."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(f"pred and gt must be 2-D (H, W) mattes, got shapes {pred.shape} and {gt.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    if pred.size == 0:
        raise ValueError("pred and gt are empty")
    for name, alpha in (("pred", pred), ("gt", gt)):
        if not np.isfinite(alpha).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if alpha.min() < 0.0 or alpha.max() > 1.0:
            raise ValueError(f"{name} must lie in [0, 1] (clip it, or divide 8-bit mattes by 255), "
                             f"got [{alpha.min()}, {alpha.max()}]")
    if trimap is None:
        return pred, gt, None
    trimap = np.asarray(trimap)
    if trimap.shape != pred.shape:
        raise ValueError(f"trimap must have the mattes' shape {pred.shape}, got {trimap.shape}")
    # A float trimap is most likely in the 0 / 0.5 / 1 convention and would silently have no unknown pixel.
    if not np.issubdtype(trimap.dtype, np.integer):
        raise ValueError(f"trimap must be an integer map with {UNKNOWN} = unknown, got dtype {trimap.dtype}")
    return pred, gt, trimap == UNKNOWN


def _reduced(error_map: np.ndarray, region: np.ndarray | None) -> float:
    """Per-pixel error `(H, W)` -> the reported number: sum over the region / 1000 with a trimap,
    mean over the image without."""
    if region is None:
        return float(error_map.mean())
    return float(error_map[region].sum() / DIM_SCALE)


def _gradient_magnitude(alpha: np.ndarray) -> np.ndarray:
    """`(H, W)` -> `(H, W)` gradient magnitude from Deep Image Matting's Gaussian-derivative filters."""
    gaussian, derivative = _gradient_kernels()
    # DIM's 2-D kernel is the outer product gaussian x derivative scaled to unit L2 norm; that norm
    # is the product of the two 1-D norms, so the separable form gives the same result.
    d_dx = ndimage.convolve1d(ndimage.convolve1d(alpha, derivative, axis=1, mode="nearest"),
                              gaussian, axis=0, mode="nearest")
    d_dy = ndimage.convolve1d(ndimage.convolve1d(alpha, derivative, axis=0, mode="nearest"),
                              gaussian, axis=1, mode="nearest")
    return np.hypot(d_dx, d_dy)


def _gradient_kernels() -> tuple[np.ndarray, np.ndarray]:
    """The 1-D Gaussian and its first derivative (each `(2 * half_size + 1,)`, unit L2 norm) that
    make up Deep Image Matting's gradient filter."""
    sigma = GRADIENT_SIGMA
    half_size = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * GRADIENT_KERNEL_CUTOFF))))
    offsets = np.arange(-half_size, half_size + 1, dtype=np.float64)
    gaussian = np.exp(-offsets ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    derivative = -offsets * gaussian / sigma ** 2
    return gaussian / np.linalg.norm(gaussian), derivative / np.linalg.norm(derivative)


def _connectivity_levels(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """`(H, W)` mattes -> `(H, W)` level of each pixel: the highest threshold at which it is still in
    the largest 4-connected component of (pred >= t) & (gt >= t) (Deep Image Matting's l_map)."""
    levels = np.ones_like(pred)
    still_connected = np.ones(pred.shape, dtype=bool)
    for lower, threshold in zip(CONNECTIVITY_THRESHOLDS[:-1], CONNECTIVITY_THRESHOLDS[1:]):
        component = _largest_component((pred >= threshold) & (gt >= threshold))
        levels[still_connected & ~component] = lower
        # A pixel keeps the level at which it first dropped out, even if a later component holds it again.
        still_connected &= component
    return levels


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """Bool `(H, W)` -> bool `(H, W)`: the largest 4-connected component of mask (all False if mask is)."""
    labels, count = ndimage.label(mask)  # the default structure in 2-D is 4-connectivity
    if count == 0:
        return np.zeros_like(mask)
    sizes = np.bincount(labels.ravel())[1:]  # label 0 is the background
    return labels == 1 + np.argmax(sizes)


def _connectivity_phi(alpha: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """`(H, W)` matte and levels -> `(H, W)` phi = 1 - d where d = alpha - level >= theta, else 1."""
    excess = alpha - levels
    return 1.0 - excess * (excess >= CONNECTIVITY_THETA)

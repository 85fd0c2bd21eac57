"""Partly transparent pictures and how they stack: the algebra of the synthetic foregrounds.

A `Layer` keeps its colour premultiplied by alpha, so stacking ("over"), blurring and fading are
all plain linear operations on both arrays, exactly as light mixes in a photograph.
"""
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Layer:
    """alpha: `(H, W)` float32 in [0, 1]; premultiplied: `(H, W, 3)` float32 = colour * alpha."""

    alpha: np.ndarray
    premultiplied: np.ndarray

    @classmethod
    def paint(cls, alpha: np.ndarray, surface: np.ndarray) -> "Layer":
        """A `(H, W)` coverage filled with a `(H, W, 3)` surface."""
        return cls(alpha.astype(np.float32), (surface * alpha[:, :, None]).astype(np.float32))

    def over(self, below: "Layer") -> "Layer":
        """This layer in front of `below`."""
        behind = 1.0 - self.alpha
        return Layer(self.alpha + below.alpha * behind, self.premultiplied + below.premultiplied * behind[:, :, None])

    def faded(self, opacity: np.ndarray | float) -> "Layer":
        """Multiplied by an opacity, a number or an `(H, W)` map in [0, 1]."""
        opacity = np.asarray(opacity, np.float32)
        colour_opacity = opacity[:, :, None] if opacity.ndim == 2 else opacity
        return Layer(self.alpha * opacity, self.premultiplied * colour_opacity)

    def filtered(self, kernel: np.ndarray) -> "Layer":
        """Convolved with a `(k, k)` kernel (motion blur, defocus): colour and alpha smear together."""
        return Layer(cv2.filter2D(self.alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT),
                     cv2.filter2D(self.premultiplied, -1, kernel, borderType=cv2.BORDER_CONSTANT))

    def mixed(self, other: "Layer", weight: np.ndarray) -> "Layer":
        """Per pixel `weight` `(H, W)` of `other` and 1 - weight of this layer (e.g. sharp and blurred)."""
        colour_weight = weight[:, :, None]
        return Layer(self.alpha * (1 - weight) + other.alpha * weight,
                     self.premultiplied * (1 - colour_weight) + other.premultiplied * colour_weight)

    def colour(self, spread: float = 24.0) -> np.ndarray:
        """`(H, W, 3)` float32 colour, defined everywhere: inside, premultiplied / alpha; where alpha
        is (nearly) 0, the colours nearby smeared outwards, as real foreground estimates look (so
        resizing a foreground never mixes in arbitrary colours from outside the object)."""
        height, width = self.alpha.shape
        small = (max(width // 8, 1), max(height // 8, 1))
        weights = cv2.GaussianBlur(cv2.resize(self.alpha, small, interpolation=cv2.INTER_AREA), (0, 0), spread / 8)
        sums = cv2.GaussianBlur(cv2.resize(self.premultiplied, small, interpolation=cv2.INTER_AREA), (0, 0), spread / 8)
        mean_colour = self.premultiplied.reshape(-1, 3).sum(0) / max(float(self.alpha.sum()), 1e-6)
        nearby = (sums + 1e-4 * mean_colour) / (weights[:, :, None] + 1e-4)
        nearby = cv2.resize(nearby, (width, height), interpolation=cv2.INTER_LINEAR)
        alpha = self.alpha[:, :, None]
        inside = self.premultiplied / np.maximum(alpha, 1e-6)
        return np.clip(np.where(alpha > 2e-3, inside, nearby), 0.0, 1.0).astype(np.float32)


def stack(layers: list[Layer]) -> Layer:
    """Layers listed back to front -> one layer."""
    result = layers[0]
    for layer in layers[1:]:
        result = layer.over(result)
    return result

"""Stand-ins for the scripted model and a valid upload, for the tests that call a server's code in this process
(the TorchServe handler, Triton's cutout model) where only a stand-in can provoke a failure."""
import io

import torch
from PIL import Image


def png(width: int, height: int) -> bytes:
    """A plain orange PNG of `width` x `height`: an upload every decoder takes."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, "PNG")
    return buffer.getvalue()


def half_transparent(image: torch.Tensor, trimap=None):
    """The scripted model's contract: uint8 (H, W, 3) [and trimap] -> float32 alpha and trimap of (H, W)."""
    size = image.shape[:2]
    return torch.full(size, 0.5), torch.full(size, 0.5)


def failing(image: torch.Tensor, trimap=None):
    raise RuntimeError("the graph broke")

"""AlphaNet Serve: automatic image matting (segmentation -> erosion/dilation trimap -> attention-guided
matting) as one TorchScript graph, served by TorchServe or Triton on CPU.

`alphanet.cutout(photo)` cuts a photo out in this process, answering as the server does (alphanet.engine).
"""


def __getattr__(name: str):
    """`alphanet.cutout`, imported on first use: importing the package, as the torch-free client does, must not
    load torch. (The engine is a module of its own name: a submodule named `cutout` would hide the function.)"""
    if name == "cutout":
        from alphanet.engine import cutout
        return cutout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

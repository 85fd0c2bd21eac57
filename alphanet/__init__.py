"""AlphaNet Serve: automatic image matting (segmentation -> erosion/dilation trimap -> attention-guided
matting) as one TorchScript graph, served by TorchServe or Triton on CPU."""

"""The networks and in-graph layers: the backbones (ResNet18, MobileNetV2), DeepLabV3+ and its ASPP, the converted
person segmenter, the segmentation stages, the ED layer, the attention-guided matting net, the guided filter and
the band window; `inference_form` rebuilds the matting net in the form the scripted graph runs."""

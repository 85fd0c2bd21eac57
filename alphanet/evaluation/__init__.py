"""Measuring AlphaNet: the matting metrics, the paper's tables against closed-form and KNN (`evaluate`), where the
error lies (`error_breakdown`), the segmentation stage's IoU, and the model card's showcase."""

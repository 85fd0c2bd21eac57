"""AlphaNet on Triton: the served models and their tensors, their config.pbtxt, the PyTorch-backend repository,
the Python-backend models (tensors and the cutout API) and the live server's launcher."""

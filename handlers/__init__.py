"""TorchServe handlers; each file is packed into a model archive with torch-model-archiver --handler."""

"""Everything around the scripted graph in a serving process: decoding uploads and encoding answers (`imageio`),
the worker's warm-up and memory hand-back, the container health check, and TorchServe's launcher."""

"""Training AlphaNet: the three stages' loop (`train`), the losses, validation during training, and the weights
file that training writes and export, evaluation and `--init` read (`checkpoint`)."""

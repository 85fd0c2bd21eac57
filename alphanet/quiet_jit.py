"""TorchScript without its deprecation warning. torch 2.13 deprecates TorchScript (it still works) and warns on
every script, freeze and load; the export and the Triton models use it on purpose. A module of its own, so the
Triton side imports it without the export's dependencies."""
import warnings
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def quiet_jit() -> Iterator[None]:
    """Around TorchScript calls: hides only the DeprecationWarning, nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield

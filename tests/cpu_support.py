"""What this machine's CPU can run: tests of bf16 archives need oneDNN's bf16 convolutions, which torch refuses (or
crashes in, frozen) on CPUs without AVX512BW/VL/DQ or AVX-NE-CONVERT, such as AVX2-only ones."""
import pytest
import torch

needs_bf16_convolutions = pytest.mark.skipif(
    not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
    reason="this CPU has no bf16 convolutions (oneDNN needs AVX512BW/VL/DQ or AVX-NE-CONVERT)")

"""What this machine's CPU can run: oneDNN's bf16 convolutions need AVX512BW/VL/DQ or AVX-NE-CONVERT; on other CPUs,
such as AVX2-only ones, torch refuses them (or crashed in them, frozen), and the bf16 wrappers run float32 instead
(alphanet/nets/bfloat16.py). Tests of the bf16 arithmetic need the former, tests of the fallback the latter."""
import pytest
import torch

HAS_BF16_CONVOLUTIONS = torch.ops.mkldnn._is_mkldnn_bf16_supported()

needs_bf16_convolutions = pytest.mark.skipif(
    not HAS_BF16_CONVOLUTIONS,
    reason="this CPU has no bf16 convolutions (oneDNN needs AVX512BW/VL/DQ or AVX-NE-CONVERT)")
lacks_bf16_convolutions = pytest.mark.skipif(
    HAS_BF16_CONVOLUTIONS, reason="this CPU has bf16 convolutions, so bf16 archives compute in bf16")

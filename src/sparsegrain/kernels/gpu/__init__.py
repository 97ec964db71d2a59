"""GPU kernels (Triton) for GS, block CSR and CSP SpMM with fp16/bf16 values and fp32 accumulation,
and the 2:4 baseline through torch's semi-structured sparse tensor.

Without CUDA the Triton kernels run under ``TRITON_INTERPRET=1`` (set it before importing this
package): slow, for correctness checks at tiny sizes.
"""

from .base import GPU_DTYPES, GPUKernel, check_runtime
from .bcsr import BCSRGPU
from .csp import CSPGPU
from .gs import GSGPU
from .semi24 import semi_structured_linear

__all__ = ["BCSRGPU", "CSPGPU", "GPU_DTYPES", "GPUKernel", "GSGPU", "check_runtime",
           "semi_structured_linear"]

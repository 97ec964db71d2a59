"""What every Triton kernel shares: where it may run, the value dtypes, input checks."""

from __future__ import annotations

import os

import torch

from ..base import SparseKernel
from ..layout import float_values

#: value dtypes the Triton kernels store (accumulation is always float32)
GPU_DTYPES = (torch.float16, torch.bfloat16)


def interpreting() -> bool:
    """True when Triton runs its kernels in the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def check_runtime() -> torch.device:
    """The device Triton kernels run on: CUDA, or the CPU when interpreting; else a ValueError."""
    if torch.cuda.is_available() and not interpreting():
        return torch.device("cuda")
    if interpreting():
        return torch.device("cpu")
    raise ValueError(
        "the Triton kernels need a CUDA GPU and none is available; set TRITON_INTERPRET=1 "
        "before importing sparsegrain.kernels.gpu to run them (slowly) on the CPU"
    )


class GPUKernel:
    """A CPU kernel's arrays moved to the Triton device, values in fp16 or bf16."""

    fmt = ""

    def __init__(self, cpu: SparseKernel, dtype: torch.dtype = torch.float16) -> None:
        if cpu.fmt != self.fmt:
            raise ValueError(f"{type(self).__name__} takes a {self.fmt} kernel, got {cpu.fmt}")
        if dtype not in GPU_DTYPES:
            raise ValueError(f"value dtype {dtype} not supported: use torch.float16 or torch.bfloat16")
        self.device = check_runtime()
        self.shape = cpu.shape
        self.dtype = dtype

    def to_device(self, a, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A CPU kernel's array on the device (stored values as ``dtype``, float16 bits read as
        float16)."""
        a = float_values(a) if dtype is not None else a
        return torch.as_tensor(a).to(device=self.device, dtype=dtype).contiguous()

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (cols, batch) as a contiguous tensor of the value dtype on the kernel's device."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[0] != self.shape[1]:
            raise ValueError(
                f"input of shape {tuple(x.shape)} does not fit the {self.fmt} weight of shape "
                f"{self.shape}: expected ({self.shape[1]}, batch)"
            )
        if not x.is_floating_point():
            raise ValueError(f"input dtype {x.dtype} not supported: use a floating-point tensor")
        if x.device.type != self.device.type:
            raise ValueError(f"input is on {x.device}, the kernel on {self.device}")
        return x.to(self.dtype).contiguous()

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        return self.matmul(x)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - per format
        raise NotImplementedError

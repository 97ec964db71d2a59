"""The one coercion of user data to arrays: a tensor or numpy array in, float32 numpy out,
with an error that names what was wrong; and the memory available to hold them."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch


def as_float32(t: Any, what: str, integers: bool = True, finite: bool = True) -> np.ndarray:
    """A float32 numpy view or copy of a CPU tensor or numeric numpy array (``what`` names it;
    ``integers=False`` accepts floating-point data only); NaN or inf values are refused unless
    ``finite=False`` leaves that check to the caller (:func:`require_finite`)."""
    kinds = "a floating-point or integer" if integers else "a floating-point"
    if isinstance(t, torch.Tensor):
        if t.is_cuda:
            raise ValueError(f"{what} is a CUDA tensor; CPU code takes CPU tensors")
        if not (t.is_floating_point() or (integers and t.dtype in INTEGER_DTYPES)):
            raise ValueError(f"{what} dtype {t.dtype} not supported: use {kinds} tensor")
        t = t.detach().float().numpy()
    if not isinstance(t, np.ndarray):
        raise ValueError(f"{what} must be a torch.Tensor or numpy array, got {type(t).__name__}")
    if t.dtype.kind not in ("fiu" if integers else "f"):
        raise ValueError(f"{what} dtype {t.dtype} not supported: use {kinds} array")
    out = t.astype(np.float32, copy=False)
    if finite:
        require_finite(out, what)
    return out


def require_finite(a: np.ndarray, what: str) -> None:
    """A clear ValueError if ``a`` holds NaN or inf values."""
    if a.size and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise ValueError(f"{what} holds {bad} NaN or inf value(s) of {a.size}; give finite numbers")


def as_bool(t: Any, what: str) -> np.ndarray:
    """A boolean numpy array from a bool (or 0/1) tensor or array."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    if not isinstance(t, np.ndarray):
        raise ValueError(f"{what} must be a torch.Tensor or numpy array, got {type(t).__name__}")
    if t.dtype != np.bool_ and not np.isin(t, (0, 1)).all():
        raise ValueError(f"{what} must be boolean (True = kept), got values other than 0 and 1")
    return t.astype(bool, copy=False)


def available_memory() -> int:
    """Bytes that can be allocated now without swapping, so that sizes read from user files are
    refused before allocating: MemAvailable of /proc/meminfo, else the free (then total) pages
    ``os.sysconf`` reports, else 8 GiB; and no more than the room left under this process's
    cgroup memory limit, where one is set (a container's limit, which /proc/meminfo does not
    show)."""
    machine = _machine_available()
    room = cgroup_room()
    return machine if room is None else min(machine, room)


def _machine_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            continue
    return 8 * 2**30


#: (limit, usage, stat) files of cgroup v2 and v1 under the cgroup file system's root
CGROUP_FILES = (("memory.max", "memory.current", "memory.stat"),
                ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes",
                 "memory/memory.stat"))


def cgroup_room(root: str = "/sys/fs/cgroup") -> int | None:
    """Bytes left under the memory limit of the cgroup at ``root`` (v2, else v1): the limit less
    the usage, the usage's inactive file cache (which the kernel drops before refusing memory)
    counted as room; None where no limit is set or the files cannot be read."""
    for limit_file, usage_file, stat_file in CGROUP_FILES:
        try:
            with open(os.path.join(root, limit_file)) as f:
                text = f.read().strip()
            if text == "max" or int(text) >= 2**60:  # v1 writes "no limit" as a huge number
                return None
            with open(os.path.join(root, usage_file)) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        return max(0, int(text) - usage + _inactive_file(os.path.join(root, stat_file)))
    return None


def _inactive_file(path: str) -> int:
    """The inactive file cache a cgroup's memory.stat reports (v2 ``inactive_file``, v1
    ``total_inactive_file``), 0 where it is not there."""
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key in ("inactive_file", "total_inactive_file"):
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def byte_size(n: int) -> str:
    """``n`` bytes as a person reads them: GiB from one GiB up, MiB below."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def require_memory(need: int, message: str) -> None:
    """A ValueError when ``need`` bytes exceed the memory available now (checked before
    allocating them): ``message`` with ``{need}`` and ``{free}`` given as :func:`byte_size`."""
    free = available_memory()
    if need > free:
        raise ValueError(message.format(need=byte_size(need), free=byte_size(free)))


INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)

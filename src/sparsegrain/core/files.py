"""Writing results into an output folder safely: atomically, and never through a link.

A report is written next to the user's files, so a write must neither leave a half-written
file behind when the process is killed (it goes to a temporary file in the same folder, then
``os.replace``\\ s the old one in one step) nor follow a symbolic link planted at the target or
at a folder on the way to it out of the output folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def output_folder(out: str | Path) -> Path:
    """``out`` created if missing, or a ValueError saying why it cannot hold results."""
    path = Path(out)
    if path.is_symlink():
        raise ValueError(f"output folder {path} is a symbolic link; give a real folder")
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create output folder {path}: {e.strerror or e}") from None
    return path


def safe_target(out: Path, relative: str | Path) -> Path:
    """The path ``out / relative``, its folders created, or a ValueError if it or a folder on
    the way is a symbolic link or leaves ``out``."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"{relative} is not a path inside the output folder")
    here = out
    for part in rel.parts[:-1]:
        here = here / part
        if here.is_symlink():
            raise ValueError(f"{here} is a symbolic link; refusing to write through it "
                             "(remove it, or choose another output folder)")
        here.mkdir(exist_ok=True)
    target = here / rel.parts[-1]
    if target.is_symlink():
        raise ValueError(f"{target} is a symbolic link; refusing to overwrite what it points to "
                         "(remove it, or choose another output folder)")
    if target.exists() and not target.is_file():
        raise ValueError(f"{target} exists and is not a file")
    return target


def write_atomic(out: str | Path, relative: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``out / relative`` atomically (see the module docstring); returns the path."""
    target = safe_target(output_folder(out), relative)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target

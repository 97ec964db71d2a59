"""Writing results into an output folder safely: atomically, never through a link, one writer
at a time.

A report is written next to the user's files, so a write must neither leave a half-written
file behind when the process is killed (it goes to a temporary file in the same folder, then
``os.replace``\\ s the old one in one step) nor follow a symbolic link planted at the target or
at a folder on the way to it out of the output folder.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path


def cache_dir(path: str | Path | None = None) -> Path:
    """Where trained models and tuning decisions are cached: ``path``, ``$SPARSEGRAIN_CACHE``
    or ``~/.cache/sparsegrain``."""
    p = Path(path or os.environ.get("SPARSEGRAIN_CACHE", "~/.cache/sparsegrain")).expanduser()
    p.mkdir(parents=True, exist_ok=True)
    return p


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
    _remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                               suffix=".tmp")
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


def _remove_leftovers(target: Path) -> None:
    """Delete temporary files of ``target`` left by writers that were killed (their pid, in
    the name, no longer runs)."""
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Does process ``pid`` exist on this host?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


LOCK_NAME = ".sparsegrain.lock"


class FolderLock:
    """One writer per output folder: a lock file holding the owner's pid, host and task.

    A second writer is refused with a line naming the owner. A lock left by a process that
    no longer runs on this host is taken over with a warning; one from another host is
    respected (it may be a live sweep on a shared disk) until removed by hand.
    """

    def __init__(self, out: str | Path, task: str) -> None:
        self.path = output_folder(out) / LOCK_NAME
        self.task = task
        self.held = False

    def __enter__(self) -> "FolderLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise a ValueError naming who holds it."""
        me = {"pid": os.getpid(), "host": socket.gethostname(), "task": self.task,
              "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and not self._stale(owner):
                    raise ValueError(
                        f"{self.path.parent} is in use by {owner.get('task', 'another run')} "
                        f"(pid {owner.get('pid')} on {owner.get('host')}); wait for it to end, or "
                        f"choose another output folder") from None
                warnings.warn(f"taking over {self.path}: its owner "
                              f"(pid {(owner or {}).get('pid')}) no longer runs", stacklevel=3)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise ValueError(f"could not take {self.path}: another run took it at the same moment")

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # unreadable or half-written: treated as stale

    @staticmethod
    def _stale(owner: dict) -> bool:
        """Is the owner a process of this host that no longer runs?"""
        if owner.get("host") != socket.gethostname():
            return False
        pid = owner.get("pid")
        return not isinstance(pid, int) or not _running(pid)

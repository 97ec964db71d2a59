"""Writing results into an output folder safely: atomically, never through a link, one writer
at a time.

A report is written next to the user's files, so a write must neither leave a half-written
file behind when the process is killed (it goes to a temporary file in the same folder, then
``os.replace``\\ s the old one in one step) nor follow a symbolic link planted at the target or
at a folder on the way to it out of the output folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import stat
import time
from pathlib import Path


def cache_dir(path: str | Path | None = None) -> Path:
    """Where trained models and tuning decisions are cached: ``path``, ``$SPARSEGRAIN_CACHE``
    or ``~/.cache/sparsegrain``."""
    p = Path(path or os.environ.get("SPARSEGRAIN_CACHE", "~/.cache/sparsegrain")).expanduser()
    p.mkdir(parents=True, exist_ok=True)
    return p


def check_output_folder(out: str | Path) -> Path:
    """``out`` as a path, or a ValueError where it can be told without creating anything that
    it cannot hold results (a link, or something other than a folder): a long run checks this
    before it starts."""
    path = Path(out)
    if path.is_symlink():
        raise ValueError(f"output folder {path} is a symbolic link; give a real folder")
    if path.exists() and not path.is_dir():
        raise ValueError(f"output folder {path} exists and is not a folder")
    return path


def output_folder(out: str | Path) -> Path:
    """``out`` created if missing, or a ValueError saying why it cannot hold results."""
    path = check_output_folder(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create output folder {path}: {e.strerror or e}") from None
    return path


def _check_relative(relative: str | Path) -> tuple[str, ...]:
    """The parts of ``relative``, or a ValueError if it would leave the output folder."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"{relative} is not a path inside the output folder")
    return rel.parts


def _open_folder(name: str | Path, shown: Path, parent: int | None = None) -> int:
    """A descriptor of folder ``name`` (inside folder ``parent`` if given) opened without
    following a link, so that a folder swapped for a link after any check is never entered."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                       dir_fd=parent)
    except OSError as e:
        if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and os.path.islink(shown)):
            raise ValueError(f"{shown} is a symbolic link; refusing to write through it "
                             "(remove it, or choose another output folder)") from None
        if e.errno == errno.ENOTDIR:
            raise ValueError(f"{shown} exists and is not a folder") from None
        raise ValueError(f"cannot open folder {shown}: {e.strerror or e}") from None


def write_atomic(out: str | Path, relative: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``out / relative`` atomically (see the module docstring); returns the
    path. Every folder on the way is opened without following links and the file is created
    and renamed inside the opened folder, so a link planted at any moment is never written
    through; a failed write (a full disk) leaves the old file as it was."""
    parts = _check_relative(relative)
    base = output_folder(out)
    raw = data.encode() if isinstance(data, str) else data
    here = base
    fd = _open_folder(base, base)
    try:
        for part in parts[:-1]:
            here = here / part
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            except OSError as e:
                raise ValueError(f"cannot create folder {here}: {e.strerror or e}") from None
            inner = _open_folder(part, here, fd)
            os.close(fd)
            fd = inner
        name = parts[-1]
        target = here / name
        _check_target(fd, name, target)
        _remove_leftovers(fd, name)
        tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o644, dir_fd=fd)
            with os.fdopen(out_fd, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)  # replaces a link, never follows
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            if isinstance(e, OSError):
                raise ValueError(f"cannot write {target}: {e.strerror or e}") from None
            raise
        return target
    finally:
        os.close(fd)


def _check_target(folder: int, name: str, shown: Path) -> None:
    """A ValueError if ``name`` in ``folder`` is a link or something other than a file."""
    try:
        st = os.lstat(name, dir_fd=folder)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise ValueError(f"{shown} is a symbolic link; refusing to overwrite what it points to "
                         "(remove it, or choose another output folder)")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{shown} exists and is not a file")


def _remove_leftovers(folder: int, name: str) -> None:
    """Delete temporary files of ``name`` left in ``folder`` by writers that were killed
    (their pid, in the name, no longer runs)."""
    prefix = f".{name}."
    for entry in os.listdir(folder):
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        pid = entry[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=folder)


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
    """One writer per output folder: an exclusive ``flock`` on a lock file that also names the
    owner (pid, host, task) for the refusal message.

    The kernel holds the lock, not the file's contents: it is released when the owner ends,
    however it ends, so there is no stale lock to take over and a reused pid blocks nothing;
    two processes started at the same instant cannot both hold it. A second writer is refused
    with a line naming the owner. On a network file system the lock is as good as the file
    system's own locking.
    """

    def __init__(self, out: str | Path, task: str) -> None:
        self.path = output_folder(out) / LOCK_NAME
        self.task = task
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise a ValueError naming who holds it."""
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _owner(fd)
                os.close(fd)
                who = (f"{owner.get('task', 'another run')} (pid {owner.get('pid')} on "
                       f"{owner.get('host')})" if owner else "another run")
                raise ValueError(f"{self.path.parent} is in use by {who}; wait for it to end, "
                                 "or choose another output folder") from None
            except OSError as e:
                os.close(fd)
                raise ValueError(f"cannot lock {self.path}: {e.strerror or e} (the file system "
                                 "offers no locks?); choose another output folder") from None
            # the previous owner removes the file as it releases: a lock on that removed file
            # guards nothing, so start again on the file now at the path
            if same_file(fd, self.path):
                break
            os.close(fd)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "task": self.task,
              "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self.fd = fd

    def _open(self) -> int:
        """The lock file, created if missing, opened without following a link."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise ValueError(f"cannot use {self.path} as the folder's lock file "
                             f"({e.strerror or e}); remove it") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ValueError(f"{self.path} is not a file; remove it to use this output folder")
        return fd

    def release(self) -> None:
        """Remove the lock file and drop the lock, if this object holds it."""
        if self.fd is not None:
            if same_file(self.fd, self.path):
                with contextlib.suppress(OSError):
                    self.path.unlink()
            os.close(self.fd)
            self.fd = None


def same_file(fd: int, path: Path) -> bool:
    """Is the open ``fd`` the file now at ``path`` (not a link, not a replaced file)?"""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


def _owner(fd: int) -> dict:
    """The owner details in an open lock file; empty if unreadable or not yet written."""
    try:
        owner = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}

"""The report page as a reader's browser shows it: headless Chromium renders it (scripts run,
charts drawn) into a screenshot or into the document it ends as."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..core.files import write_atomic

#: the names Chromium goes by on Debian, Ubuntu and elsewhere
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: a laptop screen's width, and how long the page's scripts may run (virtual time)
WIDTH, SETTLE_MS = 1400, 8000


def find_browser() -> str | None:
    """The path of a Chromium found on PATH, or None."""
    return next((p for name in BROWSERS if (p := shutil.which(name))), None)


def _run(args: list[str], page: Path, timeout: float) -> subprocess.CompletedProcess:
    browser = find_browser()
    if browser is None:
        raise ValueError("no Chromium found (looked for " + ", ".join(BROWSERS) + "); install "
                         "one, e.g. `apt-get install chromium`, to render the page")
    if not page.is_file():
        raise ValueError(f"{page} is not a file; give the report.html a sweep wrote")
    with tempfile.TemporaryDirectory(prefix="sparsegrain-browser-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--hide-scrollbars",
               "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr",
               f"--virtual-time-budget={SETTLE_MS}", *args, page.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ValueError(f"{browser} took over {timeout:.0f} s to render {page}") from None
    if done.returncode:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"{browser} failed on {page} (exit {done.returncode}): {last[:200]}")
    return done


def rendered(page: Path, timeout: float = 120.0) -> tuple[str, list[str]]:
    """The page's document once its scripts ran, and the messages its scripts wrote to the
    console (the browser's log lines that carry them)."""
    done = _run([f"--window-size={WIDTH},1000", "--dump-dom"], page, timeout)
    console = [line for line in done.stderr.decode(errors="replace").splitlines()
               if ":CONSOLE" in line]
    return done.stdout.decode(), console


def screenshot(page: Path, out: Path, height: int = 2400, timeout: float = 120.0) -> Path:
    """A PNG of the top ``height`` pixels of ``page`` at a laptop's width, written atomically
    as ``out`` (never through a link)."""
    with tempfile.TemporaryDirectory(prefix="sparsegrain-shot-") as tmp:
        shot = Path(tmp) / "page.png"
        _run([f"--window-size={WIDTH},{height}", f"--screenshot={shot}"], page, timeout)
        if not shot.is_file():
            raise ValueError(f"the browser wrote no screenshot of {page}")
        return write_atomic(out.parent, out.name, shot.read_bytes())

"""Report a sweep straight from the store in its output folder."""

from __future__ import annotations

from pathlib import Path

from ..core.files import FolderLock
from ..experiments.config import SweepConfig
from ..experiments.point import accelerator_params
from ..experiments.store import STORE_NAME, ResultStore
from ..experiments.sweep import sweep_keys
from . import browser
from .budget import DEFAULT_BUDGETS, check_budgets
from .render import write_report
from .summary import Summary, summarize

#: the page's screenshot, beside it
SCREENSHOT = "report.png"


def store_path(out: str | Path) -> Path:
    """The sweep store of folder ``out``, or a one-line ValueError saying how to make one."""
    path = Path(out) / STORE_NAME
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"{out} is a file, not a folder; give the folder a `sparsegrain tradeoff "
                         "--out FOLDER` run wrote")
    if not path.is_file():
        raise ValueError(f"{out} holds no sweep store ({STORE_NAME}); run `sparsegrain tradeoff "
                         f"--out {out}` first")
    return path


def load_summary(out: str | Path, config: SweepConfig | None = None
                 ) -> tuple[Summary, SweepConfig]:
    """The summary of sweep ``config`` (default: the last one recorded) in the store of folder
    ``out``, read-only, and that config; a one-line ValueError when there is none."""
    path = store_path(out)
    try:
        with ResultStore(path, readonly=True) as store:
            if config is None:
                recorded = list(store.sweeps().values())
                if not recorded:
                    raise ValueError(f"the store {path} records no sweep; run `sparsegrain "
                                     f"tradeoff --out {out}` first")
                config = SweepConfig.from_dict(recorded[-1])
            rows = store.rows(sweep_keys(config))
        if not rows:
            raise ValueError(f"the store {path} holds no rows of this sweep yet")
        return summarize(rows), config
    except (KeyError, TypeError, AttributeError, IndexError, ZeroDivisionError) as e:
        # rows or a recorded sweep edited into shapes the sweep never writes
        raise ValueError(f"the store {path} is damaged ({type(e).__name__}: {e}); rerun the "
                         "sweep into another folder") from None


def report_sweep(
    out: str | Path, config: SweepConfig | None = None,
    budgets: tuple[float, ...] = DEFAULT_BUDGETS, screenshot: bool = False,
) -> tuple[Summary, dict[str, Path]]:
    """Write the report of sweep ``config`` (default: the last sweep recorded in the store of
    folder ``out``) into ``out``, its equal-accuracy answer at ``budgets`` (points of the
    metric), and with ``screenshot`` ``report.png``, the page's top as Chromium shows it;
    returns its summary and the written paths."""
    budgets = check_budgets(budgets)
    store_path(out)  # no store: the error before the folder's lock is taken
    with FolderLock(out, "sparsegrain report"):
        summary, config = load_summary(out, config)
        summary.budgets = budgets
        settings = {**config.to_dict(), "accelerator_params": accelerator_params(config)}
        paths = write_report(summary, out, settings)
        if screenshot:
            paths["screenshot"] = browser.screenshot(paths["html"], Path(out) / SCREENSHOT)
        return summary, paths

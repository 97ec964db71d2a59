"""Run every benchmark of this folder in turn with its default settings (``make bench``).

Each script prints its own table of ratios against the baselines it measures in the same run;
this runner only starts them one after another, says which is running and how long the ones
before took, and exits non-zero if any failed.

    python benchmarks/run_all.py [--only NAME,NAME]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated script names (without .py)")
    args = ap.parse_args()
    # a name starting with _ is a helper the scripts import, not a benchmark
    scripts = sorted(p for p in HERE.glob("*.py")
                     if p.name != Path(__file__).name and not p.name.startswith("_"))
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            print(f"error: no benchmark {', '.join(sorted(unknown))}; valid: "
                  f"{', '.join(p.stem for p in scripts)}", file=sys.stderr)
            return 2
        scripts = [p for p in scripts if p.stem in wanted]
    failed, spent = [], []
    for i, script in enumerate(scripts):
        eta = f", about {sum(spent) / len(spent) * (len(scripts) - i) / 60:.0f} min left" if spent else ""
        print(f"\n=== [{i + 1}/{len(scripts)}] {script.stem}{eta}", flush=True)
        t = time.perf_counter()
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.stem)
        spent.append(time.perf_counter() - t)
        print(f"=== {script.stem}: {spent[-1]:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

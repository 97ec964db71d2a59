"""Write the SRAM energy table the accelerator models price buffers with, from CACTI 7.

CACTI 7 (HP Labs / Univ. of Utah; the build shipped in the ``zigzag-dse`` wheel,
``zigzag/cacti/cacti_master/cacti``) is run for a single-bank, direct-mapped scratchpad ("ram",
one read and one write port, ITRS high-performance cells and periphery, 360 K) at 45 nm, the node
of the shipped Horowitz energy table, for every capacity and access width of the grid. Each entry
is the dynamic read and write energy of one access of ``width`` bits and the standby leakage.

    pip install zigzag-dse && python scripts/cacti_sram_table.py [--cacti PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import stat
import subprocess
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/sparsegrain/hardware/energy/cacti7_sram_45nm.yaml"
#: capacities (bytes) and access widths (bits) of the grid
CAPACITIES = [2**k for k in range(8, 23)]  # 256 B .. 4 MiB
WIDTHS = [32, 64, 128, 256, 512]
#: lines of CACTI's own example configuration (``cache.cfg_temp``, next to the binary) replaced
#: for each point; everything else is kept as CACTI ships it
SETTINGS = {
    "-size (bytes)": "{size}",
    "-block size (bytes)": "{block}",
    "-output/input bus width": "{width}",
    "-technology (u)": "0.045",
    "-cache type": '"ram"',
    "-associativity": "1",
    "-Add ECC -": '"false"',
    "-UCA bank count": "1",
}


def default_cacti() -> Path:
    spec = importlib.util.find_spec("zigzag")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("zigzag-dse is not installed: pip install zigzag-dse (or give --cacti)")
    return Path(list(spec.submodule_search_locations)[0]) / "cacti" / "cacti_master" / "cacti"


def config(template: str, size: int, width: int) -> str:
    """CACTI's example configuration with this point's settings."""
    values = {k: v.format(size=size, block=width // 8, width=width) for k, v in SETTINGS.items()}
    lines = []
    for line in template.splitlines():
        key = next((k for k in values if line.startswith(k)), None)
        lines.append(line if key is None else f"{key} {values[key]}")
    return "\n".join(lines) + "\n"


def figure(text: str, label: str) -> float:
    """The number after ``label`` in CACTI's report."""
    match = re.search(re.escape(label) + r"\s*([0-9.eE+-]+)", text)
    if match is None:
        raise ValueError(f"no {label!r} in CACTI's output")
    return float(match.group(1))


def run_cacti(cacti: Path, size: int, width: int, work: Path) -> dict[str, float]:
    """Read/write energy (pJ per access) and leakage (mW) of one configuration."""
    cfg = work / f"s{size}_w{width}.cfg"
    cfg.write_text(config((cacti.parent / "cache.cfg_temp").read_text(), size, width))
    run = subprocess.run([str(cacti), "-infile", str(cfg)], cwd=cacti.parent, capture_output=True,
                         text=True, check=True, timeout=120)
    return {"read_pj": figure(run.stdout, "Total dynamic read energy per access (nJ):") * 1e3,
            "write_pj": figure(run.stdout, "Total dynamic write energy per access (nJ):") * 1e3,
            "leakage_mw": figure(run.stdout, "Total leakage power of a bank (mW):")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacti", type=Path, default=None)
    args = ap.parse_args()
    cacti = args.cacti or default_cacti()
    cacti.chmod(cacti.stat().st_mode | stat.S_IXUSR)
    lines = [
        "# SRAM energy per access by capacity and access width, 45 nm, from CACTI 7.",
        "# Made by scripts/cacti_sram_table.py (CACTI 7 as shipped in zigzag-dse "
        "3.9.1, its example configuration",
        "# with one bank, direct-mapped scratch RAM, no ECC, 45 nm; ITRS-HP cells, 360 K). "
        "Columns: capacity in bytes,",
        "# access width in bits, dynamic read and write energy in pJ per access, "
        "standby leakage in mW.",
        "name: cacti7-sram-45nm",
        "node_nm: 45",
        "source: CACTI 7 (Balasubramonian et al., ACM TACO 2017), via zigzag-dse 3.9.1",
        "columns: [bytes, width_bits, read_pj, write_pj, leakage_mw]",
        "points:",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        total = len(CAPACITIES) * len(WIDTHS)
        for i, size in enumerate(CAPACITIES):
            for width in WIDTHS:
                if size * 8 < width * 16:  # fewer than 16 rows: not a real array
                    continue
                try:
                    e = run_cacti(cacti, size, width, Path(tmp))
                except (subprocess.CalledProcessError, KeyError, ValueError, IndexError) as err:
                    print(f"  {size} B x {width} b: CACTI found no organisation ({err})")
                    continue
                lines.append(f"  - [{size}, {width}, {e['read_pj']:.4g}, {e['write_pj']:.4g}, "
                             f"{e['leakage_mw']:.4g}]")
            print(f"{(i + 1) * len(WIDTHS)}/{total} configurations", flush=True)
    tmp_out = OUT.with_name(f".{OUT.name}.{os.getpid()}.tmp")
    tmp_out.write_text("\n".join(lines) + "\n")
    os.replace(tmp_out, OUT)
    print(f"wrote {OUT} ({len(lines) - 9} points)")


if __name__ == "__main__":
    main()

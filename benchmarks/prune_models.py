"""Accuracy (or fidelity) of the real models pruned to each pattern and sparsity.

    PYTHONPATH=src python benchmarks/prune_models.py --model digits-cnn --steps 300
    PYTHONPATH=src python benchmarks/prune_models.py --model minilm --steps 0,60

For each pattern and target sparsity the dense model is pruned with the model's gradual schedule
while fine-tuning ``steps`` steps (``0``: one-shot, no training) and evaluated. ``nm`` stands for
the N:M pattern with M in (4, 8) whose structural sparsity is nearest the target (2:4 at 50%,
1:4 at 70%, 1:8 at 90%). Results accumulate in a JSON file (reruns skip what is done) and print
as a markdown table with the sparsity actually reached.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from rich.progress import track

from sparsegrain import workloads
from sparsegrain.prune import PruneConfig

DEFAULT_PATTERNS = "unstructured,block:4x4,nm,gs:8:1,csp:8"


def nm_for(sparsity: float) -> str:
    """The N:M pattern with M in (4, 8) whose sparsity 1 - N/M is nearest ``sparsity``."""
    options = [(abs(1 - n / m - sparsity), m, n) for m in (4, 8) for n in range(1, m)]
    _, m, n = min(options)
    return f"nm:{n}:{m}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="digits-cnn")
    ap.add_argument("--patterns", default=DEFAULT_PATTERNS)
    ap.add_argument("--sparsity", default="0.5,0.7,0.9")
    ap.add_argument("--steps", default=None, help="fine-tuning steps, comma list (default: the model's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    ap.add_argument("--out", default="benchmarks/results/prune_models.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    spec = workloads.get(args.model)
    steps_list = [spec.finetune_steps] if args.steps is None else [int(s) for s in args.steps.split(",")]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.is_file() else {}

    def key(pat: str, s: float, steps: int) -> str:
        return f"{args.model}|{pat}|{s}|{steps}"

    dense_key = f"{args.model}|dense"
    if dense_key not in results:
        results[dense_key] = {"metrics": spec.evaluate(spec.load())}
    for steps in steps_list:
        # the dense model fine-tuned as long, without pruning: what the fine-tuning alone brings
        if steps > 0 and f"{dense_key}|{steps}" not in results:
            model = spec.load()
            spec.finetune(model, steps)
            results[f"{dense_key}|{steps}"] = {"metrics": spec.evaluate(model)}
    jobs = [
        (p, float(s), st)
        for st in steps_list
        for p in args.patterns.split(",")
        for s in args.sparsity.split(",")
    ]
    for pat, s, steps in track(jobs, description=f"pruning {args.model}"):
        pat = nm_for(s) if pat == "nm" else pat
        k = key(pat, s, steps)
        if k in results:
            continue
        t0 = time.perf_counter()
        model = spec.load()
        try:
            cfg = PruneConfig(pattern=pat, sparsity=s, schedule=spec.schedule(steps or 1))
            r = spec.prune(model, cfg, steps=steps)
            results[k] = {
                "metrics": spec.evaluate(model),
                "sparsity": r.overall_sparsity,
                "seconds": time.perf_counter() - t0,
            }
        except ValueError as e:
            results[k] = {"error": str(e)}
        out.write_text(json.dumps(results, indent=1))
    out.write_text(json.dumps(results, indent=1))
    print_table(results, args.model, spec.metric, steps_list)


def print_table(results: dict, model: str, metric: str, steps_list: list[int]) -> None:
    """Markdown: one row per (steps, pattern), one column per target sparsity."""
    dense = results[f"{model}|dense"]["metrics"]
    print(f"\n{model}: dense " + ", ".join(f"{k} {v:.4f}" for k, v in dense.items()))
    for steps in steps_list:
        tuned = results.get(f"{model}|dense|{steps}")
        if tuned:
            print(f"{model}: dense fine-tuned {steps} steps " + ", ".join(f"{k} {v:.4f}" for k, v in tuned["metrics"].items()))
    rows: dict[tuple[int, str], dict[float, dict]] = {}
    for k, v in results.items():
        parts = k.split("|")
        if parts[0] != model or len(parts) != 4 or int(parts[3]) not in steps_list:
            continue
        base = "nm" if parts[1].startswith("nm:") else parts[1]
        rows.setdefault((int(parts[3]), base), {})[float(parts[2])] = {"pattern": parts[1], **v}
    sps = sorted({s for r in rows.values() for s in r})
    print("\n| steps | pattern | " + " | ".join(f"{s:.0%}" for s in sps) + " |")
    print("|---|---|" + "---|" * len(sps))
    for (steps, base), r in sorted(rows.items()):
        cells = []
        for s in sps:
            v = r.get(s)
            if v is None:
                cells.append("")
            elif "error" in v:
                cells.append("n/a")
            else:
                others = ", ".join(f"{k} {x:.3f}" for k, x in list(v["metrics"].items())[1:])
                name = f"{v['pattern']} " if base == "nm" else ""
                cells.append(f"{name}{v['metrics'][metric]:.3f} ({others}; s={v['sparsity']:.3f})")
        print(f"| {steps} | {base} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

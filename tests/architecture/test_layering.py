"""The package is layered: stage libraries never import the applications built on them.

Read from the source with ``ast``, so that an import inside a function counts as much as one at
the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "sparsegrain"
#: what may be imported by everything
CORE = ("core",)
#: the pipeline's stage libraries, lowest first
STAGES = ("patterns", "formats", "kernels", "deploy", "hardware", "prune")
#: the stages each stage may build on (what may be nonzero < how it is stored < how it is
#: multiplied < models that run it, and the machines and the pruner beside)
BELOW = {
    "patterns": set(),
    "formats": {"patterns"},
    "kernels": {"patterns", "formats"},
    "deploy": {"patterns", "formats", "kernels"},
    "hardware": {"patterns", "formats"},
    "prune": {"patterns"},
}
#: applications: they sit above every stage
APPLICATIONS = ("workloads", "experiments", "studies", "benchmarking", "report", "api", "cli",
                "__main__")


def imported(path: Path) -> set[str]:
    """Top-level subpackages of sparsegrain a module imports ("" for the package root)."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    here = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "sparsegrain":
                    out.add(parts[1] if len(parts) > 1 else "")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "sparsegrain":
                    continue
                target = parts[1:]
            else:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                if node.level - 1 > len(here):
                    raise AssertionError(f"{path}: relative import above the package")
                target = [*base, *((node.module or "").split(".") if node.module else [])]
            if target:
                out.add(target[0])
            else:  # ``from .. import x`` at the root: x may itself be a subpackage
                out |= {a.name if (PACKAGE / a.name).exists() or (PACKAGE / f"{a.name}.py").exists()
                        else "" for a in node.names}
    return out


def modules(top: str) -> list[Path]:
    p = PACKAGE / top
    return sorted(p.rglob("*.py")) if p.is_dir() else [PACKAGE / f"{top}.py"]


def test_every_subpackage_is_placed_in_a_layer():
    tops = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert tops - {"__init__"} == set(CORE + STAGES + APPLICATIONS)


@pytest.mark.parametrize("stage", STAGES + CORE)
def test_stage_libraries_import_no_application(stage):
    forbidden = set(APPLICATIONS) | {""}
    if stage in CORE:
        forbidden |= set(STAGES)
    bad = {str(m.relative_to(PACKAGE)): sorted(imported(m) & forbidden) for m in modules(stage)}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"{stage} imports above itself: {bad}"


@pytest.mark.parametrize("stage", STAGES)
def test_stages_build_only_on_lower_stages(stage):
    used = set().union(*(imported(m) for m in modules(stage))) & set(STAGES)
    extra = sorted(used - {stage} - BELOW[stage])
    assert not extra, f"{stage} imports {extra}"


def test_the_checker_sees_relative_and_absolute_imports(tmp_path):
    # the rule above is only as good as the import reader: check it on the modules it must flag
    assert "workloads" in imported(PACKAGE / "cli.py")
    assert "patterns" in imported(PACKAGE / "formats" / "base.py")
    assert "core" in imported(PACKAGE / "patterns" / "registry.py")


def module_imports(path: Path) -> set[str]:
    """Modules of the same folder that a module imports (by module name), at any depth."""
    here = path.parent
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out |= {a.name for a in node.names}
    return {m for m in out if (here / f"{m}.py").exists() and m != path.stem}


#: pairs of modules of one folder allowed to import each other, with the reason
MUTUAL: dict[frozenset[str], str] = {
    frozenset(("formats/base", "formats/serial")):
        "Encoded.to_bytes / from_bytes are the wire form's entry points on the class; serial "
        "reads the registry of the classes it rebuilds (imported inside the methods)",
    frozenset(("workloads/models", "workloads/workload")):
        "load_workload resolves built-in names to the models registered on Workload's module "
        "(imported inside the function); the models build Workloads",
}


def test_no_two_modules_of_a_folder_import_each_other():
    pairs = set()
    for folder in {p.parent for p in PACKAGE.rglob("*.py")}:
        graph = {p.stem: module_imports(p) for p in folder.glob("*.py")}
        pairs |= {frozenset((str(folder.relative_to(PACKAGE) / a), str(folder.relative_to(PACKAGE) / b)))
                  for a, used in graph.items() for b in used if a in graph.get(b, set())}
    assert pairs <= set(MUTUAL), sorted(tuple(sorted(p)) for p in pairs - set(MUTUAL))

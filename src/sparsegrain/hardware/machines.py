"""Machines as data: a named configuration of a built-in accelerator model, from a YAML file or
from the text a user types, with grids of parameters expanded into one machine each.

A machine file::

    name: gs-16-lanes            # the column the sweep and the report show (default: file stem)
    model: gs                    # a built-in model (sparsegrain simulate --help lists them)
    description: GS engine with 16 lanes and a 64K-element scratchpad
    params:                      # the model's constructor parameters; a list is a sweep axis
      lanes: [8, 16]
      spm_elems: 65536
    energy: horowitz_45nm        # a shipped energy table or a YAML file beside this one

Typed, a machine is a model name with optional parameters, ``;`` between parameters and ``,``
between the values of an axis: ``gs(lanes=8,16;spm_elems=65536)``. Every field is checked
against the model's constructor (its parameter names, their annotated types, finite values
>= 0), and each error is one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import inspect
import itertools
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import (
    ACCELERATORS,
    LAYER_PARAMS,
    Accelerator,
    EnergyTable,
    SimResult,
    build,
    shipped_tables,
)
from .layers import Layer

#: the keys a machine file may hold
FILE_KEYS = ("name", "model", "description", "params", "energy")
#: files a machine is read from
SUFFIXES = (".yaml", ".yml")
_TYPED = re.compile(r"^([a-z][a-z0-9_]*)(?:\((.*)\))?$", re.S)


@dataclass(frozen=True)
class Machine:
    """One accelerator configuration: the column ``name``, the built-in ``model`` and its
    constructor ``params``; ``energy`` a shipped table's name or a file path (None: the
    default table)."""

    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    energy: str | None = None
    description: str = ""

    def build(self) -> Accelerator:
        """The model built with this machine's parameters."""
        return build(self.model, **self.params)

    def table(self) -> EnergyTable:
        """The energy table this machine's actions are priced with."""
        return EnergyTable.load(self.energy)


def is_machine_file(text: str) -> bool:
    """Does ``text`` name a machine file (by its suffix) rather than a typed machine?"""
    return text.strip().lower().endswith(SUFFIXES)


def is_model_name(text: str) -> bool:
    """Is ``text`` a bare model name: no parameters and no file?"""
    return "(" not in text and not is_machine_file(text)


def machines(spec: str) -> list[Machine]:
    """The machines ``spec`` describes: a built-in model name, a typed machine with parameters
    (``gs(lanes=8,16)``) or a machine file, each grid expanded."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a machine is a model name, MODEL(key=value;...) or a .yaml file, "
                         f"got {spec!r}")
    spec = spec.strip()
    if is_machine_file(spec):
        return load_machines(spec)
    if is_model_name(spec):  # the registry's own error for an unknown name
        return [Machine(spec, ACCELERATORS.lookup(spec).name)]
    found = _TYPED.match(spec)
    if found is None:
        raise ValueError(f"machine {spec!r} is not MODEL or MODEL(key=value;key=v1,v2); models: "
                         f"{', '.join(ACCELERATORS)}")
    model, body = found.group(1), found.group(2)
    params: dict[str, Any] = {}
    for item in (body or "").split(";"):
        if not item.strip():
            continue
        key, eq, values = item.partition("=")
        if not eq or not key.strip() or not values.strip():
            raise ValueError(f"machine {spec!r}: {item.strip()!r} is not key=value (values of an "
                             "axis separated by ',', parameters by ';')")
        if "=" in values:
            raise ValueError(f"machine {spec!r}: {item.strip()!r} holds two '='; separate "
                             "parameters with ';' (',' separates the values of one axis)")
        parsed = [_scalar(v.strip()) for v in values.split(",")]
        params[key.strip()] = parsed if len(parsed) > 1 else parsed[0]
    return expand(model, None, params, None, "", f"machine {spec!r}")


def one_machine(spec: str | Machine) -> Machine:
    """The single machine ``spec`` describes (a grid is refused: pick one value an axis)."""
    if isinstance(spec, Machine):
        return spec
    found = machines(spec)
    if len(found) != 1:
        raise ValueError(f"{spec!r} describes {len(found)} machines (a grid): "
                         f"{', '.join(m.name for m in found)}; give one value per parameter")
    return found[0]


def load_machines(path: str | Path) -> list[Machine]:
    """The machines of a machine file (several where its parameters hold a grid)."""
    import yaml

    path = Path(path)
    where = f"machine file {path}"
    if not path.is_file():
        raise ValueError(f"{where}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{where}: not valid YAML ({first})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be a mapping with keys {', '.join(FILE_KEYS)}, got "
                         f"{type(data).__name__}")
    unknown = [str(k) for k in data if k not in FILE_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(FILE_KEYS)}")
    if "model" not in data:
        raise ValueError(f"{where}: 'model' is missing; one of {', '.join(ACCELERATORS)}")
    for key in ("name", "model", "description", "energy"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{where}: '{key}' must be text, got {type(data[key]).__name__}")
    name = data.get("name", path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}", name):
        raise ValueError(f"{where}: 'name' {name!r} must be 1-64 letters, digits or _ . + - "
                         "(it names a column)")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError(f"{where}: 'params' must be a mapping of parameter: value, got "
                         f"{type(params).__name__}")
    energy = data.get("energy")
    if energy is not None:
        energy = _energy(energy, path, where)
    return expand(data["model"], name, params, energy, data.get("description", ""), where)


def expand(model: str, name: str | None, params: dict[str, Any], energy: str | None,
           description: str, where: str) -> list[Machine]:
    """Every machine of the grid ``params`` (a list value is an axis), each parameter checked
    against ``model``'s constructor and the machine built once to let it check its own
    ranges. A file's machine is called ``name`` and its grid points ``name(axis=value,...)``;
    a typed one ``model(key=value,...)`` with all its parameters, or ``model`` alone."""
    if model not in ACCELERATORS:
        raise ValueError(f"{where}: unknown model {model!r}; one of {', '.join(ACCELERATORS)}")
    kinds = parameter_types(model)
    checked: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str) or key not in kinds:
            raise ValueError(f"{where}: model {model} has no parameter {key!r}; it takes: "
                             f"{', '.join(kinds)}")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"{where}: params.{key} is an empty list; give at least one value")
        values = [_number(kinds[key], v) for v in values]
        for v in values:
            _check_value(where, key, v, kinds[key])
        checked[key] = values if isinstance(value, list) else values[0]
    params = checked
    axes = {k: v for k, v in params.items() if isinstance(v, list) and len(v) > 1}
    fixed = {k: (v[0] if isinstance(v, list) else v) for k, v in params.items() if k not in axes}
    out = []
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo))
        chosen = {k: point[k] if k in point else fixed[k] for k in params}
        shown = point if name is not None else chosen
        label = ",".join(f"{k}={_text(v)}" for k, v in shown.items())
        base = model if name is None else name
        column = f"{base}({label})" if label else base
        machine = Machine(column, model, chosen, energy, description)
        if chosen:  # the model's own checks of the values given (its defaults hold)
            try:
                machine.build()
            except (ValueError, TypeError) as e:
                raise ValueError(f"{where}: {column}: {e}") from None
        out.append(machine)
    return out


def parameter_types(model: str) -> dict[str, Any]:
    """Each constructor parameter of ``model`` with the type it is annotated with."""
    cls = ACCELERATORS[model]
    hints = typing.get_type_hints(cls.__init__)
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    return {p: hints.get(p, object) for p in names}


def _accepts(kind: Any, value: Any) -> bool:
    """Is ``value`` (as YAML or typed text gives it) of the annotated ``kind``: ints count as
    floats, a union takes any of its members, an unannotated parameter any plain scalar."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return any(_accepts(k, value) for k in typing.get_args(kind))
    checks = {bool: lambda v: isinstance(v, bool),
              int: lambda v: isinstance(v, int) and not isinstance(v, bool),
              float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              str: lambda v: isinstance(v, str), type(None): lambda v: v is None}
    return checks.get(kind, lambda v: isinstance(v, (int, float, str, bool)))(value)


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(k) for k in typing.get_args(kind))
    return "null" if kind is type(None) else getattr(kind, "__name__", "a plain value")


def _number(kind: Any, value: Any) -> Any:
    """A text value read as a number where the parameter takes floats: YAML reads ``1.0e9``
    (no sign after the e) as text."""
    if isinstance(value, str) and _accepts(kind, 1.5) and not _accepts(kind, value):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check_value(where: str, key: str, value: Any, kind: Any) -> None:
    """A one-line error unless ``value`` is of ``kind`` (:func:`_accepts`) and, being a number,
    finite and >= 0."""
    if not _accepts(kind, value):
        raise ValueError(f"{where}: params.{key} must be {_type_name(kind)}, got {value!r} "
                         f"({type(value).__name__})")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            not math.isfinite(value) or value < 0):
        raise ValueError(f"{where}: params.{key} = {value!r} is out of range: a finite number >= 0")


def _energy(energy: str, path: Path, where: str) -> str:
    """A shipped table's name, or a table file (relative to the machine file) that loads."""
    if energy in shipped_tables():
        return energy
    table = (path.parent / energy) if not Path(energy).is_absolute() else Path(energy)
    try:
        EnergyTable.load(table)
    except (ValueError, OSError) as e:
        raise ValueError(f"{where}: energy {energy!r} is neither a shipped table "
                         f"({', '.join(shipped_tables())}) nor a table file that loads ({e})") from None
    return str(table)


def _scalar(text: str) -> Any:
    """A typed value: an integer, a number, true/false, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def simulate(
    accel: Any,
    weights_or_encoded: Any,
    activations: Any = None,
    energy_table: str | Path | EnergyTable | None = None,
    memory: str = "sized",
    **params: Any,
) -> SimResult:
    """Run layer ``weights_or_encoded`` with ``activations`` on accelerator ``accel``, priced.

    ``accel`` is a model name, a typed machine (``gs(lanes=16)``), a machine file (``.yaml``)
    or a :class:`Machine`. ``params`` are the layer's (``stride``,
    ``padding``, ``input_size``, ``act_density``, ``seed``, ``mask``, ``kind``; see
    :class:`Layer`) and the machine's (e.g. ``n_pe=64, fifo_depth=8`` for ``eie``), over the
    machine's own. ``memory`` (sized, flat) says how buffer accesses are priced
    (:mod:`.storage`); ``energy_table`` replaces the machine's table.
    """
    layer_params = {k: params.pop(k) for k in LAYER_PARAMS if k in params}
    machine = one_machine(accel)
    model = build(machine.model, **{**machine.params, **params})
    table = (energy_table if isinstance(energy_table, EnergyTable)
             else machine.table() if energy_table is None else EnergyTable.load(energy_table))
    layer = Layer(weights_or_encoded, activations, **layer_params)
    return model.run(layer).priced(table, memory)

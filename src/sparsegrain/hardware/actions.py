"""The action vocabulary every machine model counts in and every energy table prices.

An :class:`Action` is (component, operation, width): ``Action("sram", "read")`` is a 32-bit word
read from an SRAM, ``Action("int", "mul", 16)`` a 16-bit integer multiply. It is spelled as its
energy-table key (``"sram_read"``, ``"int16_mul"``) and *is* that string, so results stay plain
JSON; :meth:`Action.parse` reads a key back and refuses anything outside the vocabulary. The
energy group of an action (:data:`GROUPS`) follows from its component, never from its spelling.
"""

from __future__ import annotations

import yaml

#: memory components; their counts are 32-bit words accessed (an access of w bits is w / 32)
MEMORIES: tuple[str, ...] = ("dram", "sram", "rf")
#: arithmetic components (operand type) and the widths an energy table may price
ARITHMETIC: dict[str, tuple[int, ...]] = {"int": (8, 16, 32), "fp": (16, 32)}
#: operations of each kind of component
MEMORY_OPS, ARITHMETIC_OPS, CONTROL_OPS = ("read", "write"), ("add", "mul"), ("compare", "select")
#: energy groups, in report order: DRAM, SRAM, register files, compute, control
GROUPS: tuple[str, ...] = ("dram", "sram", "rf", "compute", "control")


class Action(str):
    """One action of the vocabulary; equal to (and hashed as) its energy-table key."""

    component: str
    op: str
    width: int

    def __new__(cls, component: str, op: str, width: int = 32) -> Action:
        if component in MEMORIES:
            if op not in MEMORY_OPS or width != 32:
                raise ValueError(f"a {component} action is read or write, counted in 32-bit words")
            key = f"{component}_{op}"
        elif component in ARITHMETIC:
            if op not in ARITHMETIC_OPS or width not in ARITHMETIC[component]:
                raise ValueError(
                    f"an {component} action is {' or '.join(ARITHMETIC_OPS)} at a width of "
                    f"{', '.join(map(str, ARITHMETIC[component]))} bits, got {op} at {width}"
                )
            key = f"{component}{width}_{op}"
        elif component == "control":
            if op not in CONTROL_OPS:
                raise ValueError(f"a control action is one of {', '.join(CONTROL_OPS)}, got {op!r}")
            key = f"control{width}_{op}"
        else:
            raise ValueError(
                f"unknown component {component!r}; valid: "
                f"{', '.join([*MEMORIES, *ARITHMETIC, 'control'])}"
            )
        self = super().__new__(cls, key)
        self.component, self.op, self.width = component, op, int(width)
        return self

    def __reduce__(self) -> tuple:
        return Action, (self.component, self.op, self.width)

    @classmethod
    def parse(cls, key: str) -> Action:
        """The action an energy-table key names, or a ValueError listing the vocabulary."""
        if isinstance(key, Action):
            return key
        head, _, op = str(key).partition("_")
        parts: tuple | None = (head, op) if head in MEMORIES else None
        for component in (*ARITHMETIC, "control"):
            width = head[len(component):]
            if parts is None and head.startswith(component) and width.isdigit():
                parts = (component, op, int(width))
        try:
            if parts is not None:
                return cls(*parts)
        except ValueError:
            pass
        raise ValueError(f"{key!r} is not an action; valid: {vocabulary()}")

    @property
    def group(self) -> str:
        """The energy group: ``dram``, ``sram``, ``rf``, ``compute`` or ``control``."""
        if self.component in MEMORIES:
            return self.component
        return "compute" if self.component in ARITHMETIC else "control"


# an Action is written as the plain string it is (energy tables and results dumped as YAML)
yaml.SafeDumper.add_representer(Action, yaml.representer.SafeRepresenter.represent_str)


def vocabulary() -> str:
    """Every action form, for error messages."""
    memories = [f"{m}_{op}" for m in MEMORIES for op in MEMORY_OPS]
    arithmetic = [f"{c}{{{','.join(map(str, w))}}}_{{{','.join(ARITHMETIC_OPS)}}}"
                  for c, w in ARITHMETIC.items()]
    return ", ".join([*memories, *arithmetic, f"controlW_{{{','.join(CONTROL_OPS)}}}"])


DRAM_READ, DRAM_WRITE = Action("dram", "read"), Action("dram", "write")
SRAM_READ, SRAM_WRITE = Action("sram", "read"), Action("sram", "write")
RF_READ, RF_WRITE = Action("rf", "read"), Action("rf", "write")
INT8_ADD, INT16_ADD, INT32_ADD = (Action("int", "add", w) for w in (8, 16, 32))
INT16_MUL = Action("int", "mul", 16)
FP16_ADD, FP16_MUL = Action("fp", "add", 16), Action("fp", "mul", 16)


def energy_by_group(energy_by_action: dict[str, float]) -> dict[str, float]:
    """Energy summed by group (every group present, in :data:`GROUPS` order)."""
    out = dict.fromkeys(GROUPS, 0.0)
    for key, pj in energy_by_action.items():
        out[Action.parse(key).group] += pj
    return out

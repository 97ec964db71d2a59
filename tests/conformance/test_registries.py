"""Every registry is one Registry: keys set on members, one error for unknown keys, no duplicates,
filled at import."""

from __future__ import annotations

import pytest

from sparsegrain.core.registry import Registry
from sparsegrain.formats import FORMATS
from sparsegrain.hardware import ACCELERATORS
from sparsegrain.kernels import KERNELS
from sparsegrain.patterns import PATTERNS
from sparsegrain.prune import SCHEDULES
from sparsegrain.studies import STUDIES
from sparsegrain.workloads import MODELS

REGISTRIES = [PATTERNS, FORMATS, KERNELS, ACCELERATORS, MODELS, SCHEDULES, STUDIES]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.what)
def test_registry_is_filled_at_import_and_keys_its_members(registry):
    assert isinstance(registry, Registry) and len(registry) > 0
    for key, member in registry.items():
        assert key == key.strip().lower()
        if registry.attr is not None:
            assert getattr(member, registry.attr) == key


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.what)
def test_unknown_keys_and_duplicates_are_refused_with_the_valid_keys(registry):
    first = next(iter(registry))
    with pytest.raises(ValueError, match=f"unknown {registry.what} 'nope'; valid: .*{first}"):
        registry.lookup("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(first)(object())
    assert registry.lookup(first) is registry[first]


def test_a_new_member_registers_once():
    reg: Registry[type] = Registry("widget", attr="kind")

    @reg.register("w1")
    class W1:
        pass

    assert W1.kind == "w1" and reg.lookup("w1") is W1 and reg.valid() == "w1"
    with pytest.raises(ValueError, match="lower-case"):
        reg.register("W2")

"""Conformance of every registered accelerator: it runs an FC and a conv layer of the pattern it
is built for (or declines with a reason, and then refuses to run), counts only actions of the
vocabulary, prices every one, and computes the layer's outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparsegrain.hardware import ACCELERATORS, EnergyTable, Layer, Unsupported
from sparsegrain.hardware.actions import GROUPS, Action

from .members import native, weight

CASES = {
    "fc": ((64, 96), (96,), {}),
    "conv": ((32, 16, 3, 3), (16, 8, 8), {"padding": 1}),
}


@pytest.mark.parametrize("accel", list(ACCELERATORS))
def test_accelerator_member(accel):
    """On an FC and a conv layer of its own pattern: each run is checked, a decline must come
    with a reason, and the machine must run at least one of the two (a member that declined
    everything would pass nothing else)."""
    cls = ACCELERATORS[accel]
    assert cls.summary
    spec, params = native(cls.for_pattern)
    machine = cls(**params)
    ran = []
    for kind, (w_shape, x_shape, geometry) in CASES.items():
        w = weight(w_shape)
        w = w * spec.mask(w, 0.7)
        x = torch.relu(weight(x_shape, seed=1))
        layer = Layer(w, x, **geometry)
        reason = machine.declines(layer)
        if reason is not None:
            assert isinstance(reason, str) and reason
            with pytest.raises(Unsupported, match="cannot run this layer"):
                machine.run(layer)
            continue
        ran.append(kind)
        r = machine.run(layer).priced(EnergyTable.load())
        assert r.cycles > 0 and 0 < r.utilization <= 1
        assert r.actions and all(isinstance(a, Action) and n >= 0 for a, n in r.actions.items())
        assert set(r.energy_by_action) == set(r.actions)
        assert set(r.energy_by_group()) == set(GROUPS)
        assert sum(r.energy_by_group().values()) == pytest.approx(r.energy_pj)
        if r.outputs is not None and cls.exact_outputs:
            ref = layer.prepare().reference()
            np.testing.assert_allclose(np.asarray(r.outputs, dtype=np.float64), ref, rtol=1e-4,
                                       atol=1e-4)
    assert ran, f"{accel} declined every layer of its own pattern {spec.spec}"


@pytest.mark.parametrize("accel", list(ACCELERATORS))
def test_a_layer_it_is_not_built_for_is_declined_or_run(accel):
    machine = ACCELERATORS[accel]()
    w = weight((64, 96))
    layer = Layer(w * (torch.rand(64, 96, generator=torch.Generator().manual_seed(2)) < 0.3),
                  torch.relu(weight((96,), seed=3)))
    reason = machine.declines(layer)
    if reason is None:
        assert machine.run(layer).cycles > 0
    else:
        with pytest.raises(Unsupported, match="cannot run this layer"):
            machine.run(layer)

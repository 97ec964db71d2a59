import pytest

import sparsegrain as sg
from sparsegrain.patterns import PATTERNS


@pytest.mark.parametrize(
    "spec", ["unstructured", "vector", "vector:axis=-2", "kernel", "filter", "channel",
             "block:4x4", "nm:2:4", "filter:norm=l2"]
)
def test_canonical_string_round_trips(spec):
    p = sg.pattern(spec)
    assert p.spec == spec
    assert sg.pattern(p.spec) == p


@pytest.mark.parametrize("bad", ["", "foo", "nm:2", "nm:5:4", "block:4", "block:0x4", "vector:axis=3",
                                 "filter:norm=l7", "unstructured:3"])
def test_bad_strings_list_valid_forms(bad):
    with pytest.raises(ValueError) as e:
        sg.pattern(bad)
    assert "nm:N:M" in str(e.value) or "forms" in str(e.value)


def test_every_registered_pattern_has_a_summary():
    for kind, cls in PATTERNS.items():
        assert cls.summary and cls.forms, kind


@pytest.mark.parametrize(
    "spec", ["bank:4", "pebalanced:64", "pebalanced:8:balance=layer", "csp:8", "csp:4:norm=max"]
)
def test_balanced_and_cascading_strings_round_trip(spec):
    assert sg.pattern(spec).spec == spec


@pytest.mark.parametrize("bad", ["bank", "bank:0", "pebalanced:4:balance=row", "csp", "csp:0"])
def test_bad_balanced_and_cascading_strings(bad):
    with pytest.raises(ValueError, match="forms for"):
        sg.pattern(bad)

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

"""The memory a loader may allocate: the machine's available memory, capped by the room left
under a cgroup limit (a container's), read from cgroup v2 or v1 files."""

from __future__ import annotations

import pytest

from sparsegrain.core import arrays


def _write(root, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


@pytest.mark.parametrize("files, room", [
    ({"memory.max": "1000000\n", "memory.current": "400000\n",
      "memory.stat": "anon 300000\ninactive_file 50000\nactive_file 10\n"}, 650000),
    ({"memory.max": "max\n", "memory.current": "400000\n"}, None),
    ({"memory/memory.limit_in_bytes": "2000000\n", "memory/memory.usage_in_bytes": "500000\n",
      "memory/memory.stat": "cache 9\ntotal_inactive_file 100\n"}, 1500100),
    ({"memory/memory.limit_in_bytes": "9223372036854771712\n",
      "memory/memory.usage_in_bytes": "5\n"}, None),
    ({"memory.max": "1000\n", "memory.current": "5000\n"}, 0),
    ({"memory.max": "garbage\n", "memory.current": "5\n"}, None),
    ({}, None),
])
def test_cgroup_room_reads_v2_and_v1_limits(tmp_path, files, room):
    assert arrays.cgroup_room(_write(tmp_path, files)) == room


def test_available_memory_is_capped_by_the_cgroup(monkeypatch):
    monkeypatch.setattr(arrays, "_machine_available", lambda: 8 * 2**30)
    monkeypatch.setattr(arrays, "cgroup_room", lambda: 2**30)
    assert arrays.available_memory() == 2**30
    monkeypatch.setattr(arrays, "cgroup_room", lambda: None)
    assert arrays.available_memory() == 8 * 2**30

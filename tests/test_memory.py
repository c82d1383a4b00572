"""The entry points' huge-page malloc (voicechanger.runtime.memory.with_huge_page_malloc), in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from voicechanger.runtime.memory import _huge_pages_help

pytestmark = pytest.mark.skipif(not _huge_pages_help(), reason="needs glibc >= 2.35 and transparent huge pages")

# What the re-executed process sees: its tunables, and how much of a 64 MB malloc (not numpy, which
# asks for huge pages itself) sits in huge pages.
PROBE = """
import ctypes, json, os, sys
from voicechanger.runtime.memory import with_huge_page_malloc
print("started", flush=True)
with_huge_page_malloc()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
size = 64 << 20
block = libc.malloc(size)
ctypes.memset(block, 1, size)
huge = sum(int(line.split()[1]) for line in open("/proc/self/smaps_rollup") if line.startswith("AnonHugePages"))
print(json.dumps({"tunables": os.environ.get("GLIBC_TUNABLES"), "huge_kb": huge, "argv": sys.argv[1:]}))
"""


def _probe(**env: str) -> tuple[dict, list[str]]:
    run_env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "VOICECHANGER_HUGE_PAGES")}
    done = subprocess.run([sys.executable, "-c", PROBE, "a b", "--x"], env={**run_env, **env},
                          capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    return json.loads(lines[-1]), lines[:-1]


def test_entry_point_reexecutes_once_with_huge_pages() -> None:
    seen, before = _probe()
    assert seen["tunables"] == "glibc.malloc.hugetlb=1"
    assert seen["argv"] == ["a b", "--x"]          # same arguments after the exec
    assert before == ["started", "started"]        # one re-execution, not a loop
    assert seen["huge_kb"] >= 32 * 1024            # most of the 64 MB block in 2 MB pages


def test_tunables_already_set_are_kept_and_it_can_be_turned_off() -> None:
    seen, _ = _probe(GLIBC_TUNABLES="glibc.malloc.arena_max=2")
    assert seen["tunables"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    off, before = _probe(VOICECHANGER_HUGE_PAGES="0")
    assert off["tunables"] is None and before == ["started"]
    assert off["huge_kb"] < 32 * 1024             # plain malloc: 4 KB pages

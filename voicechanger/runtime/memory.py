"""glibc malloc settings that keep a long conversion's resident memory down (no-ops elsewhere).

Whisper, the stress model, Praat and numpy free hundreds of MB between chunks, but glibc keeps freed
pages in the arena of the thread that freed them, and gives every busy thread its own arena: memory
freed by the transcribing thread could not serve the voice thread, and the peaks of both added up.
Two arenas and a trim after each stage keep the peaks apart at no CPU cost; a fixed mmap threshold
would save a little more memory but costs CPU (ctranslate2's per-step buffers then fault in fresh pages).

Huge pages: ctranslate2 allocates its large buffers (an encoder batch's attention: ~70 MB a segment)
with posix_memalign, which glibc serves with a fresh mmap every time and unmaps on free, so Whisper
spends much of its system time in page faults. With glibc's tunable glibc.malloc.hugetlb=1 malloc asks
for transparent huge pages (madvise), 2 MB a fault. Tunables are read at process start only, so the
entry points re-execute themselves once with it set (``with_huge_page_malloc``).
The measurements behind both choices: benchmarks/README.md ("Design choices measured": memory.py).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from pathlib import Path

_M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_libc = _glibc()


def limit_arenas(count: int = 2) -> None:
    """Let threads share at most ``count`` malloc arenas from now on (set it before starting workers)."""
    if _libc is not None:
        _libc.mallopt(_M_ARENA_MAX, count)


def release_free_memory() -> None:
    """Return the pages malloc holds free, in every arena, to the system (malloc_trim; a few ms)."""
    if _libc is not None:
        _libc.malloc_trim(0)


HUGE_PAGES = "glibc.malloc.hugetlb=1"
_THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _huge_pages_help() -> bool:
    """glibc >= 2.35 (where the tunable exists) and transparent huge pages not turned off."""
    if _libc is None:
        return False
    try:
        major, minor = (int(part) for part in platform.libc_ver()[1].split(".")[:2])
        mode = _THP_MODE.read_text()
    except (ValueError, OSError):
        return False
    return (major, minor) >= (2, 35) and "[never]" not in mode


def with_huge_page_malloc() -> None:
    """Re-execute this process (same interpreter, same arguments) with GLIBC_TUNABLES asking malloc for
    transparent huge pages, keeping any tunables already set; returns at once where it is set already or
    does not apply. Call it first thing in an entry point: nothing before it runs twice but imports."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in tunables or os.environ.get("VOICECHANGER_HUGE_PAGES") == "0":
        return
    if not _huge_pages_help():
        return
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGES}" if tunables else HUGE_PAGES
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    except OSError:  # cannot exec (odd sandbox): run on without it
        if tunables:
            os.environ["GLIBC_TUNABLES"] = tunables
        else:
            del os.environ["GLIBC_TUNABLES"]

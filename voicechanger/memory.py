"""glibc malloc settings that keep a long conversion's resident memory down (no-ops elsewhere).

Whisper, the stress model, Praat and numpy free hundreds of MB between chunks, but glibc keeps freed
pages in the arena of the thread that freed them, and gives every busy thread its own arena: memory
freed by the transcribing thread could not serve the voice thread, and the peaks of both added up.
Measured on the 10-minute bench input (profile normal, python process peak RSS; CPU of the whole
conversion): 1518 MB by default; 1417 MB with two arenas; 1280 MB with two arenas and a trim after each
stage; CPU 185-189 s in all three. A fixed 128 KB mmap threshold gave 1242 MB but cost 12 % more CPU
(ctranslate2's per-step buffers then fault in fresh pages every time), a 1-4 MB one 5-6 %.
"""

from __future__ import annotations

import ctypes
import platform
import sys

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

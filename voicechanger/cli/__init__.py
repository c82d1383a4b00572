"""The `voice` command (entry.py calls main): convert a file or a folder, write a script to edit,
inspect the cache, list the voices. Each command is a module here; app.py holds what they share."""

from __future__ import annotations

import os
import sys
import time

from . import cache, convert, edit, studio, voice_list  # noqa: F401  (each registers its commands on the app)
from .app import app


def main() -> None:
    started = time.perf_counter()
    try:
        app()
    finally:
        if os.environ.get("VOICE_TIMING"):
            print(f"voice: {time.perf_counter() - started:.2f} s", file=sys.stderr)


__all__ = ["app", "main"]

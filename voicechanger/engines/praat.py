"""Praat (parselmouth) for the engines: the one place that imports it, and seeded overlap-add.

parselmouth.praat is a submodule made by a C extension; importing it from two threads at the same
moment failed ("cannot import name 'call' from 'parselmouth.praat'", 5 runs in 10 with two chunk
threads). Importing it here at module level lets Python's per-module import lock serialise that.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import parselmouth
from parselmouth.praat import call, run

__all__ = ["call", "parselmouth", "run", "seeded"]

_RANDOM = threading.Lock()  # Praat's random generator is process-wide
SEED = 20260101


@contextmanager
def seeded() -> Iterator[None]:
    """Run Praat's overlap-add commands with a fixed random seed, one thread at a time.

    Praat's PSOLA ("Get resynthesis (overlap-add)", "Lengthen (overlap-add)") draws random numbers:
    measured here, two runs on the same input differed by up to 0.5 in amplitude. The store expects a
    stage's output to be a function of its inputs, so every such call runs seeded.
    """
    with _RANDOM:
        run(f"random_initializeWithSeedUnsafelyButPredictably ({SEED})")
        yield

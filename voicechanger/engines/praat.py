"""Praat (parselmouth) helpers shared by the engines."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_RANDOM = threading.Lock()  # Praat's random generator is process-wide
SEED = 20260101


@contextmanager
def seeded() -> Iterator[None]:
    """Run Praat's overlap-add commands with a fixed random seed, one thread at a time.

    Praat's PSOLA ("Get resynthesis (overlap-add)", "Lengthen (overlap-add)") draws random numbers:
    measured here, two runs on the same input differed by up to 0.5 in amplitude. The store expects a
    stage's output to be a function of its inputs, so every such call runs seeded.
    """
    from parselmouth.praat import run

    with _RANDOM:
        run(f"random_initializeWithSeedUnsafelyButPredictably ({SEED})")
        yield

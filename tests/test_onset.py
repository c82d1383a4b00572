"""The phrase-start measure of the quality tests (speech.onset) on signals whose start is known."""

from __future__ import annotations

import numpy as np
import pytest

from speech import RATE, onset


def _signal(*parts: tuple[float | None, float]) -> np.ndarray:
    """Seeded noise pieces of (level in dB RMS, seconds); None is digital silence."""
    rng = np.random.default_rng(0)
    pieces = []
    for level, seconds in parts:
        n = int(round(seconds * RATE))
        pieces.append(np.zeros(n) if level is None else rng.standard_normal(n) * 10 ** (level / 20))
    return np.concatenate(pieces)


def test_a_weak_first_sound_before_a_closure_is_the_start() -> None:
    """"в конце" (fast talkers, 45.35 s): the previous phrase, a 0.13 s pause, a "в" 20 ms long and
    24 dB under the vowel, the "к"'s 40 ms closure; the window's floor is the pause's -60 dB."""
    audio = _signal((-15, 0.37), (-58, 0.06), (-92, 0.04), (-63, 0.03), (-36, 0.02), (-60, 0.04), (-12, 0.5))
    assert onset(audio, 0.53, not_before=0.45) == pytest.approx(0.50, abs=0.011)


def test_an_inaudible_fade_in_over_digital_silence_is_not_the_start() -> None:
    """60 ms rising from -85 to -55 dB before the speech at -12 dB: no listener hears it."""
    fade = [(level, 0.01) for level in np.linspace(-85, -55, 6)]
    audio = _signal((None, 0.5), *fade, (-12, 0.3), (None, 0.3))
    assert onset(audio, 0.55) == pytest.approx(0.56, abs=0.011)


def test_the_previous_phrases_tail_is_skipped() -> None:
    """The window opens in the previous phrase's speech, which stops 0.2 s before this one starts."""
    audio = _signal((-15, 1.0), (-70, 0.2), (-14, 0.5))
    assert onset(audio, 1.2, not_before=0.95) == pytest.approx(1.2, abs=0.011)


def test_speech_without_a_pause_has_no_start_to_measure() -> None:
    """A phrase boundary inside speech that goes on (gaps no longer than a closure) is not measured."""
    audio = _signal((-15, 0.8), (-50, 0.04), (-18, 0.5), (-50, 0.05), (-14, 0.6))
    assert onset(audio, 1.0, not_before=0.9) is None


def test_nothing_before_where_the_prompt_was_placed() -> None:
    """A burst of the previous prompt just before ``earliest`` is not this prompt's start."""
    audio = _signal((-70, 0.3), (-15, 0.05), (-70, 0.2), (-14, 0.5))
    assert onset(audio, 0.5, not_before=0.2) == pytest.approx(0.3, abs=0.011)
    assert onset(audio, 0.5, not_before=0.2, earliest=0.45) == pytest.approx(0.55, abs=0.011)

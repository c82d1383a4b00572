"""Round trip on real speech: what the new voice says, when, and with which intonation."""

from __future__ import annotations

import re

import numpy as np
import pytest
from roundtrip import phrases_of, start_offsets

from speech import RATE, decode, transcribe_text, wer

pytestmark = [pytest.mark.slow, pytest.mark.quality]


def _slices(audio: np.ndarray, spans) -> list[np.ndarray]:
    return [audio[int((a - 0.3) * RATE) : int((b + 0.3) * RATE)] for a, b in spans]


@pytest.fixture(scope="module")
def round_trip(quality_input, normal_result, fast_result) -> dict[str, tuple[float, float, int]]:
    """Per profile: (round-trip WER over the 17 QUALITY_PROMPTS, log-F0 r with the input, voiced frames
    compared).

    WER: the output transcribed again by Whisper base, against the input's transcript by the same
    deterministic referee, both sides with numbers spelled out."""
    from voicechanger.signal.analysis import log_f0_correlation

    source = decode(quality_input.path)
    references = [transcribe_text(src) for src in _slices(source, quality_input.spans)]
    figures = {}
    for name, result in (("normal", normal_result), ("fast", fast_result)):
        output = decode(result.output)
        errors = words = 0.0
        for prompt, reference, out in zip(quality_input.names, references, _slices(output, quality_input.spans)):
            hypothesis = transcribe_text(out)
            rate, count = wer(reference, hypothesis)
            errors, words = errors + rate * count, words + count
            print(f"{name} {prompt}: WER {rate:.2f} ({count} words)\n  in:  {reference}\n  out: {hypothesis}")
        corr, frames = log_f0_correlation(output, RATE, source, RATE)
        figures[name] = (errors / words, corr, frames)
        print(f"{name}: WER {errors / words:.3f} over {int(words)} words, log-F0 r = {corr:.3f} on {frames} frames")
    return figures


def test_intonation_follows_the_input(round_trip):
    """Normal profile: log-F0 of output vs input on frames voiced in both, r >= 0.9 (fast: timing only)."""
    _wer, corr, frames = round_trip["normal"]
    assert frames > 1000
    assert corr >= 0.9
    assert round_trip["fast"][1] < 0.5  # the fast profile leaves the voice's own intonation


def test_round_trip_wer_target(round_trip):
    """WER <= 0.30 over the 17 prompts (552 words), normal (pitch and loudness transfer on) and fast
    profiles. The measured figures are kept in one place: the README's "Quality" table."""
    assert round_trip["normal"][0] <= 0.30
    assert round_trip["fast"][0] <= 0.30


def test_timing_length_and_phrase_starts(quality_input, normal_result, session_store):
    """Output length = input length ± 50 ms; every phrase starts within 100 ms of the original's."""
    source, output = decode(quality_input.path), decode(normal_result.output)
    assert abs(len(output) - len(source)) / RATE <= 0.05
    offsets, misses = start_offsets(normal_result, session_store, source, output, quality_input.spans)
    print(f"{len(offsets)} phrases; |offset| median {np.median(np.abs(offsets)) * 1000:.0f} ms; "
          f"off by more than 100 ms: {misses}")
    assert len(offsets) >= len(quality_input.names)
    assert np.median(np.abs(offsets)) <= 0.05
    assert not misses


def test_text_for_the_voice_has_stress_marks_and_no_digits(normal_result, session_store):
    """basic-pbx-ivr-main says 1, 2, 3, 4, 0: the voice must get words with stress marks instead."""
    phrases = phrases_of(normal_result, session_store)
    said = " ".join(p["text"] for p in phrases)
    handed = " ".join(p["stressed"] for p in phrases)
    assert re.search(r"\d", said), "Whisper wrote no digits; the prompt set should contain numbers"
    assert not re.search(r"[0-9A-Za-z]", handed)
    words = [w for w in handed.split() if len(re.findall("[аеёиоуыэюя]", w)) > 1]
    marked = [w for w in words if "+" in w or "ё" in w]
    assert len(marked) / len(words) > 0.95
    assert "нажмите" in handed.replace("+", "")

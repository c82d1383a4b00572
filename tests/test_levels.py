"""Frame levels and fades (levels.py, fades.py): the measurements every stage shares, in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest

from voicechanger.signal import levels
from voicechanger.signal.fades import fade_edges, fade_in, fade_out
from voicechanger.signal.levels import SILENCE_DB, frame_db, frame_power, level_db, nonsilent_span, true_runs

RATE = 16000


def _tone(seconds: float, amplitude: float, hz: float = 200.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("win_s,hop_s", [(0.02, 0.02), (0.02, 0.01), (0.04, 0.01)])
def test_a_tone_reads_its_rms_level(win_s: float, hop_s: float) -> None:
    """A 200 Hz sine of amplitude 0.1 is -23 dB RMS in every whole 20 ms (4 periods) or 40 ms window."""
    times, db = frame_db(_tone(1.0, 0.1), RATE, win_s=win_s, hop_s=hop_s)
    assert len(db) == 1 + (RATE - round(win_s * RATE)) // round(hop_s * RATE)
    assert np.allclose(db, 20 * np.log10(0.1 / np.sqrt(2)), atol=0.01)
    assert times[0] == pytest.approx(win_s / 2) and np.allclose(np.diff(times), hop_s)


def test_silence_and_short_audio() -> None:
    """Digital silence reads -120 dB (not -inf); audio shorter than a window is one frame; none is none."""
    assert np.all(frame_db(np.zeros(RATE, dtype=np.float32), RATE)[1] == pytest.approx(-120.0))
    assert len(frame_db(_tone(0.005, 0.1), RATE)[1]) == 1
    assert len(frame_db(np.zeros(0, dtype=np.float32), RATE)[1]) == 0


def test_blocks_do_not_change_the_frames(monkeypatch, tmp_path) -> None:
    """A memory-mapped recording measured a block at a time gives, in float32, exactly the frames of
    the whole array at once (chunk cuts read them)."""
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(RATE * 3) * np.repeat(rng.uniform(0, 0.3, 30), RATE // 10)).astype(np.float32)
    whole = frame_power(audio, RATE, win_s=0.02, hop_s=0.02)
    path = tmp_path / "audio.f32"
    audio.tofile(path)
    monkeypatch.setattr(levels, "_BLOCK_SAMPLES", 1000)
    blocked = frame_power(np.memmap(path, dtype="<f4", mode="r"), RATE, win_s=0.02, hop_s=0.02)
    assert len(whole[1]) == 150 and blocked[1].dtype == np.float32
    assert np.array_equal(whole[0], blocked[0]) and np.array_equal(whole[1], blocked[1])


def test_level_db_tells_sound_from_silence() -> None:
    assert level_db(_tone(2.0, 0.1)) == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.01)
    assert level_db(_tone(2.0, 10 ** (-60 / 20) * np.sqrt(2))) < SILENCE_DB < level_db(_tone(2.0, 0.01))
    assert level_db(np.zeros(0, dtype=np.float32)) == pytest.approx(-120.0)


def test_nonsilent_span_finds_the_sound() -> None:
    audio = np.concatenate([np.zeros(RATE // 2), _tone(1.0, 0.2), np.zeros(RATE // 4)]).astype(np.float32)
    assert nonsilent_span(audio, RATE) == pytest.approx((0.5, 1.5))
    assert nonsilent_span(np.zeros(RATE, dtype=np.float32), RATE) == (0.0, 0.0)
    assert nonsilent_span(np.ones(10, dtype=np.float32), RATE) == (0.0, 0.0)  # under one 10 ms frame


def test_true_runs_lists_each_run_of_frames() -> None:
    assert true_runs(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool)) == [(0, 2), (4, 5), (6, 9)]
    assert true_runs(np.zeros(4, bool)) == [] and true_runs(np.zeros(0, bool)) == []


def test_fades_rise_and_fall_in_place() -> None:
    x = np.ones(100)
    fade_in(x, 10, at=20)
    fade_out(x, 10)
    assert x[20] == 0.0 and x[29] == pytest.approx(1.0) and np.all(np.diff(x[20:30]) > 0)
    assert x[90] == pytest.approx(1.0) and x[99] == pytest.approx(0.0) and np.all(np.diff(x[90:]) < 0)
    assert np.all(x[:20] == 1.0) and np.all(x[30:90] == 1.0)
    y = np.ones(5)
    fade_out(y, 10, at=3)  # fewer samples than asked before the start: only those fade
    assert y[0] == 1.0 and y[2] == pytest.approx(0.0) and np.all(y[3:] == 1.0)


def test_fade_edges_keeps_the_input_and_its_dtype() -> None:
    audio = np.ones(8, dtype=np.float32)
    faded = fade_edges(audio, 100)  # longer than half: each fade takes half
    assert np.all(audio == 1.0) and faded.dtype == np.float32
    assert faded[0] == 0.0 and faded[-1] == pytest.approx(0.0) and faded[3] == pytest.approx(1.0)
    assert np.array_equal(fade_edges(audio, 0), audio)

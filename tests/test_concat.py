"""concat works block by block: its output must equal, byte for byte, the whole-array definition (the
timeline built at once, normalised with pyloudnorm on the whole signal, encoded in one ffmpeg call),
whatever the block size."""

from __future__ import annotations

import subprocess

import numpy as np
import pyloudnorm
import pytest

from voicechanger.config import load_settings
from voicechanger.media.audio import encode_command
from voicechanger.signal.blockaudio import GAIN_STEP_DB, LoudnessMeter, loudness_gain
from voicechanger.stages import concat
from voicechanger.stages.base import Context
from voicechanger.store import Store

RATE = 16000


def _speechlike(rng: np.random.Generator, seconds: float, level: float) -> np.ndarray:
    n = int(seconds * RATE)
    envelope = 0.5 + 0.5 * np.sin(np.linspace(0, 6 * np.pi, n)) ** 2
    return (level * envelope * rng.standard_normal(n)).astype(np.float32)


def _inputs(store: Store, rng: np.random.Generator, seconds: float):
    """A decode artifact of ``seconds`` and two chunks of phrases: one overlapping its neighbour, one
    across the block edges of the tests, one running past the end."""
    decode = store.put("decode", "d" * 64, {"sample_rate": RATE, "duration": seconds})
    chunks = [[(0.30, 1.2), (1.0, 0.9), (2.5, 3.1)], [(6.2, 1.5), (seconds - 0.4, 1.0)]]
    prosodies = []
    for index, phrases in enumerate(chunks):
        audio = [_speechlike(rng, length, 0.05 + 0.2 * rng.random()) for _, length in phrases]
        meta = {"index": index, "sample_rate": RATE,
                "phrases": [{"start": start, "end": start + length, "length": len(a)}
                            for (start, length), a in zip(phrases, audio)]}
        prosodies.append(store.put("prosody", f"{index}" * 64, meta, arrays={"audio": np.concatenate(audio)}))
    return decode, prosodies


def _normalize_whole(audio: np.ndarray, target_lufs: float, peak_dbfs: float) -> tuple[np.ndarray, float]:
    """Gain to ``target_lufs`` measured by pyloudnorm on the whole signal, capped so the peak stays at
    ``peak_dbfs``; (audio, LUFS after the gain). Too short or silent: unchanged, -inf."""
    if audio.size < RATE // 2 or not np.any(audio):
        return audio, float("-inf")
    loudness = pyloudnorm.Meter(RATE).integrated_loudness(audio.astype(np.float64))
    if not np.isfinite(loudness):
        return audio, float("-inf")
    gain_db = target_lufs - loudness
    peak = float(np.max(np.abs(audio)))
    if peak > 0:
        gain_db = min(gain_db, peak_dbfs - 20 * np.log10(peak))
    gain_db = float(np.floor(gain_db / GAIN_STEP_DB + 1e-9) * GAIN_STEP_DB)  # on the grid (see blockaudio)
    return (audio * 10 ** (gain_db / 20)).astype(np.float32), float(loudness + gain_db)


def _whole(decode, prosodies, settings, target) -> float:
    """The definition: the whole timeline at once, normalised and encoded whole."""
    total = int(round(decode.meta["duration"] * RATE))
    fade = int(settings.output.crossfade_ms / 1000 * RATE)
    timeline = np.zeros(total, dtype=np.float32)
    for piece in concat.pieces(prosodies, RATE):
        audio = piece.faded(fade)
        end = min(total, piece.start + len(audio))
        if end > piece.start:
            timeline[piece.start : end] += audio[: end - piece.start]
    timeline, lufs = _normalize_whole(timeline, settings.output.loudness_lufs, settings.output.peak_dbfs)
    data = np.clip(timeline.astype("<f4"), -1.0, 1.0).tobytes()
    subprocess.run(encode_command(RATE, target, "wav"), input=data, capture_output=True, check=True)
    return lufs


@pytest.mark.parametrize("block", [1000, 6399, 40_000, 1 << 20])
def test_blockwise_concat_equals_the_whole_array_definition(tmp_path, monkeypatch, block):
    store = Store(tmp_path / "store")
    decode, prosodies = _inputs(store, np.random.default_rng(block), 9.3)
    settings = load_settings("normal", {})
    expected_lufs = _whole(decode, prosodies, settings, tmp_path / "whole.wav")
    monkeypatch.setattr(concat, "BLOCK", block)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = concat.run(Context([decode, *prosodies], settings, {"format": "wav"}, scratch))
    assert (scratch / out.meta["file"]).read_bytes() == (tmp_path / "whole.wav").read_bytes()
    assert out.meta["lufs"] == round(expected_lufs, 2)


@pytest.mark.parametrize("seconds, quiet", [(0.45, False), (3.0, False), (61.7, False), (5.0, True)])
def test_meter_equals_pyloudnorm(seconds, quiet):
    rng = np.random.default_rng(7)
    audio = _speechlike(rng, seconds, 1e-5 if quiet else 0.1)
    audio[: len(audio) // 3] = 0.0  # a silent stretch below the absolute gate
    meter = LoudnessMeter(RATE)
    for first in range(0, len(audio), 5000):
        meter.feed(audio[first : first + 5000])
    if len(audio) < RATE // 2:
        assert loudness_gain(meter, 1.0, False, -16.0, -1.0) == (None, float("-inf"))
        return
    assert meter.integrated() == pyloudnorm.Meter(RATE).integrated_loudness(audio.astype(np.float64))

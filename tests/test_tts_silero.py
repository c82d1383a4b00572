"""The Silero voice, through its real loading code, with a tiny stand-in model in torch.package form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voicechanger.engines.tts import (  # noqa: E402
    TTSError,
    get_voice,
    list_voices,
    silero,  # noqa: E402
    synthesize_to_fit,
)
from voicechanger.errors import VoiceError  # noqa: E402


@pytest.fixture(scope="module")
def model_file(silero_models: Path) -> Path:
    """models_dir/silero/v4_ru.pt holding the stand-in model under ("tts_models", "model")."""
    return silero_models / "silero" / "v4_ru.pt"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("VOICECHANGER_SILERO_MODEL", raising=False)
    monkeypatch.delenv("VOICECHANGER_OFFLINE", raising=False)


def test_loads_from_models_dir_and_synthesizes(model_file: Path):
    models_dir = model_file.parent.parent
    voice = get_voice("silero:xenia", models_dir=models_dir)
    assert voice.spec == "silero:xenia" and voice.sample_rate == 48000
    assert type(voice.model).__module__.startswith("<torch_package_")      # loaded through torch.package
    s = voice.synthesize(["прив+ет", "м+ир!"])
    assert s.sample_rate == 48000 and s.word_spans is None
    assert s.audio.dtype == np.float32 and s.audio.ndim == 1
    assert len(s.audio) == pytest.approx(len("привет мир!") * 0.05 * 48000, rel=0.01)
    assert 0.1 < np.abs(s.audio).max() <= 1.0
    call = voice.model.calls[-1]
    assert call["text"] == "прив+ет м+ир!" and call["ssml_text"] is None
    assert call["speaker"] == "xenia" and call["put_accent"] and call["put_yo"]
    assert get_voice("silero:xenia", models_dir=models_dir) is voice                # cached


def test_rate_goes_through_ssml(model_file: Path):
    voice = get_voice("silero:baya", models_dir=model_file.parent.parent)
    base = len(voice.synthesize(["пог+ода"]).audio)
    slow = voice.synthesize(["пог+ода"], rate=1.4)
    assert voice.model.calls[-1]["ssml_text"] == '<speak><prosody rate="slow">пог+ода</prosody></speak>'
    assert len(slow.audio) / base == pytest.approx(4 / 3, rel=0.02)
    fast = voice.synthesize(["пог+ода"], rate=0.6)
    assert 'rate="x-fast"' in voice.model.calls[-1]["ssml_text"]
    assert len(fast.audio) < base
    s, k = synthesize_to_fit(voice, ["пог+ода"], 2 * base / 48000)
    assert k == 1.6 and 'rate="slow"' in voice.model.calls[-1]["ssml_text"]


def test_rate_steps():
    assert silero.rate_step(1.0) == "medium"
    assert silero.rate_step(1.03) == "medium"
    assert silero.rate_step(2.5) == "x-slow"
    assert silero.rate_step(0.85) == "fast"
    assert silero.rate_step(0.5) == "x-fast"


def test_long_text_is_split_at_word_boundaries(model_file: Path):
    voice = get_voice("silero:aidar", models_dir=model_file.parent.parent)
    words = [f"сл+ово{'а' * (i % 7)}" for i in range(200)]          # ~2000 characters
    before = len(voice.model.calls)
    s = voice.synthesize(words)
    calls = voice.model.calls[before:]
    assert len(calls) >= 3
    assert all(len(c["text"]) <= silero.MAX_CHARS for c in calls)
    assert " ".join(c["text"] for c in calls) == " ".join(words)      # nothing lost, no word cut
    assert len(s.audio) == sum(len(c["text"].replace("+", "")) for c in calls) * int(0.05 * 48000)


def test_chunks():
    assert silero.chunks(["аа", "бб", "вв"], limit=5) == ["аа бб", "вв"]
    assert silero.chunks(["а" * 12], limit=5) == ["ааааа", "ааааа", "аа"]
    assert silero.chunks([], limit=5) == []


def test_env_var_names_the_model_file(model_file: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VOICECHANGER_SILERO_MODEL", str(model_file))
    voice = get_voice("silero:kseniya", models_dir=tmp_path)
    assert voice.model_path == model_file
    monkeypatch.setenv("VOICECHANGER_SILERO_MODEL", str(tmp_path / "nope.pt"))
    with pytest.raises(VoiceError, match="VOICECHANGER_SILERO_MODEL"):
        get_voice("silero:eugene", models_dir=tmp_path)


def test_list_voices_says_which_are_available(model_file: Path, tmp_path: Path):
    here = {i.spec: i for i in list_voices(model_file.parent.parent)}
    assert all(here[f"silero:{s}"].available for s in silero.SPEAKERS)
    empty = {i.spec: i for i in list_voices(tmp_path)}
    assert not empty["silero:xenia"].available
    assert "v4_ru.pt" in empty["silero:xenia"].detail and str(tmp_path) in empty["silero:xenia"].detail


def test_missing_model_offline_fails_fast_and_clearly(tmp_path: Path):
    with pytest.raises(VoiceError) as info:   # how fast: benchmarks.micro
        get_voice("silero:xenia", models_dir=tmp_path)
    message = str(info.value)
    assert "v4_ru.pt" in message and str(tmp_path / "silero") in message
    assert "festival:msu_ru_nsh" in message
    assert not list((tmp_path / "silero").glob("*.part"))              # nothing half-written left


def test_a_broken_model_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "silero").mkdir()
    (tmp_path / "silero" / "v5_ru.pt").write_bytes(b"not a zip")
    with pytest.raises(VoiceError, match=r"v5_ru\.pt could not be loaded.*delete it"):
        get_voice("silero:xenia", models_dir=tmp_path)


def test_unknown_speaker_and_unsayable_text(model_file: Path):
    with pytest.raises(VoiceError, match=r"unknown voice 'silero:bob'.*silero:xenia"):
        get_voice("silero:bob", models_dir=model_file.parent.parent)
    voice = get_voice("silero:xenia", models_dir=model_file.parent.parent)
    with pytest.raises(TTSError, match="nothing sayable"):
        voice.synthesize(["«»", "…"])

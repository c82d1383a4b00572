"""Text-to-speech voices: the interface, the registry and the fit-to-length helper.

A voice is named ``backend:name`` (``festival:msu_ru_nsh``, ``silero:xenia``), or is a named voice
of the catalogue or a voice file (voicechanger/voices/catalogue.py): a backend voice through a transform
(changed.py). Backends live in their
own modules and are imported only when one of their voices is asked for, so importing this package
costs nothing. Each backend module provides ``load(name, device, models_dir) -> Voice`` and
``list_voices(models_dir) -> list[VoiceInfo]``.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ...errors import VoiceError
from ...signal.levels import nonsilent_span
from ...voices.catalogue import VoiceDef, catalogue, voice_setting

DEFAULT_VOICE = "festival:msu_ru_nsh"

_BACKENDS = {
    "festival": "voicechanger.engines.tts.festival",
    "silero": "voicechanger.engines.tts.silero",
}

_ESPEAK_NOTE = ("not offered: espeak-ng is largely unintelligible in Russian (round-trip WER 0.45-1.0 "
                "with Whisper); use festival:msu_ru_nsh")


class TTSError(VoiceError):
    """A voice failed on one phrase (the text names it)."""


class Unsayable(TTSError):
    """The phrase has nothing the voice can say (no word it can read): a property of the text, so the
    synthesize stage records the phrase as unsaid and goes on, and every run that uses it reports it.
    Any other failure (a dead, hung or interrupted engine) aborts the stage and nothing is stored."""


@dataclass
class Synthesis:
    """Audio of one phrase and where each input token was said in it."""

    audio: np.ndarray                              # float32 mono, in [-1, 1]
    sample_rate: int
    word_spans: list[tuple[float, float]] | None   # one (start_s, end_s) per input token; None if unknown


@dataclass(frozen=True)
class VoiceInfo:
    """One voice spec, whether it can be used here, and a description or what to do to get it."""

    spec: str
    available: bool
    detail: str


@runtime_checkable
class Voice(Protocol):
    """A loaded voice. ``synthesize`` must be safe to call from several threads at once."""

    spec: str
    sample_rate: int

    def synthesize(self, tokens: list[str], rate: float = 1.0) -> Synthesis:
        """Say ``tokens`` (lowercase Cyrillic words, '+' before the stressed vowel, each optionally
        ending in one of . , ! ?). ``rate`` multiplies the duration (2.0 = twice as long)."""
        ...


def synthesis_speech_span(synthesis: Synthesis) -> tuple[float, float]:
    """(start_s, end_s) of the speech: first word start..last word end, else the non-silent span."""
    spans = [s for s in (synthesis.word_spans or []) if s[1] > s[0]]
    if spans:
        return spans[0][0], spans[-1][1]
    return nonsilent_span(synthesis.audio, synthesis.sample_rate)


def synthesize_to_fit(voice: Voice, tokens: list[str], target_seconds: float, *,
                      max_rate: float = 1.6, min_rate: float = 0.6) -> tuple[Synthesis, float]:
    """Two-pass: synth at 1.0, measure speech length (first word start..last word end, or non-silent
    span), then if the needed factor differs by >4% synth again with rate=k clamped; return (synthesis, k).
    This uses the voice's own rate control so PSOLA only does the rest."""
    first = voice.synthesize(tokens, rate=1.0)
    start, end = synthesis_speech_span(first)
    natural = end - start
    if natural <= 0 or target_seconds <= 0:
        return first, 1.0
    k = min(max(target_seconds / natural, min_rate), max_rate)
    if abs(k - 1.0) <= 0.04:
        return first, 1.0
    return voice.synthesize(tokens, rate=k), k


def _backend(name: str):
    return importlib.import_module(_BACKENDS[name])


def list_voices(models_dir: Path | None = None) -> list[VoiceInfo]:
    """Every voice this build knows, whether it is usable here, and why not / what to do."""
    infos: list[VoiceInfo] = []
    for name in _BACKENDS:
        infos.extend(_backend(name).list_voices(models_dir))
    infos.append(VoiceInfo("espeak:*", False, _ESPEAK_NOTE))
    return infos


_cache: dict[tuple[str, str, str], Voice] = {}
_cache_lock = threading.Lock()


def _unknown(spec: str, models_dir: Path | None) -> VoiceError:
    everything = [i for i in list_voices(models_dir) if not i.spec.endswith("*")]
    usable = [i.spec for i in everything if i.available]
    others = [i.spec for i in everything if not i.available]
    return VoiceError(
        f"unknown voice {spec!r}: choose one of {', '.join([*catalogue(), *usable]) or 'none'} (available here)"
        + (f"; also known but not set up here: {', '.join(others)}" if others else "")
        + " (see `voice voices`), or give a voice file (my-voice.yaml)")


def get_voice(spec: str | VoiceDef, *, device: str = "cpu", models_dir: Path | None = None) -> Voice:
    """The voice ``spec`` names ("backend:name", a catalogue name, a voice file's path, or a VoiceDef),
    loaded once per (voice, device, models_dir) per process."""
    if not isinstance(spec, VoiceDef):
        spec = voice_setting((spec or "").strip())
    key = (str(spec), device, str(Path(models_dir).resolve()) if models_dir else "")
    with _cache_lock:
        voice = _cache.get(key)
    if voice is not None:
        return voice
    if isinstance(spec, VoiceDef):
        from .changed import ChangedVoice

        try:
            base = get_voice(spec.base, device=device, models_dir=models_dir)
        except VoiceError as exc:
            raise VoiceError(f"voice {spec.name}, made from {spec.base}: {exc}") from None
        voice = ChangedVoice(spec, base)
        with _cache_lock:
            return _cache.setdefault(key, voice)
    backend, _, name = spec.partition(":")
    if backend == "espeak":
        raise VoiceError(f"voice {spec!r}: {_ESPEAK_NOTE}")
    infos = list_voices(models_dir) if backend in _BACKENDS else []
    if backend not in _BACKENDS or spec not in {i.spec for i in infos}:
        raise _unknown(spec, models_dir)
    # Load outside the lock (it can take seconds); a race loads twice and keeps the first.
    voice = _backend(backend).load(name, device=device, models_dir=models_dir)
    with _cache_lock:
        return _cache.setdefault(key, voice)


def close_voices() -> None:
    """Let the loaded voices stop what they keep running between calls (Festival's processes). They
    stay usable: a later synthesis starts what it needs again."""
    with _cache_lock:
        voices = list(_cache.values())
    for voice in voices:
        close = getattr(voice, "close", None)
        if close is not None:
            close()


__all__ = ["DEFAULT_VOICE", "Synthesis", "TTSError", "Unsayable", "Voice", "VoiceInfo", "close_voices", "get_voice",
           "list_voices", "synthesis_speech_span", "synthesize_to_fit"]

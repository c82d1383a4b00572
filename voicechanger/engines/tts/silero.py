"""Silero TTS Russian voices (``silero:<speaker>``), loaded with torch.package from a local .pt file.

Where the model comes from, first hit wins: $VOICECHANGER_SILERO_MODEL, ``<models_dir>/silero/v5_ru.pt``,
``<models_dir>/silero/v4_ru.pt``; else one download attempt of the official v4_ru.pt (10 s socket
timeout; skipped when VOICECHANGER_OFFLINE=1) into ``<models_dir>/silero/``; else a VoiceError that says
where to put the file and that ``festival:msu_ru_nsh`` works offline.

Rate goes through Silero's SSML ``<prosody rate=...>``, which knows five steps only; the nearest step
(in log duration) is used, assuming the usual 0.5/0.75/1/1.25/1.5 speed factors, so the realised
duration multiplier is approximate (synthesize_to_fit measures, the prosody stage does the rest).
Word spans: None (Silero does not report timings, and an estimate by character share would be
little better than one uniform stretch).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
import threading
import urllib.request
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ...errors import VoiceError, error_message
from ...paths import models_dir as default_models_dir
from . import Synthesis, TTSError, Unsayable, VoiceInfo

log = logging.getLogger(__name__)

SPEAKERS = {"aidar": "male", "baya": "female", "kseniya": "female", "xenia": "female", "eugene": "male"}
MODEL_FILES = ("v5_ru.pt", "v4_ru.pt")
MODEL_URL = "https://models.silero.ai/models/tts/ru/v4_ru.pt"
DOWNLOAD_TIMEOUT_S = 10.0
SAMPLE_RATE = 48000
MAX_CHARS = 800
# SSML rate step -> duration multiplier (1 / speed)
RATE_STEPS = {"x-slow": 2.0, "slow": 4 / 3, "medium": 1.0, "fast": 0.8, "x-fast": 2 / 3}


def _dir(models_dir: Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else default_models_dir()


def find_model(models_dir: Path | None = None) -> Path | None:
    """The local model file to use, or None."""
    env = os.environ.get("VOICECHANGER_SILERO_MODEL")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise VoiceError(f"VOICECHANGER_SILERO_MODEL={env}: no such file; point it at a Silero v4_ru.pt/v5_ru.pt "
                             "or unset it")
        return path
    for name in MODEL_FILES:
        path = _dir(models_dir) / "silero" / name
        if path.is_file():
            return path
    return None


def _missing(models_dir: Path | None, why: str) -> VoiceError:
    where = _dir(models_dir) / "silero"
    return VoiceError(f"Silero voices need the model file v4_ru.pt (or v5_ru.pt) from {MODEL_URL} in {where}/ "
                      f"or named by VOICECHANGER_SILERO_MODEL ({why}); festival:msu_ru_nsh works offline")


def download(models_dir: Path | None = None) -> Path:
    """Fetch the official v4_ru.pt into <models_dir>/silero/ (atomic rename); VoiceError if it fails."""
    if os.environ.get("VOICECHANGER_OFFLINE") == "1":
        raise _missing(models_dir, "not downloaded: VOICECHANGER_OFFLINE=1")
    target = _dir(models_dir) / "silero" / "v4_ru.pt"
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    log.info("downloading %s to %s", MODEL_URL, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(MODEL_URL, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(part, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(part, target)
    except (OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise _missing(models_dir, f"download failed: {exc}") from None
    return target


_models: dict[tuple[str, str], tuple[object, threading.Lock]] = {}
_models_lock = threading.Lock()


def _load_model(path: Path, device: str):
    """(model, lock) for a model file, loaded once per (file, device) per process."""
    key = (str(path.resolve()), device)
    with _models_lock:
        if key in _models:
            return _models[key]
        try:
            import torch
            import torch.package
        except ImportError:
            raise VoiceError("Silero voices need torch: pip install torch") from None
        try:
            importer = torch.package.PackageImporter(str(path))
            model = importer.load_pickle("tts_models", "model")
            model.to(device)
        except Exception as exc:  # a truncated or foreign file
            raise VoiceError(f"Silero model file {path} could not be loaded ({error_message(exc)}); "
                             "delete it and put a fresh v4_ru.pt there") from None
        _models[key] = (model, threading.Lock())
        return _models[key]


def rate_step(rate: float) -> str:
    """The SSML rate step nearest (in log duration) to the duration multiplier ``rate``."""
    rate = rate if rate and rate > 0 else 1.0
    return min(RATE_STEPS, key=lambda s: abs(math.log(RATE_STEPS[s]) - math.log(rate)))


def chunks(words: list[str], limit: int = MAX_CHARS) -> list[str]:
    """Space-joined pieces of at most ``limit`` characters, cut at word boundaries
    (a single longer word is cut hard)."""
    pieces: list[str] = []
    current = ""
    for word in words:
        while len(word) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:limit])
            word = word[limit:]
        if not word:
            continue
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


class SileroVoice:
    """``silero:<speaker>``: a Silero TTS speaker at 48 kHz."""

    native_rate = True

    def __init__(self, speaker: str, model, lock: threading.Lock, model_path: Path):
        self.spec = f"silero:{speaker}"
        self.speaker = speaker
        self.sample_rate = SAMPLE_RATE
        self.model = model
        self.model_path = model_path
        self._lock = lock

    def synthesize(self, tokens: list[str], rate: float = 1.0) -> Synthesis:
        """Say ``tokens`` (Silero reads '+' stress marks itself); word_spans is None."""
        words = [w for w in (re.sub(r"[^а-яёА-ЯЁa-zA-Z0-9+.,!?\-]", "", t) for t in tokens) if w]
        if not any(re.search(r"[а-яёА-ЯЁa-zA-Z0-9]", w) for w in words):
            raise Unsayable(f"{self.spec}: nothing sayable in {' '.join(tokens)[:120]!r}")
        step = rate_step(rate)
        parts = []
        for piece in chunks(words):
            kwargs = dict(speaker=self.speaker, sample_rate=self.sample_rate, put_accent=True, put_yo=True)
            if step == "medium":
                kwargs["text"] = piece
            else:
                kwargs["ssml_text"] = f'<speak><prosody rate="{step}">{escape(piece)}</prosody></speak>'
            try:
                with self._lock:
                    out = self.model.apply_tts(**kwargs)
            except Exception as exc:
                raise TTSError(f"{self.spec}: could not say {piece[:120]!r} ({error_message(exc)})") from None
            parts.append(np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out,
                                    dtype=np.float32).reshape(-1))
        audio = np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32)
        if len(audio) == 0:
            raise TTSError(f"{self.spec}: no audio for {' '.join(words)[:120]!r}")
        return Synthesis(audio=audio, sample_rate=self.sample_rate, word_spans=None)


def list_voices(models_dir: Path | None = None) -> list[VoiceInfo]:
    """The Silero speakers; available only where torch and a model file are present."""
    try:
        path = find_model(models_dir)
        why = None if path else (f"needs the model file v4_ru.pt (or v5_ru.pt) in {_dir(models_dir) / 'silero'}/ "
                                 f"or VOICECHANGER_SILERO_MODEL; fetched from {MODEL_URL} on first use where reachable")
    except VoiceError as exc:
        path, why = None, str(exc)
    if path and importlib.util.find_spec("torch") is None:
        path, why = None, "needs torch: pip install torch"
    return [VoiceInfo(f"silero:{s}", path is not None,
                      f"Silero TTS ({path.name}), {gender} speaker {s}, 48 kHz" if path else why or "unavailable")
            for s, gender in SPEAKERS.items()]


def load(name: str, *, device: str = "cpu", models_dir: Path | None = None) -> SileroVoice:
    """A SileroVoice for speaker ``name``; finds, downloads or explains the model file."""
    if name not in SPEAKERS:
        raise VoiceError(f"unknown Silero speaker {name!r}: choose one of {', '.join(SPEAKERS)}")
    path = find_model(models_dir) or download(models_dir)
    model, lock = _load_model(path, device)
    speakers = getattr(model, "speakers", None)
    if speakers and name not in speakers:
        raise VoiceError(f"Silero model {path.name} has no speaker {name!r}: choose one of {', '.join(speakers)}")
    return SileroVoice(name, model, lock, path)

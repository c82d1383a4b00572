"""Real Russian speech for the tests: Debian's asterisk-core-sounds-ru prompts (CC-BY-3.0) and their
transcripts, assembled into longer recordings with pauses; plus the measurements the tests share."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SOUNDS = Path("/usr/share/asterisk/sounds/ru")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz")
ROOT = Path(__file__).resolve().parent.parent
RATE = 16000


@lru_cache(maxsize=1)
def transcripts() -> dict[str, str]:
    table: dict[str, str] = {}
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8") as handle:
        for line in handle:
            name, sep, text = line.partition(": ")
            if sep and not line.startswith(";") and not text.startswith("["):
                table[name.strip()] = text.strip()
    return table


def corpus_phrases() -> list[str]:
    """Every transcript of the corpus (the "[tone]" descriptions left out)."""
    return list(transcripts().values())


def prompt(name: str) -> Path:
    path = SOUNDS / f"{name}.wav"
    assert path.is_file(), f"missing prompt {path}; run `make install` (asterisk-core-sounds-ru-wav)"
    return path


@dataclass(frozen=True)
class Assembled:
    path: Path
    names: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]  # each prompt's (start, end) in seconds


def assemble(names: list[str], path: Path, pause_s: float = 1.0, lead_s: float = 0.5) -> Assembled:
    """Join prompts (resampled to 16 kHz) with pauses of low noise into one wav file."""
    rng = np.random.default_rng(7)
    parts = [np.zeros(int(lead_s * RATE), dtype=np.float32)]
    spans = []
    position = lead_s
    for name in names:
        audio = decode(prompt(name))
        spans.append((position, position + len(audio) / RATE))
        position += len(audio) / RATE + pause_s
        parts += [audio, (rng.standard_normal(int(pause_s * RATE)) * 1e-4).astype(np.float32)]
    write_wav(np.concatenate(parts), path)
    return Assembled(path, tuple(names), tuple(spans))


def write_wav(audio: np.ndarray, path: Path, rate: int = RATE) -> None:
    import soundfile

    soundfile.write(str(path), audio, rate, subtype="PCM_16")


def decode(path: Path, rate: int = RATE) -> np.ndarray:
    """Any file -> float32 mono at ``rate`` via ffmpeg (independent of the code under test)."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").copy()


@lru_cache(maxsize=1)
def referee_model():
    from faster_whisper import WhisperModel

    from voicechanger.engines.asr import resolve_model

    return WhisperModel(str(resolve_model("base")), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 1)


def transcribe_text(audio: np.ndarray) -> str:
    """Whisper base, beam 5: a deterministic referee for round-trip WER, the same for input and output
    (the product's own transcription settings are not under test here).

    Only the repetition gate is on: without it one looping window ("СПОКОЙ СПОКОЙ ...") turned an
    11-word prompt's WER into 2.45. A looping window is decoded again at a higher temperature with
    a fixed seed, so the referee stays deterministic. A loop too short for the gate ("СИ-И-И-НИ-НИ-НИ-
    ...", one hyphenated word: a 4-word prompt scored 4.75) is decoded again the same way, from 0.2."""
    text = _referee_text(audio, (0.0, 0.2, 0.4, 0.6))
    return _referee_text(audio, (0.2, 0.4, 0.6)) if looping(text) else text


def _referee_text(audio: np.ndarray, temperatures: tuple[float, ...]) -> str:
    import ctranslate2

    ctranslate2.set_random_seed(1234)
    segments, _info = referee_model().transcribe(
        np.ascontiguousarray(audio, dtype=np.float32), language="ru", beam_size=5,
        temperature=temperatures, compression_ratio_threshold=2.4,
        condition_on_previous_text=False, vad_filter=True, log_prob_threshold=None, no_speech_threshold=None,
    )
    return " ".join(s.text.strip() for s in segments)


LOOP_COPIES = 5  # a word or syllable this many times in a row is the referee looping, not speech


def looping(text: str) -> bool:
    """Whether ``text`` holds a word or a hyphen-joined syllable LOOP_COPIES or more times in a row."""
    from voicechanger.engines.recheck import find_loops

    pieces = [{"word": piece} for piece in re.split(r"[\s\-–—]+", text) if piece.strip()]
    return bool(find_loops(pieces, repeats=LOOP_COPIES))


def words_for_wer(text: str) -> list[str]:
    """Lowercase words with numbers spelled out and ё folded, so only real differences count."""
    from voicechanger.engines.normalize import normalize_words

    tokens = normalize_words(text.split())
    return [re.sub(r"[^а-я]", "", t.text.replace("ё", "е")) for t in tokens if re.sub(r"[^а-яё]", "", t.text)]


def wer(reference: str, hypothesis: str) -> tuple[float, int]:
    """(word error rate, reference word count) after words_for_wer on both sides."""
    import jiwer

    ref, hyp = " ".join(words_for_wer(reference)), " ".join(words_for_wer(hypothesis))
    if not ref:
        return (0.0 if not hyp else 1.0), 0
    return jiwer.wer(ref, hyp if hyp else "<empty>"), len(ref.split())


AUDIBLE_DB = 35.0  # a sound this far under a phrase's loud frames is not where a listener hears it start
CLOSURE_S = 0.06   # a quiet gap up to this long inside speech is a stop's closure, not a pause


def onset(audio: np.ndarray, around: float, rate: int = RATE, before: float = 0.4, after: float = 0.6,
          not_before: float = 0.0, earliest: float = 0.0) -> float | None:
    """Where the phrase near ``around`` starts: the first stretch of 10 ms frames well above the
    local floor (gaps up to CLOSURE_S inside it) that holds a rise of 30 ms or more, in a window near
    ``around``, not before ``not_before`` (less 0.1 s: Whisper's phrase edges, which set it, can be that
    far off) nor ``earliest`` (a bound known exactly: where a prompt was placed). None where there is
    no start to measure: no clear rise, or speech that runs from before the window into the phrase.

    A stretch, so a weak first sound that a closure separates from the vowel is the start (the "в"
    of "в конце", 20 ms, 24 dB under the vowel, 40 ms before the "к"); a held rise, so a 10-20 ms
    blip (the release of the previous word's last stop) is not. A stretch going on where the window
    opens is the previous phrase's tail. "Well above" is half the floor-to-peak range, at most 20 dB,
    and never more than AUDIBLE_DB under the peak: over digital silence the floor alone would put the
    start in an inaudible fade-in. The floor is taken from 0.3 s more of context, so a pause just
    before the window still counts."""
    hop = rate // 100
    start = max(around - before, not_before)
    lo = max(0, int((start - 0.3) * rate))
    hi = min(len(audio), int((around + after) * rate))
    part = audio[lo:hi]
    frames = len(part) // hop
    if frames < 5:
        return None
    energy = 10 * np.log10(np.mean(part[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-10)
    floor, peak = np.percentile(energy, 10), energy.max()
    if peak - floor < 15:
        return None
    above = energy > max(floor + min(20.0, (peak - floor) / 2), peak - AUDIBLE_DB)
    first = max(1, int(round((max(start - 0.1, earliest)) * rate - lo)) // hop)
    own = int(round((around + 0.1) * rate - lo)) // hop  # past this the phrase's speech has begun
    for begin, end in _stretches(above, int(round(CLOSURE_S * 100))):
        if begin < first:  # going on where the window opens: the previous phrase's, unless it runs on
            if end > own:  # into this one with no pause at all
                return None
            continue
        if begin >= frames - 2:
            break
        if any(above[k : k + 3].all() and not above[k - 1] for k in range(begin, end - 2)):
            return lo / rate + begin * hop / rate
    return None


def _stretches(above: np.ndarray, closure: int) -> list[tuple[int, int]]:
    """(first, last + 1) frame of each run of True, runs apart by at most ``closure`` frames joined."""
    out: list[tuple[int, int]] = []
    for k in np.flatnonzero(above):
        if out and k - out[-1][1] <= closure:
            out[-1] = (out[-1][0], int(k) + 1)
        else:
            out.append((int(k), int(k) + 1))
    return out


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 900
            ) -> subprocess.CompletedProcess:
    """`python -m voicechanger ...` in a subprocess, as a user would run it."""
    full_env = {**os.environ, "DO_NOT_TRACK": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "voicechanger", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=full_env, timeout=timeout)


def store_events(cache: Path) -> list[dict]:
    path = cache / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def computed_stages(cache: Path, since: int = 0, memos: bool = False) -> list[str]:
    """Stage names written to the store (computed, not cached) after event number ``since``; the
    per-phrase memos (stress-phrase, ..., voice-reference) only with ``memos``."""
    from voicechanger.stages import STAGES

    return [e["stage"] for e in store_events(cache)[since:]
            if e["event"] == "put" and (memos or e["stage"] in STAGES)]


def make_phrase_unsayable(cache: Path, stress_key: str) -> str:
    """Rewrite the first phrase of a stored stress artifact into one with nothing a voice can read, as a
    transcript of symbols that normalise to no word would be; the artifact stays valid (put seals it).
    Returns the phrase's new text. What was made from the artifact must be dropped by the caller."""
    from voicechanger.store import Store

    store = Store(cache)
    meta = dict(store.get("stress", stress_key).meta)
    phrase = meta["phrases"][0]
    meta["phrases"] = [{**phrase, "text": "%%%", "stressed": "%%%",
                        "tokens": [{**t, "text": "%%%"} for t in phrase["tokens"]]}, *meta["phrases"][1:]]
    shutil.rmtree(store.path_of("stress", stress_key))
    store.put("stress", stress_key, meta)
    return "%%%"

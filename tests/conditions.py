"""Recording conditions like people's own, built from what is installed (no downloads): the asterisk
prompts (tests/speech.py) sped up, through the telephone codec, under noise, lowered to a male voice,
quiet with room echo, and as a two-person dialogue.

Each condition is one 16 kHz wav of 40-90 s of speech, with the dry speech on the same timeline (the
truth for "where is speech" and "where does a phrase start", which the degraded input cannot give),
each prompt's span and its true transcript. Everything is seeded: the same code gives the same bytes.
Built once into a folder and reused (a JSON sidecar with FORMAT records what was built).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from speech import RATE, SOUNDS, decode, transcripts, write_wav

FORMAT = 2  # bump when the way conditions are made changes
CLEAN_SECONDS = 55.0  # speech per condition before any time-scaling (fast: 42 s after it)
SNR_DB = 10.0
QUIET_DBFS = -30.0
FAST = 1.3


@dataclass(frozen=True)
class Condition:
    name: str
    path: Path          # the recording to convert
    dry: Path           # the same timeline with the speech undegraded (no noise, echo or codec): where
                        # speech really is, and its intonation
    names: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]  # each prompt's (start, end) in seconds
    texts: tuple[str, ...]                  # each prompt's true transcript


# --------------------------------------------------------------------------- signal helpers

def _praat(audio: np.ndarray, command: str, *args: float) -> np.ndarray:
    """One Praat command on a 16 kHz signal, seeded (its overlap-add draws random numbers)."""
    from voicechanger.engines.praat import call, parselmouth, seeded

    sound = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=float(RATE))
    with seeded():
        result = call(sound, command, *args)
    out = np.asarray(result.values[0], dtype=np.float64)
    return out if result.sampling_frequency == RATE else _resample(out, int(result.sampling_frequency))


def _resample(audio: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(audio, RATE, rate)


def faster(audio: np.ndarray, factor: float = FAST) -> np.ndarray:
    """Pitch-preserving time-scale (Praat's Lengthen (overlap-add)): ``factor`` times faster."""
    return _praat(audio, "Lengthen (overlap-add)", 75, 600, 1.0 / factor)


def male(audio: np.ndarray, median_hz: float = 95.0, formants: float = 0.85) -> np.ndarray:
    """Praat's Change gender: pitch median to ``median_hz``, formants scaled (a lower, longer tract)."""
    return _praat(audio, "Change gender", 75, 600, formants, median_hz, 1.0, 1.0)


def speech_frames(audio: np.ndarray, hop_s: float = 0.01) -> np.ndarray:
    """10 ms frames of clear speech energy: above the signal's 10th-percentile floor by 10 dB and
    within 35 dB of its loud frames (independent of the product's own speech mask)."""
    hop = int(RATE * hop_s)
    frames = len(audio) // hop
    if frames == 0:
        return np.zeros(0, dtype=bool)
    db = 10 * np.log10(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    floor, loud = np.percentile(db, 10), np.percentile(db, 99)
    return (db > floor + 10) & (db > loud - 35)


def _speech_power(dry: np.ndarray) -> float:
    mask = np.repeat(speech_frames(dry), RATE // 100)
    part = dry[: len(mask)][mask]
    return float(np.mean(part ** 2)) if len(part) else float(np.mean(dry ** 2))


def pink_noise(samples: int, seed: int) -> np.ndarray:
    """Unit-power 1/f noise (white noise shaped in the frequency domain)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(samples, 1 / RATE), 20.0))
    noise = np.fft.irfft(spectrum, samples)
    return noise / np.sqrt(np.mean(noise ** 2))


def room_response(seed: int, rt60: float = 0.4, direct_to_reverb_db: float = 4.0, length_s: float = 0.5
                  ) -> np.ndarray:
    """A synthetic room impulse response: the direct sound, then exponentially decaying noise
    (-60 dB at ``rt60``) from 4 ms on, ``direct_to_reverb_db`` below it in energy: a phone held in a
    small room (a distant microphone has far more echo than a voice note)."""
    rng = np.random.default_rng(seed)
    n = int(length_s * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)
    tail[: int(0.004 * RATE)] = 0.0
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


# --------------------------------------------------------------------------- assembling

def _prompt(name: str, codec: bool = False) -> np.ndarray:
    """A prompt at 16 kHz: the 8 kHz PCM wav, or the package's own GSM 06.10 file (``codec``)."""
    if not codec:
        return decode(SOUNDS / f"{name}.wav")
    path = SOUNDS / f"{name}.gsm"
    assert path.is_file(), f"missing {path}; install asterisk-core-sounds-ru-gsm (make install)"
    import subprocess

    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "gsm", "-ar", "8000", "-i", str(path),
                          "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def _join(pieces: list[np.ndarray], pauses: tuple[float, float], seed: int, lead_s: float = 0.5
          ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Pieces with seeded pauses (uniform in ``pauses`` seconds) between them; (audio, spans)."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(int(lead_s * RATE))]
    spans, position = [], lead_s
    for k, piece in enumerate(pieces):
        spans.append((position, position + len(piece) / RATE))
        gap = lead_s if k == len(pieces) - 1 else rng.uniform(*pauses)
        parts += [piece, np.zeros(int(gap * RATE))]
        position += len(piece) / RATE + int(gap * RATE) / RATE
    return np.concatenate(parts), spans


def prompt_sets(count: int, seconds: float = CLEAN_SECONDS) -> list[list[str]]:
    """``count`` disjoint sets of prompts of about ``seconds`` each: prompts of 2 s or more (long
    enough to be a phrase) outside the clean quality set, no digits or Latin (their true transcripts
    are written as words), dealt round-robin in a seeded order."""
    import re

    import soundfile
    from conftest import LONG_PROMPTS, QUALITY_PROMPTS

    used = set(QUALITY_PROMPTS) | set(LONG_PROMPTS)
    pool = []
    for name, text in sorted(transcripts().items()):
        path = SOUNDS / f"{name}.wav"
        if name in used or re.search(r"[0-9A-Za-z]", text) or not path.is_file():
            continue
        if (length := soundfile.info(str(path)).duration) >= 2.0:
            pool.append((name, length))
    order = np.random.default_rng(14).permutation(len(pool))
    sets: list[list[str]] = [[] for _ in range(count)]
    totals = [0.0] * count
    for k, index in enumerate(order):
        name, length = pool[index]
        slot = k % count
        if totals[slot] < seconds:
            sets[slot].append(name)
            totals[slot] += length
    return sets


def _fast(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    audio, spans = _join([faster(_prompt(n)) for n in names], (0.15, 0.3), seed=1)
    return audio, audio, spans


def _telephone(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    coded, spans = _join([_prompt(n, codec=True) for n in names], (0.4, 1.2), seed=2)
    return coded, coded, spans  # the codec is the recording: there is no cleaner one


def _noise(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    dry, spans = _join([_prompt(n) for n in names], (0.4, 1.2), seed=3)
    noise = pink_noise(len(dry), seed=3) * np.sqrt(_speech_power(dry) / 10 ** (SNR_DB / 10))
    return dry + noise, dry, spans


def _low_male(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    audio, spans = _join([male(_prompt(n)) for n in names], (0.4, 1.2), seed=4)
    return audio, audio, spans


def _echo_note(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """A quiet voice note in a room: reverberant speech at about -30 dBFS over a faint noise floor."""
    dry, spans = _join([_prompt(n) for n in names], (0.4, 1.2), seed=5)
    from scipy.signal import fftconvolve

    wet = fftconvolve(dry, room_response(seed=5))[: len(dry)]
    gain = 10 ** (QUIET_DBFS / 20) / np.sqrt(_speech_power(wet))
    floor = np.random.default_rng(5).standard_normal(len(dry)) * 10 ** (-70 / 20)
    return wet * gain + floor, dry * gain, spans


def _dialogue(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """Two speakers taking turns: the prompts' own voice and the same lowered to a man's."""
    pieces = [male(_prompt(n), median_hz=110.0) if k % 2 else _prompt(n) for k, n in enumerate(names)]
    audio, spans = _join(pieces, (0.3, 0.8), seed=6)
    return audio, audio, spans


# name -> builder: prompt names -> (recording, its dry speech, each prompt's span)
BUILDERS: dict[str, Callable[[list[str]], tuple[np.ndarray, np.ndarray, list]]] = {
    "fast": _fast, "telephone": _telephone, "noise": _noise, "low-male": _low_male,
    "echo-note": _echo_note, "dialogue": _dialogue,
}
NAMES = tuple(BUILDERS)


def build(name: str, folder: Path) -> Condition:
    """The condition ``name`` in ``folder`` (made once; a sidecar of the right FORMAT is reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    sidecar = folder / f"{name}.json"
    if sidecar.is_file():
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
        if saved.get("format") == FORMAT and (folder / f"{name}.wav").is_file():
            return _condition(name, folder, saved)
    names = prompt_sets(len(NAMES))[NAMES.index(name)]
    audio, dry, spans = BUILDERS[name](names)
    peak = max(float(np.max(np.abs(audio))), 1e-9)
    if peak > 0.99:  # noise on top of loud speech: scale both alike
        audio, dry = audio * 0.99 / peak, dry * 0.99 / peak
    write_wav(audio.astype(np.float32), folder / f"{name}.wav")
    write_wav(dry.astype(np.float32), folder / f"{name}.dry.wav")
    saved = {"format": FORMAT, "names": names, "spans": [list(s) for s in spans],
             "texts": [transcripts()[n] for n in names]}
    sidecar.write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")
    return _condition(name, folder, saved)


def _condition(name: str, folder: Path, saved: dict) -> Condition:
    return Condition(name, folder / f"{name}.wav", folder / f"{name}.dry.wav", tuple(saved["names"]),
                     tuple((float(a), float(b)) for a, b in saved["spans"]), tuple(saved["texts"]))


def clean(assembled) -> Condition:
    """The studio set (tests/conftest.py's quality prompts) as a Condition: its dry speech is itself."""
    return Condition("clean", assembled.path, assembled.path, assembled.names, assembled.spans,
                     tuple(transcripts()[n] for n in assembled.names))

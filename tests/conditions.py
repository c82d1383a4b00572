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

FORMAT = 3  # bump when the way conditions are made changes
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


def prompt_sets(count: int, seconds: float = CLEAN_SECONDS, seed: int = 14) -> list[list[str]]:
    """``count`` disjoint sets of prompts of about ``seconds`` each: prompts of 2 s or more (long
    enough to be a phrase) outside the clean quality set, no digits or Latin (their true transcripts
    are written as words), dealt round-robin in an order seeded by ``seed``."""
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
    order = np.random.default_rng(seed).permutation(len(pool))
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


# --------------------------------------------------------------------------- round two: hard recordings

RING_S = 9.0           # the phone call's ring-back before anybody speaks
HUM_HZ = 50.0
HARD_SECONDS = 45.0    # speech per round-two condition
SHORT_PAUSES = (0.3, 0.6)


def gsm(audio: np.ndarray) -> np.ndarray:
    """Through the GSM 06.10 codec at 8 kHz and back to 16 kHz (ffmpeg's libgsm), as a phone line."""
    import subprocess

    pcm = np.clip(audio, -1, 1).astype("<f4").tobytes()
    coded = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
                            "-ar", "8000", "-c:a", "libgsm", "-f", "gsm", "-"], input=pcm, capture_output=True,
                           check=True).stdout
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "gsm", "-ar", "8000", "-i", "-", "-ac", "1",
                          "-ar", str(RATE), "-f", "f32le", "-"], input=coded, capture_output=True, check=True).stdout
    out = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    return np.pad(out, (0, max(len(audio) - len(out), 0)))[: len(audio)]


def ring_back(seconds: float, level_dbfs: float = -18.0) -> np.ndarray:
    """The Russian ring-back tone: 425 Hz, 0.8 s on and 3.2 s off, with 5 ms edges."""
    t = np.arange(int(seconds * RATE)) / RATE
    on = (t % 4.0) < 0.8
    edge = int(0.005 * RATE)
    envelope = np.convolve(on.astype(float), np.ones(edge) / edge, mode="same")
    return np.sin(2 * np.pi * 425.0 * t) * envelope * 10 ** (level_dbfs / 20) * np.sqrt(2)


def mains_hum(samples: int, seed: int, fundamental: float = HUM_HZ) -> np.ndarray:
    """Unit-power mains hum: the fundamental and its harmonics up to 1 kHz, falling 4 dB each, with a
    slow wander of the phases (a real transformer's hum is not a perfect sine)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    drift = np.cumsum(rng.standard_normal(samples)) * 2e-5
    hum = sum(10 ** (-4 * (k - 1) / 20) * np.sin(2 * np.pi * fundamental * k * t + k * drift + rng.uniform(0, 6.3))
              for k in range(1, int(1000 // fundamental) + 1))
    return hum / np.sqrt(np.mean(hum ** 2))


def thump(seed: int, seconds: float = 0.7) -> np.ndarray:
    """Handling noise of a desktop microphone: a low knock (a decaying 40-120 Hz resonance with a
    sharp attack and a broadband click), then low rumble dying away over ``seconds``; peak 1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    body = np.sin(2 * np.pi * rng.uniform(45, 110) * t) * np.exp(-t / 0.06)
    click = rng.standard_normal(n) * np.exp(-t / 0.004) * 0.5
    from scipy.signal import butter, sosfilt

    rumble = sosfilt(butter(2, 150, fs=RATE, output="sos"), rng.standard_normal(n)) * np.exp(-t / 0.25) * 2.0
    out = body + click + rumble
    return out / np.max(np.abs(out))


def _phone_call(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """A call: RING_S of ring-back, then two parties (the prompts' voice and a man's) taking turns,
    the whole line through the GSM codec, with a faint line hiss."""
    pieces = [male(_prompt(n), median_hz=105.0) if k % 2 else _prompt(n) for k, n in enumerate(names)]
    dry, spans = _join(pieces, (0.3, 0.9), seed=7, lead_s=RING_S)
    ring = np.zeros(len(dry))
    ring[: int((RING_S - 0.4) * RATE)] = ring_back(RING_S - 0.4)
    hiss = np.random.default_rng(7).standard_normal(len(dry)) * 10 ** (-60 / 20)
    return gsm(dry + ring + hiss), dry, spans


def a_weighted_power(audio: np.ndarray) -> float:
    """Mean square after the A-weighting curve (IEC 61672, 0 dB at 1 kHz): how a sound level meter,
    and roughly an ear, weighs it; mains hum counts 30 dB less than its raw power."""
    f2 = np.fft.rfftfreq(len(audio), 1 / RATE) ** 2
    gain = (12194.0 ** 2 * f2 ** 2) / ((f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
                                       * (f2 + 12194.0 ** 2))
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    return float(np.sum(spectrum * gain ** 2) * 10 ** 0.2 / max(np.sum(spectrum), 1e-30) * np.mean(audio ** 2))


def _hum(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """A home voice note: 50 Hz hum with harmonics and white hiss, together SNR_DB under the speech as
    a sound level meter weighs them (A-weighted; the hum three quarters of it). Unweighted, the hum is
    louder than the speech: the pitch trackers before the hum filter followed it (log-F0 r -0.02)."""
    dry, spans = _join([_prompt(n) for n in names], (0.4, 1.2), seed=8)
    mask = np.repeat(speech_frames(dry), RATE // 100)
    noise = a_weighted_power(dry[: len(mask)][mask]) / 10 ** (SNR_DB / 10)
    hum, hiss = mains_hum(len(dry), seed=8), np.random.default_rng(8).standard_normal(len(dry))
    hum *= np.sqrt(0.75 * noise / a_weighted_power(hum))
    hiss *= np.sqrt(0.25 * noise / a_weighted_power(hiss))
    return dry + hum + hiss, dry, spans


def _knock(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """A desktop microphone: before every other prompt (the first included) a knock, louder than the
    speech, that ends 0.1-0.3 s before the first word."""
    dry, spans = _join([_prompt(n) for n in names], (0.6, 1.2), seed=9, lead_s=1.0)
    rng = np.random.default_rng(9)
    audio = dry.copy()
    peak = float(np.max(np.abs(dry)))
    for k, (start, _end) in enumerate(spans):
        if k % 2:
            continue
        end = start - rng.uniform(0.1, 0.3)
        knock = thump(seed=90 + k, seconds=min(0.7, end - (spans[k - 1][1] + 0.1 if k else 0.0)))
        last = int(end * RATE)
        audio[last - len(knock): last] += knock * peak * 1.3
    floor = np.random.default_rng(9).standard_normal(len(dry)) * 10 ** (-65 / 20)
    return audio + floor, dry, spans


def _short_pauses(names: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """A brisk talker (1.15x) with pauses of 0.3-0.6 s, where a voice slower than the speaker spills."""
    audio, spans = _join([faster(_prompt(n), 1.15) for n in names], SHORT_PAUSES, seed=10)
    return audio, audio, spans


# name -> builder: prompt names -> (recording, its dry speech, each prompt's span)
BUILDERS: dict[str, Callable[[list[str]], tuple[np.ndarray, np.ndarray, list]]] = {
    "fast": _fast, "telephone": _telephone, "noise": _noise, "low-male": _low_male,
    "echo-note": _echo_note, "dialogue": _dialogue,
}
# The round-two conditions draw their prompts from their own seeded deal (the pool is not large enough
# for ten disjoint sets, and the first six keep the prompts their figures were measured on).
HARD_BUILDERS: dict[str, Callable[[list[str]], tuple[np.ndarray, np.ndarray, list]]] = {
    "phone-call": _phone_call, "hum": _hum, "knock": _knock, "short-pauses": _short_pauses,
}
FIRST_NAMES = tuple(BUILDERS)
HARD_NAMES = tuple(HARD_BUILDERS)
NAMES = FIRST_NAMES + HARD_NAMES


def genders(name: str, count: int) -> list[str]:
    """Who says each of a condition's ``count`` prompts: the prompts' own speaker is a woman; low-male
    lowers every prompt to a man's voice, dialogue and phone-call every other one."""
    if name == "low-male":
        return ["male"] * count
    if name in ("dialogue", "phone-call"):
        return ["male" if k % 2 else "female" for k in range(count)]
    return ["female"] * count


def prompts_for(name: str) -> list[str]:
    """The prompt names of condition ``name``."""
    if name in BUILDERS:
        return prompt_sets(len(FIRST_NAMES))[FIRST_NAMES.index(name)]
    return prompt_sets(len(HARD_NAMES), HARD_SECONDS, seed=23)[HARD_NAMES.index(name)]


def build(name: str, folder: Path) -> Condition:
    """The condition ``name`` in ``folder`` (made once; a sidecar of the right FORMAT is reused)."""
    folder.mkdir(parents=True, exist_ok=True)
    sidecar = folder / f"{name}.json"
    if sidecar.is_file():
        saved = json.loads(sidecar.read_text(encoding="utf-8"))
        if saved.get("format") == FORMAT and (folder / f"{name}.wav").is_file():
            return _condition(name, folder, saved)
    names = prompts_for(name)
    audio, dry, spans = {**BUILDERS, **HARD_BUILDERS}[name](names)
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

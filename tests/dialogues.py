"""Dialogues and monologues of REAL human voices for the speaker tests, with the truth of who speaks when.

Each voice is one person's recordings from a Debian package (installed by `make install`):

    ru      asterisk-core-sounds-ru-wav     woman, Russian (IvrvoiceRU), median F0 ~208 Hz
    en      asterisk-core-sounds-en-wav     woman, US English (Allison), ~201 Hz
    fr      asterisk-core-sounds-fr-wav     woman, Canadian French (June), ~194 Hz
    it      asterisk-prompt-it-menardi-wav  woman, Italian (Menardi), ~175 Hz
    cs      fillets-ng-data-cs              man, Czech (the big fish's actor in Fish Fillets), ~133 Hz

(F0 medians measured here with Praat over 40 recordings each.) Transforms of one recording are never
used as a second speaker: they are the same person. Every clip is taken through the telephone band
(8 kHz) on its way to 16 kHz, so that the recordings' own bandwidths are no cue to who speaks.
Everything is seeded; the same call gives the same samples.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from speech import RATE, decode

SOUNDS = Path("/usr/share/asterisk/sounds")
FILLETS = Path("/usr/share/games/fillets-ng/sound")


@dataclass(frozen=True)
class Voice:
    name: str
    gender: str
    package: str
    pattern: str        # glob under its folder


VOICES = {
    "ru": Voice("ru", "female", "asterisk-core-sounds-ru-wav", str(SOUNDS / "ru" / "*.wav")),
    "en": Voice("en", "female", "asterisk-core-sounds-en-wav", str(SOUNDS / "en_US_f_Allison" / "*.wav")),
    "fr": Voice("fr", "female", "asterisk-core-sounds-fr-wav", str(SOUNDS / "fr_CA_f_June" / "*.wav")),
    "it": Voice("it", "female", "asterisk-prompt-it-menardi-wav", str(SOUNDS / "it_IT_f_Menardi" / "*.wav")),
    # fillets-ng names its dialogue files <level>-<character>-<line>.ogg; "v" is the big fish
    "cs": Voice("cs", "male", "fillets-ng-data-cs", str(FILLETS / "*" / "cs" / "*-v-*.ogg")),
}

MIN_CLIP_S = 0.8    # shorter clips ("yes", a name) are left out: a phrase is longer than that
MAX_CLIP_S = 9.0


@lru_cache(maxsize=None)
def clip_files(voice: str) -> tuple[Path, ...]:
    """The voice's recordings, sorted by name."""
    import glob

    spec = VOICES[voice]
    files = tuple(sorted(Path(p) for p in glob.glob(spec.pattern)))
    assert files, f"no recordings of voice {voice!r} ({spec.pattern}); run `make install` ({spec.package})"
    return files


@lru_cache(maxsize=4096)
def clip(path: Path) -> np.ndarray:
    """A recording at 16 kHz through the telephone band (decoded at 8 kHz, then up), silence trimmed
    at its ends, at -23 dBFS RMS over its speech."""
    return _level(_trim(_phone_band(path)), -23.0)


def _phone_band(path: Path) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(decode(path, 8000), 2, 1).astype(np.float32)


def _trim(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    """The clip from its first to its last 10 ms frame within 40 dB of its loudest."""
    frames = len(audio) // hop
    if frames == 0:
        return audio
    db = 10 * np.log10(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - 40)
    return audio[loud[0] * hop : (loud[-1] + 1) * hop]


def _level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.asarray(audio, dtype=np.float64) ** 2))) or 1e-9
    return (audio * (10 ** (dbfs / 20) / rms)).astype(np.float32)


@lru_cache(maxsize=None)
def usable_clips(voice: str, min_s: float = MIN_CLIP_S) -> list[Path]:
    """The voice's clips between ``min_s`` and MAX_CLIP_S long (as their files say, before trimming)."""
    import soundfile

    return [p for p in clip_files(voice) if min_s <= soundfile.info(str(p)).duration <= MAX_CLIP_S]


@dataclass(frozen=True)
class Piece:
    start: float
    end: float
    speaker: str        # the voice's name
    source: str         # the clip's file name


@dataclass
class Recording:
    audio: np.ndarray   # float32 mono at RATE
    pieces: list[Piece]  # each clip as placed: the truth of who speaks when

    @property
    def speakers(self) -> list[str]:
        return sorted({p.speaker for p in self.pieces})

    def turns(self) -> list[Piece]:
        """Consecutive pieces of one speaker joined: the turns."""
        out: list[Piece] = []
        for p in self.pieces:
            if out and out[-1].speaker == p.speaker:
                out[-1] = Piece(out[-1].start, p.end, p.speaker, out[-1].source)
            else:
                out.append(p)
        return out


def _place(chunks: list[tuple[np.ndarray, str, str, float]], lead_s: float = 0.5) -> Recording:
    """Join (audio, speaker, source, pause after) chunks on one timeline."""
    parts = [np.zeros(int(lead_s * RATE), dtype=np.float32)]
    pieces, position = [], int(lead_s * RATE)
    for audio, speaker, source, pause in chunks:
        pieces.append(Piece(position / RATE, (position + len(audio)) / RATE, speaker, source))
        gap = int(pause * RATE)
        parts += [audio, np.zeros(gap, dtype=np.float32)]
        position += len(audio) + gap
    return Recording(np.concatenate(parts), pieces)


def dialogue(voices: tuple[str, ...], seconds: float, seed: int, turn_s: tuple[float, float] = (1.0, 10.0),
             pause_s: tuple[float, float] = (0.2, 0.7), inner_pause_s: tuple[float, float] = (0.15, 0.4),
             level_db: tuple[float, float] = (-6.0, 3.0), min_clip_s: float = MIN_CLIP_S) -> Recording:
    """Speakers taking turns for about ``seconds``: each turn a random other speaker, holding clips of
    theirs up to a length drawn from ``turn_s`` (at least one clip), short pauses inside a turn and
    between turns. Each turn's level varies by ``level_db`` (a mic's distance). ``min_clip_s`` 0: the
    short clips too ("yes", a name, a number)."""
    rng = random.Random(seed)
    decks = {v: rng.sample(usable_clips(v, min_clip_s), len(usable_clips(v, min_clip_s))) for v in voices}
    chunks: list[tuple[np.ndarray, str, str, float]] = []
    total, speaker = 0.0, rng.choice(voices)
    while total < seconds:
        wanted, held = rng.uniform(*turn_s), 0.0
        gain = 10 ** (rng.uniform(*level_db) / 20)
        turn: list[tuple[np.ndarray, str, str, float]] = []
        while not turn or held < wanted:
            path = _next(decks[speaker])
            audio = clip(path)
            if turn and held + len(audio) / RATE > wanted + 1.0:
                break
            turn.append((audio * gain, speaker, path.name, rng.uniform(*inner_pause_s)))
            held += len(audio) / RATE
        audio_, who, source, _pause = turn[-1]
        turn[-1] = (audio_, who, source, rng.uniform(*pause_s))
        chunks += turn
        total += held + sum(c[3] for c in turn)
        speaker = rng.choice([v for v in voices if v != speaker])
    return _place(chunks)


def _next(deck: list[Path]) -> Path:
    """The next clip of a shuffled deck (round and round)."""
    path = deck.pop(0)
    deck.append(path)
    return path


def monologue(voice: str, seconds: float, seed: int, pause_s: tuple[float, float] = (0.3, 1.2),
              min_clip_s: float = MIN_CLIP_S) -> Recording:
    """One speaker's clips strung together with pauses, about ``seconds`` long."""
    rng = random.Random(seed)
    deck = rng.sample(usable_clips(voice, min_clip_s), len(usable_clips(voice, min_clip_s)))
    chunks, total = [], 0.0
    while total < seconds:
        path = _next(deck)
        audio, pause = clip(path), rng.uniform(*pause_s)
        chunks.append((audio, voice, path.name, pause))
        total += len(audio) / RATE + pause
    return _place(chunks)


# --------------------------------------------------------------------------- conditions

def through_phone(recording: Recording) -> Recording:
    """The whole recording through the GSM 06.10 codec at 8 kHz (ffmpeg's libgsm), as a phone line."""
    from conditions import gsm

    return Recording(gsm(recording.audio).astype(np.float32), recording.pieces)


def with_noise(recording: Recording, snr_db: float = 10.0, seed: int = 3) -> Recording:
    """Pink noise at ``snr_db`` under the speech (its power measured over the pieces)."""
    from conditions import pink_noise

    audio = recording.audio.astype(np.float64)
    speech = np.concatenate([audio[int(p.start * RATE) : int(p.end * RATE)] for p in recording.pieces])
    noise = pink_noise(len(audio), seed) * np.sqrt(np.mean(speech ** 2) / 10 ** (snr_db / 10))
    return Recording((audio + noise).astype(np.float32), recording.pieces)


def mixed_conditions(recording: Recording, seed: int = 5) -> Recording:
    """One speaker in changing conditions, a third of the time each: as recorded; through the phone
    codec; further from the microphone (12 dB quieter, over a noise floor 30 dB under the speech).
    Room echo is not among them: echo on part of a recording still splits its speaker (see
    benchmarks/README.md, "Speakers")."""
    audio = recording.audio.astype(np.float64)
    third = len(audio) // 3
    phone = through_phone(Recording(audio[third : 2 * third].astype(np.float32), [])).audio
    far = audio[2 * third :] * 10 ** (-12 / 20)
    far += np.random.default_rng(seed).standard_normal(len(far)) * 10 ** ((-23 - 12 - 30) / 20)
    return Recording(np.concatenate([audio[:third], phone, far]).astype(np.float32), recording.pieces)


# --------------------------------------------------------------------------- phrases

def phrases(recording: Recording, words_per_second: float = 2.5) -> list[dict]:
    """One phrase per placed clip, as transcribe writes them: words spread evenly over the clip (their
    text is a placeholder; the speaker stage never reads it)."""
    out = []
    for k, piece in enumerate(recording.pieces):
        count = max(1, int(round((piece.end - piece.start) * words_per_second)))
        edges = np.linspace(piece.start, piece.end, count + 1)
        words = [{"start": round(float(a), 3), "end": round(float(b), 3), "word": f" w{k}_{j}", "probability": 1.0}
                 for j, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
        out.append({"start": piece.start, "end": piece.end, "text": " ".join(w["word"].strip() for w in words),
                    "words": words})
    return out

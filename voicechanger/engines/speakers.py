"""Who speaks when: speaker embeddings (voice_encoder.py) of the speech Silero finds, clustered and
smoothed into turns (speaker_clusters.py); each speaker's register from Praat's pitch; phrases labelled
with their speaker, split at a turn change."""

from __future__ import annotations

from typing import Any, Sequence, TypedDict, cast

import numpy as np

from ..text.phrases import Phrase, Word
from .speaker_clusters import join_turns, speaker_pieces, speech_windows
from .voice_encoder import RATE, embed_frames, frame_power, mel_frames, to_rate


class Speaker(TypedDict):
    label: str          # "Speaker 1", ... numbered in order of first appearance
    gender: str         # "female" | "male" (median F0 against GENDER_SPLIT_HZ)
    median_f0: float    # Hz, over the speaker's voiced speech
    f0_low: float       # Hz, 5th percentile
    f0_high: float      # Hz, 95th percentile
    seconds: float      # speech time attributed to them


Turn = tuple[float, float, str]


class SpeakerMap(TypedDict):
    speakers: list[Speaker]
    turns: list[list]   # [start, end, label], sorted, non-overlapping, covering the speech found


# --------------------------------------------------------------------------- register

GENDER_SPLIT_HZ = 165.0     # median F0 below: a man's voice (men ~85-155 Hz, women ~165-255 Hz)
_PITCH_SECONDS = 60.0       # of each speaker's speech, spread over their pieces: enough for percentiles
_PITCH_STEP_S = 0.02


def register(audio: np.ndarray, pieces: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(5th percentile, median, 95th percentile) F0 in Hz of the speech in ``pieces`` (Praat's two-pass
    pitch, as the prosody engine measures a speaker); zeros when nothing is voiced."""
    from .prosody import robust_contour

    total = sum(b - a for a, b in pieces)
    stride = max(1, int(total // _PITCH_SECONDS))
    chosen = pieces[::stride]
    parts = [audio[int(a * RATE) : int(b * RATE)] for a, b in chosen]
    if not parts:
        return 0.0, 0.0, 0.0
    joined = np.concatenate(parts)[: int(_PITCH_SECONDS * RATE * 1.5)]
    _times, f0 = robust_contour(joined, RATE, step=_PITCH_STEP_S)
    voiced = f0[f0 > 0]
    if len(voiced) < 10:
        return 0.0, 0.0, 0.0
    low, mid, high = np.percentile(voiced, [5, 50, 95])
    return float(low), float(mid), float(high)


def _speaker(label: str, audio: np.ndarray, pieces: list[tuple[float, float]]) -> Speaker:
    low, mid, high = register(audio, pieces)
    return Speaker(label=label, gender="male" if 0 < mid < GENDER_SPLIT_HZ else "female",
                   median_f0=round(mid, 1), f0_low=round(low, 1), f0_high=round(high, 1),
                   seconds=round(sum(b - a for a, b in pieces), 2))


# --------------------------------------------------------------------------- the whole recording

def label(index: int) -> str:
    return f"Speaker {index + 1}"


def find_speakers(audio: np.ndarray, rate: int, count: int | None = None,
                  spans: list[tuple[float, float]] | None = None) -> SpeakerMap:
    """Who speaks when in a whole recording (mono float32 at ``rate``); ``count`` None: found from the
    recording. ``spans``: the speech (seconds), when the caller has Silero's already."""
    from ..signal.activity import vad_spans

    audio = to_rate(audio, rate)
    spans = vad_spans(audio, RATE) if spans is None else spans
    windows = speech_windows(spans)
    if not windows:
        return SpeakerMap(speakers=[], turns=[])
    mels = mel_frames(audio, windows)
    E = embed_frames(mels, frame_power(audio, len(mels)), windows)
    pieces = speaker_pieces(E, windows, spans, count)
    order = {who: k for k, who in enumerate(dict.fromkeys(p[2] for p in pieces))}
    speakers = [_speaker(label(order[who]), audio, [(a, b) for a, b, w in pieces if w == who]) for who in order]
    turns = [[round(a, 3), round(b, 3), label(order[who])] for a, b, who in join_turns(pieces)]
    return SpeakerMap(speakers=speakers, turns=turns)


# --------------------------------------------------------------------------- phrases

_SPLIT_S = 0.8      # a phrase is split where another speaker holds at least this much of it


def _held(start: float, end: float, turns: list[list]) -> dict[str, float]:
    """Seconds of [start, end] each label's turns hold."""
    out: dict[str, float] = {}
    for a, b, who in turns:
        overlap = min(end, b) - max(start, a)
        if overlap > 0:
            out[who] = out.get(who, 0.0) + overlap
    return out


def _owner(start: float, end: float, turns: list[list]) -> str:
    """The label holding most of [start, end]; the nearest turn's where none touches it."""
    held = _held(start, end, turns)
    if held:
        return max(held, key=lambda who: held[who])
    if not turns:
        return label(0)
    middle = (start + end) / 2
    return min(turns, key=lambda t: max(t[0] - middle, middle - t[1]))[2]


def _word_runs(words: list[Word], turns: list[list]) -> list[tuple[str, list[Word]]]:
    """The words grouped into runs of one owner; runs under _SPLIT_S merged into a neighbour."""
    runs: list[tuple[str, list[Word]]] = []
    for word in words:
        who = _owner(float(word["start"]), float(word["end"]), turns)
        if runs and runs[-1][0] == who:
            runs[-1][1].append(word)
        else:
            runs.append((who, [word]))
    while len(runs) > 1:
        lengths = [float(ws[-1]["end"]) - float(ws[0]["start"]) for _who, ws in runs]
        k = int(np.argmin(lengths))
        if lengths[k] >= _SPLIT_S:
            break
        if k == 0 or (k + 1 < len(runs) and lengths[k + 1] > lengths[k - 1]):
            into = k + 1
        else:
            into = k - 1
        first, second = sorted((k, into))
        who = runs[into][0]
        runs[first : second + 1] = [(who, runs[first][1] + runs[second][1])]
    return runs


def _piece(phrase: Phrase, who: str, words: list[Word]) -> Phrase:
    rest: dict[str, Any] = {k: v for k, v in phrase.items() if k not in ("start", "end", "text", "words")}
    text = " ".join(" ".join(str(w["word"]).split()) for w in words)
    return cast(Phrase, {"start": words[0]["start"], "end": words[-1]["end"], "text": text, "words": words,
                         **rest, "speaker": who})


def label_phrases(phrases: Sequence[Phrase], turns: list[list]) -> list[Phrase]:
    """Each phrase with the label of the speaker holding most of its time, as a new dict; a phrase
    holding a turn change (another speaker holds >= _SPLIT_S of it) is split at the word boundary
    nearest the change, each piece timed and worded by its words. A phrase that already names its
    speaker (a user's script) is kept as it is."""
    out: list[Phrase] = []
    for phrase in phrases:
        if "speaker" in phrase:
            out.append(cast(Phrase, dict(phrase)))
            continue
        words = list(phrase.get("words") or [])
        runs = _word_runs(words, turns) if len(words) > 1 else []
        if len(runs) > 1:
            out += [_piece(phrase, who, ws) for who, ws in runs]
        else:
            out.append(cast(Phrase, {**phrase, "speaker": _owner(float(phrase["start"]), float(phrase["end"]), turns)}))
    return out

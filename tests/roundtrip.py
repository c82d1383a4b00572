"""The quality of one conversion, measured as a listener would judge it: what the new voice says (round-
trip WER), with which intonation (log-F0 r), when (phrase starts, speech over the input's silence), and
how rushed it is (the squeeze: the voice's natural phrase length over its slot).

Shared by tests/test_quality.py, tests/test_conditions.py and benchmarks/quality.py."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from conditions import Condition, speech_frames

from speech import RATE, decode, onset, transcribe_text, wer

SILENCE_TOLERANCE_S = 0.2  # output speech this close to input speech is not "over silence"
ROOM_SQUEEZE = 2.0         # a phrase squeezed beyond this had room when the pause after it could fit it


@dataclass
class Figures:
    name: str
    seconds: float
    words: int
    wer: float            # output vs the input, both transcribed by the referee
    wer_input: float      # the input's transcript vs the true text: how well the referee hears the input
    wer_truth: float      # the output's transcript vs the true text
    log_f0_r: float
    f0_frames: int
    starts: int           # phrases whose start could be measured
    start_median_ms: float
    starts_within_100ms: float  # share
    over_silence: float   # share of output speech frames with no input speech within 200 ms
    phrases: int
    squeeze_median: float
    squeeze_over_1_5: int
    squeeze_over_2: int
    squeeze_over_2_with_room: int
    squeeze_max: float

    def row(self) -> dict:
        return asdict(self)


class Referee:
    """transcribe_text with an optional JSON cache keyed by the audio's bytes (a measurement rerun
    after a prosody change transcribes only the new output)."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache
        self.table: dict[str, str] = {}
        if cache is not None and cache.is_file():
            self.table = json.loads(cache.read_text(encoding="utf-8"))

    def __call__(self, audio: np.ndarray) -> str:
        key = hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()
        if key not in self.table:
            self.table[key] = transcribe_text(audio)
            if self.cache is not None:  # whole or not at all, and keeping what another run added
                if self.cache.is_file():
                    self.table = {**json.loads(self.cache.read_text(encoding="utf-8")), **self.table}
                partial = self.cache.with_suffix(f".{os.getpid()}.partial")
                partial.write_text(json.dumps(self.table, ensure_ascii=False), encoding="utf-8")
                partial.replace(self.cache)
        return self.table[key]


def slices(audio: np.ndarray, spans) -> list[np.ndarray]:
    """Each prompt's audio with up to 0.3 s around it, never into the neighbouring prompt."""
    out = []
    for k, (a, b) in enumerate(spans):
        before = 0.3 if k == 0 else min(0.3, (a - spans[k - 1][1]) / 2)
        after = 0.3 if k == len(spans) - 1 else min(0.3, (spans[k + 1][0] - b) / 2)
        out.append(audio[max(int((a - before) * RATE), 0): int((b + after) * RATE)])
    return out


def round_trip_wer(condition: Condition, source: np.ndarray, output: np.ndarray, referee=transcribe_text,
                   log: bool = False) -> tuple[float, float, float, int]:
    """(output vs input, input vs truth, output vs truth, words in the input's transcripts)."""
    sums = np.zeros(3)
    words = 0
    for name, text, src, out in zip(condition.names, condition.texts, slices(source, condition.spans),
                                    slices(output, condition.spans)):
        heard, said = referee(src), referee(out)
        (rate, count), (rate_in, truth_count), (rate_out, _) = wer(heard, said), wer(text, heard), wer(text, said)
        sums += (rate * count, rate_in * truth_count, rate_out * truth_count)
        words += count
        if log:
            print(f"{condition.name} {name}: WER {rate:.2f} ({count} words)\n  in:  {heard}\n  out: {said}")
    truth_words = sum(len(t.split()) for t in condition.texts)  # close enough to weigh the truth rates
    return sums[0] / max(words, 1), sums[1] / max(truth_words, 1), sums[2] / max(truth_words, 1), words


def phrases_of(result, store) -> list[dict]:
    """The stressed phrases of every chunk of a conversion, from the store."""
    return [p for chain in result.plan.chains for p in store.get("stress", chain[1].key).meta["phrases"]]


def start_offsets(result, store, reference: np.ndarray, output: np.ndarray, spans):
    """(output onset - input onset) per phrase whose start the input shows, and the phrases off by more
    than 100 ms.

    The input's onset is looked for in ``reference``, the speech as it was placed (a condition's dry
    speech: no noise, echo or codec floor hides where it starts) and never before the start of the
    prompt the phrase is in (``spans``): what comes before is the previous prompt's. A phrase that
    the speaker runs into from the one before without a pause has no start to measure."""
    offsets, misses = [], []
    previous_end = 0.0
    for phrase in phrases_of(result, store):
        # Look for the onset after the middle of the pause before the phrase, so that the tail of the
        # previous phrase is not taken for this one's start.
        floor = (previous_end + phrase["start"]) / 2
        placed = next((a for a, b in spans if b > phrase["start"]), 0.0)
        src = onset(reference, phrase["start"], not_before=floor, earliest=placed)
        out = onset(output, phrase["start"], not_before=floor)
        previous_end = phrase["end"]
        if src is None:
            continue
        offsets.append(9.9 if out is None else out - src)
        if out is None or abs(out - src) > 0.1:
            misses.append((phrase["start"], round(src, 3), out and round(out, 3), phrase["text"]))
    return np.array(offsets), misses


def over_silence(dry: np.ndarray, output: np.ndarray) -> float:
    """Share of the output's speech frames with no speech in the (dry) input within 200 ms."""
    said, heard = speech_frames(output), speech_frames(dry)
    n = min(len(said), len(heard))
    said, heard = said[:n], heard[:n]
    reach = int(SILENCE_TOLERANCE_S * 100)
    near = np.convolve(heard.astype(float), np.ones(2 * reach + 1), mode="same") > 0
    return float((said & ~near).sum() / max(said.sum(), 1))


def squeezes(result, store) -> list[tuple[float, float]]:
    """Per re-voiced phrase: (the voice's natural speech length / its slot, the same if the phrase
    had also taken all the pause up to the next phrase's slot)."""
    rows = []
    for chain in result.plan.chains:
        synth, placed = store.get("synthesize", chain[2].key), store.get("prosody", chain[3].key)
        audio = synth.array("audio")
        voiced = [p for p in synth.meta["phrases"] if p["length"] > 0]
        slots = placed.meta["phrases"]
        end_of_chunk = max((s["end"] for s in slots), default=0.0)
        for k, (phrase, slot) in enumerate(zip(voiced, slots)):
            speech = np.flatnonzero(speech_frames(_phrase_audio(audio, phrase, synth.meta["sample_rate"])))
            natural = (speech[-1] - speech[0] + 1) / 100 if len(speech) else 0.0
            length = max(slot["end"] - slot["start"], 1e-3)
            room = (slots[k + 1]["start"] if k + 1 < len(slots) else end_of_chunk) - slot["end"]
            rows.append((natural / length, natural / (length + max(room, 0.0))))
    return rows


def _phrase_audio(audio: np.ndarray, phrase: dict, rate: int) -> np.ndarray:
    """One synthesized phrase at RATE."""
    part = np.asarray(audio[phrase["offset"]: phrase["offset"] + phrase["length"]], dtype=np.float64)
    if rate == RATE:
        return part
    from scipy.signal import resample_poly

    return resample_poly(part, RATE, rate)


def measure(condition: Condition, result, store, referee=transcribe_text, log: bool = False) -> Figures:
    """Every figure of one converted condition."""
    from voicechanger.signal.analysis import log_f0_correlation

    source, dry, output = decode(condition.path), decode(condition.dry), decode(result.output)
    rate, rate_in, rate_out, words = round_trip_wer(condition, source, output, referee, log)
    corr, frames = log_f0_correlation(output, RATE, dry, RATE)
    offsets, misses = start_offsets(result, store, dry, output, condition.spans)
    if log:
        for miss in misses:
            print(f"{condition.name}: start off by more than 100 ms: {miss}")
    rows = squeezes(result, store)
    squeeze = np.array([r[0] for r in rows]) if rows else np.zeros(1)
    with_room = sum(1 for s, roomy in rows if s > ROOM_SQUEEZE and roomy <= ROOM_SQUEEZE)
    return Figures(
        name=condition.name, seconds=round(len(source) / RATE, 1), words=words, wer=round(float(rate), 3),
        wer_input=round(float(rate_in), 3), wer_truth=round(float(rate_out), 3), log_f0_r=round(corr, 3), f0_frames=frames,
        starts=len(offsets), start_median_ms=round(float(np.median(np.abs(offsets))) * 1000, 1) if len(offsets) else 0.0,
        starts_within_100ms=round(float(np.mean(np.abs(offsets) <= 0.1)), 3) if len(offsets) else 0.0,
        over_silence=round(over_silence(dry, output), 4), phrases=len(rows),
        squeeze_median=round(float(np.median(squeeze)), 2), squeeze_over_1_5=int((squeeze > 1.5).sum()),
        squeeze_over_2=int((squeeze > 2.0).sum()), squeeze_over_2_with_room=with_room,
        squeeze_max=round(float(squeeze.max()), 2))

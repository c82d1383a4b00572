"""prosody: each synthesized phrase takes the original phrase's time span, word timing, pitch-contour
shape and loudness envelope (Praat PSOLA); the ``duration`` mode keeps timing only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import Settings
from ..text.phrases import Phrase, SaidPhrase, StressedPhrase, Word, WordSpans
from . import contracts
from .base import Context, Memo, Output, Stage
from .contracts import PlacedPhrase, ProsodyMeta

MARGIN_S = 0.25  # slack around Whisper's phrase edges, so the real onset and decay fit in the slot
WORD_PAUSE_S = 0.25  # a silence this long inside a word's span is a pause Whisper stretched the word over
MAX_LEAD_S = 0.5  # how far before Whisper's first word a phrase's real onset is looked for
PAUSE_KEEP_S = 0.1  # a widened phrase ends at least this long before the next phrase starts
RUSHED = 1.5  # a phrase squeezed beyond this is reported: the voice sounds rushed

Span = tuple[float, float]


def phrase_slots(phrases: Sequence[Phrase], lower: float, upper: float) -> list[Span]:
    """Non-overlapping time slots around each phrase: Whisper's span widened by up to MARGIN_S,
    never past the neighbours (a shared gap is split in the middle) or the chunk edges."""
    slots: list[Span] = []
    for j, phrase in enumerate(phrases):
        before = lower if j == 0 else (phrases[j - 1]["end"] + phrase["start"]) / 2
        after = upper if j == len(phrases) - 1 else (phrase["end"] + phrases[j + 1]["start"]) / 2
        start = max(before, phrase["start"] - MARGIN_S, lower)
        end = min(after, phrase["end"] + MARGIN_S, upper)
        slots.append((round(start, 4), round(max(end, start + 0.05), 4)))
    return slots


def shifted(phrases: list[StressedPhrase], by: float) -> list[StressedPhrase]:
    """The phrases with their times (and their words') moved by ``by`` seconds."""
    moved: list[StressedPhrase] = []
    for phrase in phrases:
        words: list[Word] = [{**w, "start": w["start"] + by, "end": w["end"] + by} for w in phrase.get("words") or []]
        copy: StressedPhrase = {**phrase, "start": phrase["start"] + by, "end": phrase["end"] + by}
        if "words" in phrase:
            copy["words"] = words
        moved.append(copy)
    return moved


def with_real_onsets(phrases: list[StressedPhrase], audio: np.ndarray, rate: int, lower: float
                     ) -> list[StressedPhrase]:
    """The phrases with each first word (and the phrase) starting where its speech really starts.

    Whisper sometimes puts a phrase's first word late, after a first syllable; the voice would then
    start late and squeeze that syllable out. The onset is searched back to where the previous phrase's
    speech ends (Whisper's end for it, or later where its speech goes on: see speech_offset).
    Whisper also starts a phrase early, in the breath, a click or noise before it; the voice would then
    start before the speaker does. The start is then moved on to where the voice itself starts
    (voiced_onset), never past the first word's end."""
    from ..engines.prosody import speech_offset, speech_onset, voiced_onset

    refined = []
    for j, phrase in enumerate(phrases):
        words = phrase.get("words") or []
        if not words:
            refined.append(phrase)
            continue
        start = words[0]["start"]
        # Not back into the previous phrase's speech, which can go on past Whisper's end for it.
        previous_end = lower if j == 0 else speech_offset(audio, rate, phrases[j - 1]["end"], start - 0.03) + 0.03
        onset = speech_onset(audio, rate, start, max(previous_end, start - MAX_LEAD_S, lower))
        onset = voiced_onset(audio, rate, onset, words[0]["end"])
        if abs(onset - start) > 0.02:
            first: Word = {**words[0], "start": round(onset, 3)}
            phrase = {**phrase, "start": first["start"], "words": [first, *words[1:]]}
        refined.append(phrase)
    return refined


def _kept_piece(word: Word, stretches: list[Span]) -> tuple[float, float, float, float] | None:
    """(start, end) the word keeps, and where the speech before and after it within its span ends and
    starts, when a pause splits its span; None when none does."""
    pieces = [(max(a, word["start"]), min(b, word["end"])) for a, b in stretches if b > word["start"] and a < word["end"]]
    if len(pieces) < 2:
        return None
    k = max(range(len(pieces)), key=lambda i: pieces[i][1] - pieces[i][0])
    start = word["start"] if k == 0 else pieces[k][0]
    end = word["end"] if k == len(pieces) - 1 else pieces[k][1]
    return start, end, pieces[k - 1][1] if k else start, pieces[k + 1][0] if k < len(pieces) - 1 else end


def words_out_of_pauses(phrases: list[StressedPhrase], audio: np.ndarray, rate: int) -> list[StressedPhrase]:
    """The phrases with no word spanning a pause of WORD_PAUSE_S or more in the speech.

    Whisper can stretch a word over a pause (\"голосовая\" from 51.11 s to 52.67 s over the speaker's
    pause from 51.22 s to 52.08 s, under noise): the voice then said the word across the pause. Such a
    word keeps the longest stretch of speech in its span; the stretch before the pause goes to the
    word before it (when the two touch), the one after it to the word after; the phrase's edges follow
    its first and last word's."""
    from ..engines.prosody import speech_stretches

    out = []
    for phrase in phrases:
        words: list[Word] = [{**w} for w in phrase.get("words") or []]
        if not words or not all(w.get("timed", True) for w in words):
            out.append(phrase)
            continue
        lo = int(max(phrase["start"], 0.0) * rate)
        stretches = [(a + lo / rate, b + lo / rate)
                     for a, b in speech_stretches(audio[lo: int(phrase["end"] * rate)], rate, WORD_PAUSE_S)]
        changed = False
        for k, word in enumerate(words):
            kept = _kept_piece(word, stretches)
            if kept is None:
                continue
            start, end, before, after = kept
            if k and start > word["start"] and words[k - 1]["end"] >= word["start"] - 0.02:
                words[k - 1]["end"] = round(max(words[k - 1]["end"], min(before, start)), 3)
            if k + 1 < len(words) and end < word["end"] and words[k + 1]["start"] <= word["end"] + 0.02:
                words[k + 1]["start"] = round(min(words[k + 1]["start"], max(after, end)), 3)
            word["start"], word["end"], changed = round(start, 3), round(end, 3), True
        if changed:
            phrase = {**phrase, "start": words[0]["start"], "end": words[-1]["end"], "words": words}
        out.append(phrase)
    return out


def natural_lengths(synth_phrases: list[SaidPhrase], synth_audio: np.ndarray, rate: int) -> list[float]:
    """The voice's own length of each phrase's speech (its first to last word, else its speech span)."""
    from ..engines.prosody import audio_speech_span

    lengths = []
    for synth in synth_phrases:
        spans = synth.get("word_spans")
        if spans:
            lengths.append(float(max(b for _a, b in spans) - min(a for a, _b in spans)))
        elif synth["length"]:
            a, b = audio_speech_span(synth_audio[synth["offset"]: synth["offset"] + synth["length"]], rate)
            lengths.append(b - a)
        else:
            lengths.append(0.0)
    return lengths


def squeeze(phrase: Phrase, natural: float) -> float:
    """How much faster than its own pace the voice must speak to fit the phrase's span."""
    return natural / max(phrase["end"] - phrase["start"], 0.01)


def _moved(t: float, start: float, scale: float) -> float:
    """A time inside a phrase that starts at ``start``, stretched by ``scale``."""
    return round(start + (t - start) * scale, 3)


def widen_rushed(phrases: list[StressedPhrase], naturals: list[float], audio: np.ndarray, rate: int,
                 upper: float, max_squeeze: float) -> list[StressedPhrase]:
    """Phrases too short for their words (squeeze beyond ``max_squeeze``: Whisper's word times can
    collapse) take their span from the speech: the end goes on to where the speech really ends and,
    if the voice needs more, into the pause after, never closer than PAUSE_KEEP_S to the next
    phrase's start (nor past the chunk's end). The words keep their share of the widened span."""
    from ..engines.prosody import speech_offset

    widened = []
    for j, (phrase, natural) in enumerate(zip(phrases, naturals)):
        words = phrase.get("words") or []
        limit = upper if j == len(phrases) - 1 else phrases[j + 1]["start"] - PAUSE_KEEP_S
        start, end = phrase["start"], phrase["end"]
        if not words or squeeze(phrase, natural) <= max_squeeze or limit <= end:
            widened.append(phrase)
            continue
        new_end = min(max(speech_offset(audio, rate, end, limit), start + natural / max_squeeze), limit)
        scale = (new_end - start) / max(end - start, 0.01)
        words = [{**w, "start": _moved(w["start"], start, scale), "end": _moved(w["end"], start, scale)}
                 for w in words]
        widened.append({**phrase, "end": round(new_end, 3), "words": words})
    return widened


def squeeze_summary(phrases: Sequence[Phrase], naturals: list[float]) -> dict[str, float | int]:
    """What the voice had to do: phrases squeezed beyond RUSHED and the worst squeeze."""
    ratios = [squeeze(p, n) for p, n in zip(phrases, naturals) if n > 0]
    return {"rushed": sum(1 for r in ratios if r > RUSHED), "worst": round(max(ratios, default=0.0), 2)}


def _synth_word_spans(phrase: StressedPhrase, word_spans: WordSpans | None) -> dict[int, list[float]]:
    """The synthesized span of each source word the voice said (its tokens' spans joined), by index."""
    if not word_spans or len(word_spans) != len(phrase["tokens"]):
        return {}
    grouped: dict[int, list[float]] = {}
    for token, (begin, finish) in zip(phrase["tokens"], word_spans):
        group = grouped.setdefault(token["src"], [float(begin), float(finish)])
        group[0], group[1] = min(group[0], float(begin)), max(group[1], float(finish))
    return grouped


def _increasing(pairs: list[tuple[Span, Span]]) -> list[tuple[Span, Span]]:
    """The anchors that keep strictly increasing on both axes."""
    clean: list[tuple[Span, Span]] = []
    for synth, target in pairs:
        if synth[1] > synth[0] and target[1] > target[0] and (
                not clean or (synth[0] >= clean[-1][0][1] and target[0] >= clean[-1][1][1])):
            clean.append((synth, target))
    return clean


def word_pairs(phrase: StressedPhrase, word_spans: WordSpans | None, slot_start: float) -> list[tuple[Span, Span]]:
    """(span in the synthesized audio, span in the slot) for every source word the voice said."""
    pairs = []
    for src, (begin, finish) in sorted(_synth_word_spans(phrase, word_spans).items()):
        word = phrase["words"][src]
        if not word.get("timed", True):  # spread over a script's cue, not heard: no anchor
            continue
        pairs.append(((begin, finish), (max(0.0, word["start"] - slot_start), max(0.0, word["end"] - slot_start))))
    return _increasing(pairs)


STRETCH_PAUSE_S = 0.2  # a silence this long inside an untimed phrase is a pause the words are fitted to
UNMARKED_CUT_COST = 0.03  # a group ending on a word with no clause mark after it (engines.timemap.group_words)
_CLAUSE_MARKS = tuple(".!?;:,…-–—")


def stretch_pairs(phrase: StressedPhrase, word_spans: WordSpans | None, source: np.ndarray, rate: int
                  ) -> list[tuple[Span, Span]]:
    """Anchors for a phrase whose word times are guesses (a script's cue): the speaker's speech
    stretches (split by pauses of STRETCH_PAUSE_S) get the runs of words whose spoken length in the
    voice best matches theirs at the phrase's overall pace, preferring cuts at clause marks; each run
    is one anchor (its synthesized span -> its stretches in ``source``, the slot's audio). Without
    them the whole phrase maps linearly and every pause of the speaker lands inside some word."""
    from ..engines.prosody import speech_stretches
    from ..engines.timemap import group_words

    spans = _synth_word_spans(phrase, word_spans)
    stretches = speech_stretches(source, rate, STRETCH_PAUSE_S)
    order = sorted(spans)
    n, m = len(order), len(stretches)
    if n < 2 or m < 2:
        return []
    said = np.array([max(spans[i][1] - spans[i][0], 0.0) for i in order])
    heard = np.array([b - a for a, b in stretches])
    texts = [w["word"].strip() for w in phrase["words"]] + [""]
    marked = np.array([texts[i].endswith(_CLAUSE_MARKS) or texts[i + 1] in ("-", "–", "—") for i in order])
    cut_cost = np.where(marked, 0.0, UNMARKED_CUT_COST)
    cut_cost[-1] = 0.0
    pairs = []
    for (j0, j1), (i0, i1) in group_words(said, heard, cut_cost):
        pairs.append(((spans[order[i0]][0], spans[order[i1 - 1]][1]), (stretches[j0][0], stretches[j1 - 1][1])))
    return _increasing(pairs)


def speaker_pitch(audio: np.ndarray, rate: int) -> tuple[Any, tuple[float, float] | None]:
    """(pitch bounds, log-F0 register) of the speaker over a chunk's source audio: the pitch transfer
    maps this register, not each phrase's own, into the voice's, so a phrase said higher than the rest
    stays higher. Measured on the chunk's audio, not on the phrases' slots, so that an edited phrase
    (other words, other times) leaves every other phrase's mapping as it was."""
    from ..engines.prosody import chunk_register, speaker_bounds

    bounds = speaker_bounds(audio, rate)
    return bounds, chunk_register(audio, rate, bounds)


PHRASE_STAGE = "prosody-phrase"
CHUNK_STAGE = "prosody-chunk"


def chunk_key(ctx: Context, reference: np.ndarray, turns: list | None = None) -> str:
    """What the chunk-wide pitch measures depend on: the chunk's source audio, the voice's reference and,
    in a chunk of several voices, the turns measured."""
    extra = [turns] if turns is not None else []
    return Memo.key(CHUNK_STAGE, STAGE.version, ctx.settings.prosody.mode, ctx.one("decode").key,
                    contracts.stressed(ctx.one("stress"))["span"], hashlib.sha256(reference.tobytes()).hexdigest(), *extra)


def voice_turns(ctx: Context, said: list[SaidPhrase], origin: float,
                length: float) -> dict[int, list[list[float]]] | None:
    """The turns (chunk times) of the speakers each voice says, when the chunk's phrases are said by two
    or more voices; None otherwise. One voice for everyone follows the whole chunk's contour, a man's
    and a woman's turns keeping their distance; a voice of one's own takes its speakers' register."""
    found = ctx.all("speakers")
    voice_of = {s["speaker"]: int(s.get("voice", 0)) for s in said if s["length"] and s.get("speaker")}
    if not found or len(set(voice_of.values())) < 2:
        return None
    mine: dict[int, list[list[float]]] = {}
    for start, end, label in contracts.speakers_found(found[0])["turns"]:
        a, b = max(start - origin, 0.0), min(end - origin, length)
        if b > a and label in voice_of:
            mine.setdefault(voice_of[label], []).append([round(a, 3), round(b, 3)])
    return mine if len(mine) > 1 else None


def turns_audio(audio: np.ndarray, rate: int, turns: list[list[float]]) -> np.ndarray:
    """The stretches of ``audio`` that some speakers hold, one after the other (their pitch alone)."""
    pieces = [audio[int(a * rate):int(b * rate)] for a, b in turns]
    return np.concatenate(pieces) if pieces else audio[:0]


def _pair(value: list[float] | None) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value is not None else None


def phrase_key(ctx: Context, phrase: StressedPhrase, slot: Span, synth: SaidPhrase,
               speaker_turns: list | None = None) -> str:
    """Everything one phrase's output depends on: the source audio (decode key, chunk span, slot), its
    word times, which words the tokens came from, the synthesized phrase (its own memo key) and, in a
    chunk of several voices, the turns its voice's register is measured on."""
    decoded = ctx.one("decode")
    words = [(w["start"], w["end"]) for w in phrase.get("words") or []]
    extra = [speaker_turns] if speaker_turns is not None else []
    return Memo.key(PHRASE_STAGE, STAGE.version, ctx.settings.prosody.mode, decoded.key,
                    contracts.stressed(ctx.one("stress"))["span"], list(slot), words, [t["src"] for t in phrase["tokens"]],
                    synth["key"], *extra)


def chunk_wide(ctx: Context, voice: int, source_audio: np.ndarray, rate: int,
               turns: list[list[float]] | None) -> dict[str, Any]:
    """The speaker's and the voice's pitch, measured only when some phrase is not in the memo, and
    kept in a memo of its own: re-dubbing one phrase then measures nothing over the whole chunk.
    In a chunk of several voices each is measured on the turns of the speakers it says. A voice whose
    audio is not at its register yet (the synthesize stage's ``registers``) is moved there."""
    from ..engines.prosody import VoicePitch

    synthesized = ctx.one("synthesize")
    voice_rate = synthesized.meta["sample_rate"]
    full = ctx.settings.prosody.mode == "full"
    wide: dict[str, Any] = {}
    reference = np.asarray(synthesized.array("reference" if voice == 0 else f"reference-{voice}"), dtype=np.float64)
    key = chunk_key(ctx, reference, turns)
    found = ctx.memo.get(CHUNK_STAGE, key)
    if found is not None:
        wide["bounds"], wide["register"] = (_pair(found.meta[k]) for k in ("bounds", "register"))
        wide["voice"] = VoicePitch(np.asarray(found.array("voice_f0"), dtype=np.float64))
    else:
        heard = source_audio if turns is None else turns_audio(source_audio, rate, turns)
        wide["bounds"], wide["register"] = speaker_pitch(heard, rate) if full else (None, None)
        wide["voice"] = VoicePitch.of_chunk(reference, voice_rate, refine=full)
        ctx.memo.put(CHUNK_STAGE, key, {"bounds": wide["bounds"], "register": wide["register"]},
                     {"voice_f0": wide["voice"].contour})
    registers = synthesized.meta.get("registers") or []
    target = registers[voice] if voice < len(registers) else None
    if target is not None:
        wide["voice"] = wide["voice"].moved(float(target[0]), float(target[1]))
    return wide


def run(ctx: Context) -> Output:
    from ..engines.prosody import source_contour, transfer
    from ..signal.cleanup import analysis_copy

    decoded = ctx.one("decode")
    stressed = ctx.one("stress")
    synthesized = ctx.one("synthesize")
    rate = contracts.decoded(decoded)["sample_rate"]
    voice_rate = contracts.said(synthesized)["sample_rate"]
    synth_audio = synthesized.array("audio")
    first, last = contracts.stressed(stressed)["span"]
    origin = first / rate
    # Everything below reads the chunk's analysis copy (rumble and mains hum taken out: the pitch and
    # the speech found are the speaker's), on the chunk's own timeline (0 = its first sample).
    source_audio = analysis_copy(decoded.raw_f32("audio.f32")[first:last], rate)
    said: list[SaidPhrase] = contracts.said(synthesized)["phrases"]
    phrases = with_real_onsets(shifted(contracts.stressed(stressed)["phrases"], -origin), source_audio, rate, 0.0)
    phrases = words_out_of_pauses(phrases, source_audio, rate)
    naturals = natural_lengths(said, synth_audio, voice_rate)
    phrases = widen_rushed(phrases, naturals, source_audio, rate, len(source_audio) / rate,
                           ctx.settings.prosody.max_squeeze)
    slots = phrase_slots(phrases, 0.0, len(source_audio) / rate)
    full = ctx.settings.prosody.mode == "full"
    turns_of = voice_turns(ctx, said, origin, len(source_audio) / rate)
    shared: dict[int, dict[str, Any]] = {}

    pieces: list[np.ndarray] = []
    placed: list[PlacedPhrase] = []
    for phrase, slot, synth in zip(phrases, slots, said):
        if synth["length"] == 0:
            continue
        pairs = word_pairs(phrase, synth["word_spans"], slot[0])
        if phrase.get("words") and not any(w.get("timed", True) for w in phrase["words"]):
            source = np.array(source_audio[int(slot[0] * rate) : int(slot[1] * rate)], dtype=np.float32)
            pairs = stretch_pairs(phrase, synth["word_spans"], source, rate)
        voice_index = int(synth.get("voice", 0))
        mine = turns_of.get(voice_index) if turns_of is not None else None
        key = phrase_key(ctx, phrase, slot, synth, mine)
        found = ctx.memo.get(PHRASE_STAGE, key)
        if found is not None:
            out = np.asarray(found.array("audio"), dtype=np.float32)
        else:
            if voice_index not in shared:
                shared[voice_index] = chunk_wide(ctx, voice_index, source_audio, rate, mine)
            wide = shared[voice_index]
            source = np.array(source_audio[int(slot[0] * rate) : int(slot[1] * rate)], dtype=np.float32)
            contour = source_contour(source, rate, wide["bounds"]) if full else None
            voice = np.array(synth_audio[synth["offset"] : synth["offset"] + synth["length"]], dtype=np.float32)
            out = transfer(voice, voice_rate, source, rate, pairs, mode=ctx.settings.prosody.mode, pitch=full,
                           loudness=full, source_pitch=contour, register=wide["register"],
                           voice_pitch=wide["voice"]).astype(np.float32)
            ctx.memo.put(PHRASE_STAGE, key, {"length": len(out)}, {"audio": out})
        placed.append({"start": round(slot[0] + origin, 4), "end": round(slot[1] + origin, 4), "length": len(out),
                       "anchors": len(pairs)})
        pieces.append(out)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    meta = ProsodyMeta(index=contracts.stressed(stressed)["index"], sample_rate=voice_rate, phrases=placed,
                      squeeze=squeeze_summary(phrases, naturals))
    return Output(meta, arrays={"audio": audio})


def warm_up(settings: Settings) -> None:
    from ..engines import prosody  # noqa: F401  (imports Praat)


STAGE = Stage("prosody", 16, ("prosody.mode", "prosody.max_squeeze"), run, warm_up=warm_up)

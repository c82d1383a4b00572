"""The page's rows: one per phrase of the finished run, read from its artifacts in the store (the
same stress artifacts `voice script` exports), so the page shows exactly what the voice read."""

from __future__ import annotations

from typing import Any

from ..runners.lifecycle import Result
from ..text.phrases import StressedPhrase
from ..text.script import UNSURE, script_cues
from ..text.subtitles import Cue
from ..voices.cast import AUTO, voice_name


def stressed_phrases(result: Result) -> list[StressedPhrase]:
    """Every phrase of the recording as stress marked it (absolute times), in order."""
    if result.plan is None or result.store is None:
        return []
    phrases: list[StressedPhrase] = []
    for chain in result.plan.chains:
        found = result.store.get(chain.stress.name, chain.stress.key, verify=False)
        if found is not None:
            phrases += found.meta["phrases"]
    return phrases


def slots(result: Result) -> list[tuple[float, float]]:
    """Where each phrase's new voice lies in the output (prosody's slots, absolute seconds)."""
    if result.plan is None or result.store is None:
        return []
    out: list[tuple[float, float]] = []
    for chain in result.plan.chains:
        found = result.store.get(chain.prosody.name, chain.prosody.key, verify=False)
        if found is not None:
            out += [(float(p["start"]), float(p["end"])) for p in found.meta["phrases"]]
    return out


def _slot_of(start: float, end: float, placed: list[tuple[float, float]]) -> tuple[float, float]:
    """The slot that overlaps the cue most (the cue itself when none does: a phrase left unsaid)."""
    best, overlap = (start, end), 0.0
    for a, b in placed:
        shared = min(b, end) - max(a, start)
        if shared > overlap:
            best, overlap = (a, b), shared
    return best


def _words(cue: Cue) -> list[dict[str, Any]]:
    """The cue's words for the page: the text without the unsure mark, and whether it carried one."""
    return [{"text": w.replace(UNSURE, ""), "unsure": UNSURE in w} for w in cue.text.split() if w.replace(UNSURE, "")]


def voice_of(speaker: str | None, cast: dict[str, str], default: str) -> str:
    return cast.get(speaker or "", default)


def page_rows(result: Result, settings_voice: Any) -> list[dict[str, Any]]:
    """One row per cue of the script: id (its times in ms, how an edit names it), times, slot,
    speaker, voice, words (with the unsure ones flagged) and the text as the page edits it."""
    phrases = stressed_phrases(result)
    cues = script_cues(phrases)
    placed = slots(result)
    cast = {row["speaker"]: row["voice"] for row in result.cast}
    default = "auto" if settings_voice == AUTO else voice_name(settings_voice)
    rows = []
    for index, cue in enumerate(cues):
        words = _words(cue)
        slot = _slot_of(cue.start, cue.end, placed)
        rows.append({
            "index": index, "id": cue_id(cue), "start": cue.start, "end": cue.end,
            "slot": [round(slot[0], 4), round(slot[1], 4)], "speaker": cue.speaker or "",
            "voice": voice_of(cue.speaker, cast, default), "words": words,
            "text": " ".join(w["text"] for w in words), "unsure": any(w["unsure"] for w in words),
        })
    return rows


def cue_id(cue: Cue) -> str:
    """A cue's name on the page: its times in milliseconds (edits keep them; two cues never share them)."""
    return f"{round(cue.start * 1000)}-{round(cue.end * 1000)}"

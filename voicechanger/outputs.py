"""What every runner does once a recording's final artifact exists: find the phrases the voice could
not say, write the subtitles, and write the output (whole or not at all). The local runner (local.py)
and the Prefect flow (flows/voice.py) both finish a recording with these."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .audio import output_format, write_atomic
from .config import Settings
from .errors import UnsaidPhrases
from .graph import Graph
from .phrases import SaidPhrase, StressedPhrase
from .plan import Plan
from .store import Artifact
from .video import is_video, mux


def unsaid_phrases(graph: Graph, plan: Plan) -> list[dict[str, Any]]:
    """The phrases of this recording that the voice could not say (stored as unsaid by synthesize), as
    {"start", "text", "why"}. Read from the synthesize and stress artifacts' metadata, so a cached rerun
    reports them too (a pruned artifact is made again)."""
    found: list[dict[str, Any]] = []
    for _transcribe, stress, synthesize, _prosody in plan.chains:
        said = graph.store.get(synthesize.name, synthesize.key, verify=False) or graph.ensure(synthesize)
        entries: list[SaidPhrase] = said.meta["phrases"]
        failed = [(i, entry["error"]) for i, entry in enumerate(entries) if entry.get("error")]
        if not failed:
            continue
        stressed = graph.store.get(stress.name, stress.key, verify=False) or graph.ensure(stress)
        phrases: list[StressedPhrase] = stressed.meta["phrases"]
        for i, why in failed:
            phrase = phrases[i]
            found.append({"start": round(phrase["start"], 2), "text": phrase.get("text") or phrase["stressed"],
                          "why": why})
    return found


def check_unsaid(unsaid: list[dict[str, Any]], source: Path, strict: bool) -> None:
    """With ``strict``, unsaid phrases are an error (raised before any output is written)."""
    if strict and unsaid:
        first = unsaid[0]
        raise UnsaidPhrases(
            f"input {source}: {len(unsaid)} phrase(s) have nothing the voice can say (first at {first['start']:.1f} s: "
            f"{first['text'][:80]!r}); no output written (strict); respell them or run without --strict")


def recording_phrases(transcript: Artifact) -> list[dict[str, Any]]:
    """The phrases of a recording (start, end, text, words) from its transcript artifact."""
    return json.loads(transcript.file("transcript.json").read_text(encoding="utf-8"))["phrases"]


def write_subtitles(phrases: list[dict[str, Any]], output: Path, fmt: str, duration: float) -> Path | None:
    """``output`` with the extension .srt or .vtt beside it, one cue per phrase (none for 'none')."""
    from .subtitles import phrase_cues, write_cues

    if fmt == "none":
        return None
    return write_cues(phrase_cues(phrases, duration), output.with_suffix("." + fmt), fmt)


def write_output(final: Artifact, input_path: Path, output_path: Path, settings: Settings,
                 subtitles: Path | None = None) -> None:
    """The final write, whole or not at all: the final artifact's file, or for a video output the
    input's video with it (and the original's audio, ``subtitles`` when given) muxed around it."""
    audio = final.file(final.meta["file"])
    if is_video(output_format(output_path)):
        mux(input_path, audio, output_path, language=settings.whisper.language,
            keep_original=settings.output.keep_original_audio, subtitles=subtitles)
    else:
        write_atomic(audio, output_path)


"""What every runner does once a recording's final artifact exists: find the phrases the voice could
not say, write the subtitles, and write the output (whole or not at all). The local runner (local.py)
and the Prefect flow (flows/voice.py) both finish a recording with these."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import UnsaidPhrases
from ..graph import Graph
from ..plan import Plan
from ..stages import contracts
from ..store import Artifact
from ..text.phrases import SaidPhrase, StressedPhrase
from .audio import output_format, part_name, sweep_parts, write_atomic
from .video import audio_delay, is_video, mux


def unsaid_phrases(graph: Graph, plan: Plan) -> list[dict[str, Any]]:
    """The phrases of this recording that the voice could not say (stored as unsaid by synthesize), as
    {"start", "text", "why"}. Read from the synthesize and stress artifacts' metadata, so a cached rerun
    reports them too (a pruned artifact is made again)."""
    found: list[dict[str, Any]] = []
    for _transcribe, stress, synthesize, _prosody in plan.chains:
        said = graph.store.get(synthesize.name, synthesize.key, verify=False) or graph.ensure(synthesize)
        entries: list[SaidPhrase] = contracts.said(said)["phrases"]
        failed = [(i, entry["error"]) for i, entry in enumerate(entries) if entry.get("error")]
        if not failed:
            continue
        stressed = graph.store.get(stress.name, stress.key, verify=False) or graph.ensure(stress)
        phrases: list[StressedPhrase] = contracts.stressed(stressed)["phrases"]
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


def subtitle_offset(input_path: Path, output_path: Path) -> float:
    """Where the phrases' time 0 lies on the output's timeline: a video output keeps the input's
    picture, and its audio (on which the phrases are timed) may start after it; 0 for an audio output."""
    return audio_delay(input_path) if is_video(output_format(output_path)) else 0.0


def as_said(graph: Graph, plan: Plan, phrases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The phrases timed where the voice says them (a cue shows while its words are heard, and
    Whisper's phrase edges can be 0.3 s off the speech, which the voice's placing corrects); a phrase
    the voice does not say keeps its own times."""
    from ..stages.mix import said_spans

    prosodies = [graph.store.get(chain.prosody.name, chain.prosody.key, verify=False) or graph.ensure(chain.prosody)
                 for chain in plan.chains]
    spans = said_spans(prosodies)
    if len(spans) != len(phrases):  # not one piece per phrase: keep the transcript's times
        return phrases
    return [phrase if span is None else {**phrase, "start": span[0], "end": span[1]}
            for phrase, span in zip(phrases, spans)]


def write_subtitles(phrases: list[dict[str, Any]], output: Path, fmt: str, duration: float,
                    offset: float = 0.0, path: Path | None = None) -> Path | None:
    """``output`` with the extension .srt or .vtt beside it (or ``path``), one cue per phrase (none for
    'none'), ``offset`` seconds later than the phrases (see subtitle_offset)."""
    from ..text.subtitles import phrase_cues, shifted, write_cues

    if fmt == "none":
        return None
    return write_cues(shifted(phrase_cues(phrases, duration), offset), path or output.with_suffix("." + fmt), fmt)


def write_recording_subtitles(graph: Graph, plan: Plan, phrases: list[dict[str, Any]], input_path: Path,
                              output_path: Path, fmt: str, duration: float, path: Path | None = None) -> Path | None:
    """The subtitles beside a recording's output (or at ``path``): its phrases as the voice says them,
    on the output's timeline (write_subtitles)."""
    if fmt == "none":
        return None
    return write_subtitles(as_said(graph, plan, phrases), output_path, fmt, duration,
                           subtitle_offset(input_path, output_path), path)


def write_outputs(graph: Graph, plan: Plan, final: Artifact, phrases: list[dict[str, Any]], input_path: Path,
                  output_path: Path, settings: Settings, soft_track: Path | None = None) -> Path | None:
    """The output and its subtitles as one unit: the subtitles are written under a temporary name (the
    soft track of a video output is muxed from it), and take their own name only once the output is
    written; a failure or an interrupt in between leaves neither, and what a run killed meanwhile
    left is swept by the next one (audio.sweep_parts). Returns the subtitles' path (None for 'none').
    ``soft_track``: a user's own subtitles to mux instead."""
    fmt = settings.subtitles
    beside = None if fmt == "none" else output_path.with_suffix("." + fmt)
    for written in (output_path, beside):  # what a killed run of this output left
        if written is not None:
            sweep_parts(written)
    pending = None if beside is None else part_name(beside)
    try:
        if pending is not None:
            write_recording_subtitles(graph, plan, phrases, input_path, output_path, fmt, contracts.concatenated(final)["duration"],
                                      pending)
        write_output(final, input_path, output_path, settings, soft_track or (pending if phrases else None))
        if pending is not None and beside is not None:
            os.replace(pending, beside)
    finally:
        if pending is not None:
            pending.unlink(missing_ok=True)
    return beside


def write_output(final: Artifact, input_path: Path, output_path: Path, settings: Settings,
                 subtitles: Path | None = None) -> None:
    """The final write, whole or not at all: the final artifact's file, or for a video output the
    input's video with it (and the original's audio, ``subtitles`` when given) muxed around it."""
    audio = final.file(contracts.concatenated(final)["file"])
    if is_video(output_format(output_path)):
        mux(input_path, audio, output_path, language=settings.whisper.language,
            keep_original=settings.output.keep_original_audio, subtitles=subtitles)
    else:
        write_atomic(audio, output_path)


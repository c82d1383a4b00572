"""One recording's lifecycle, written once for every runner: ``admit`` (the checks before any work),
then the runner plans and executes the nodes in its own way, then ``finish`` (the phrases the voice
could not say, the output and its subtitles as one unit, the notices, the cast, what the run re-did)
gives the one ``Result`` that every front end reports. The local runner (local.py), the folder runner
(batch.py) and the Prefect flow (flows/voice.py) only schedule."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import check_not_input
from ..config import Settings
from ..graph import Graph
from ..media.audio import check_input, check_output, output_format, probe
from ..media.outputs import check_unsaid, recording_phrases, unsaid_phrases, write_outputs
from ..media.video import check_video_output
from ..notices import (
    Notice,
    PhrasesSaid,
    dropped_streams,
    phrases_said,
    recording_cast,
    recording_notices,
    speech_covered,
    transcribe_metas,
    unsaid_notice,
)
from ..plan import Plan
from ..stages import contracts
from ..store import Artifact, Store

STATUSES = ("converted", "cached", "failed")


@dataclass
class Result:
    """What one recording's run did, whichever runner ran it: the summary, the tests and the reports
    read this (a failed recording has only ``status``, ``error`` and the times)."""

    input: Path
    output: Path
    status: str = "converted"  # one of STATUSES
    duration: float = 0.0      # seconds of audio
    seconds: float = 0.0       # wall time of the run
    error: str = ""
    ran: list[str] = field(default_factory=list)  # stages computed by this run, in order
    stage_seconds: dict[str, float] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    unsaid: list[dict[str, Any]] = field(default_factory=list)  # outputs.unsaid_phrases
    phrases: list[dict[str, Any]] = field(default_factory=list)  # start, end, text, words (and speaker)
    speech_covered: float | None = None  # share of the input's speech its phrases say
    cast: list[dict[str, Any]] = field(default_factory=list)  # speakers and their voices (notices.recording_cast)
    said: PhrasesSaid | None = None  # how many phrases this run said again
    subtitles: Path | None = None
    transcript: Path | None = None
    concat: Artifact | None = None  # the final artifact: concat's, or mix's when there is a mix
    plan: Plan | None = None
    store: Store | None = None

    @property
    def cached(self) -> bool:
        return self.status == "cached"

    def said_text(self) -> str:
        """What the run said again, in the words every front end shows ("" for a failed recording)."""
        return "" if self.said is None else self.said.text()

    def phrase_spans(self) -> list[tuple[float, float]]:
        """(start, end) of every re-voiced phrase, from the prosody artifacts."""
        if self.plan is None or self.store is None:
            return []
        spans = []
        for chain in self.plan.chains:
            artifact = self.store.get(chain.prosody.name, chain.prosody.key)
            if artifact is not None:
                spans += [(p["start"], p["end"]) for p in contracts.placed(artifact)["phrases"]]
        return spans

    def outcome(self) -> dict[str, Any]:
        """The JSON-able summary (the flow's return value and artifacts)."""
        return {
            "input": str(self.input), "output": str(self.output), "status": self.status,
            "duration": round(self.duration, 3), "seconds": round(self.seconds, 3), "error": self.error,
            "ran": sorted(set(self.ran)), "unsaid": self.unsaid, "notices": [n.as_dict() for n in self.notices],
            "speech_covered": self.speech_covered, "said": self.said_text() or None,
        }


def failed(source: Path, target: Path, error: str, started: float | None = None) -> Result:
    """The result of a recording that could not be converted."""
    seconds = time.perf_counter() - started if started else 0.0
    return Result(Path(source), Path(target), "failed", seconds=seconds, error=error)


def admit(source: Path, target: Path) -> str:
    """The checks before any work on one recording; returns the output's format. A folder's pairs were
    checked as a folder (batch.recording_pairs), a mirrored name can still pass 255 bytes: every
    runner checks each file here, before its work."""
    check_input(source)
    check_output(target)
    check_not_input(target, source)
    fmt = output_format(target)
    check_video_output(source, target)
    return fmt


def finish(graph: Graph, plan: Plan, source: Path, target: Path, settings: Settings, *, ran: list[str],
           ran_keys: set[str], started: float, soft_track: Path | None = None) -> Result:
    """Once the plan's nodes are done (or in the store): refuse unsaid phrases under strict, write the
    output and its subtitles, and say what the user must know. ``ran``/``ran_keys``: the stages and
    node keys this run computed (the runner knows them; a cached rerun has none)."""
    store = graph.store
    final = graph.ensure(plan.final)
    transcript = graph.ensure(plan.transcript)
    unsaid = unsaid_phrases(graph, plan)
    check_unsaid(unsaid, source, settings.strict)
    phrases = recording_phrases(transcript)
    subtitles = write_outputs(graph, plan, final, phrases, source, target, settings, soft_track)
    duration = float(contracts.concatenated(final)["duration"])
    notices = recording_notices(store, plan, source, target, len(phrases), duration, settings.mix.mode)
    dropped = dropped_streams(source, probe(source)["streams"])
    if dropped:
        notices.append(dropped)
    if unsaid:
        notices.append(unsaid_notice(source, unsaid))
    ran = [*ran, *graph.ran]
    status = "converted" if ran else "cached"
    return Result(
        input=source,
        output=target,
        status=status,
        duration=duration,
        seconds=time.perf_counter() - started,
        ran=ran,
        stage_seconds=dict(graph.seconds),
        notices=notices,
        unsaid=unsaid,
        phrases=phrases,
        speech_covered=speech_covered(transcribe_metas(store, plan)),
        cast=recording_cast(store, plan, settings, phrases),
        said=phrases_said(store, plan, ran_keys | graph.ran_keys, cached=status == "cached"),
        subtitles=subtitles,
        transcript=transcript.file("transcript.json"),
        concat=final,
        plan=plan,
        store=store,
    )

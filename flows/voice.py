"""The Prefect flow ``voice``: one recording or a folder of them, each stage a task (tasks.stages).
It runs the plan of voicechanger.plan, as the local runner (voicechanger.runners.local) and the folder runner
(voicechanger.runners.batch) do; only the scheduling is its own.

Per recording: hash the input, then decode + chunk (they give the chunk spans), then
``plan_from_spans`` declares every node and the per-chunk chains (transcribe → stress → synthesize →
prosody) run, then transcript + concat (+ mix: the voice with the original's audio, for videos and
the gaps and voiceover modes), then the output is written atomically (a video: muxed around it). A folder's tree is
mirrored into the output folder (voicechanger.runners.batch.recording_pairs, as in the CLI). A bad file is reported and
skipped; the others finish; the run then fails, naming the bad files.

Scheduling and task runners: flows/scheduler.py.

Paths given to the flow (input, output, cache_dir) are relative to the process that runs the flow:
the shell for ``voice convert --prefect``, the folder where ``make serve`` runs for the deployment.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from flows.scheduler import Recording, Scheduler, make_runner
from tasks.stages import ensure_gpu_limit, store_for
from voicechanger.config import Settings, load_settings
from voicechanger.errors import FAILED, VoiceError, error_message
from voicechanger.graph import Graph, Node
from voicechanger.notices import cast_text, covered_text
from voicechanger.plan import check_mapping, front_nodes, plan_from_spans, plan_script
from voicechanger.runners.batch import recording_pairs
from voicechanger.runners.lifecycle import STATUSES, Result, admit, failed, finish
from voicechanger.runtime.threads import import_before_threads
from voicechanger.stages import contracts
from voicechanger.store import sha256_file
from voicechanger.text.script import check_one_recording


class BatchFailed(VoiceError):
    """Some recordings of a folder failed (the others were converted)."""

    exit_code = FAILED


def _summary_markdown(results: list[Result], counts: dict[str, int]) -> str:
    """The run's summary artifact: one row per recording, then every notice (unsaid phrases among them)."""
    rows = ["| input | status | audio s | phrases said | output / error |", "|---|---|---:|---|---|"]
    rows += [f"| {r.input} | {r.status} | {r.duration:.1f} | {r.said_text()} | {r.error or r.output} |"
             for r in results]
    notes = [f"- {n.severity}: {n.text}" for r in results for n in r.notices]
    head = ", ".join(f"{n} {s}" for s, n in counts.items())
    return "\n".join([f"**{head}**", "", *rows, *(["", "Notices:", *notes] if notes else [])])


def _slug(path: Path) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", str(path).lower()).strip("-")[-48:].strip("-")
    return f"transcript-{text or 'recording'}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"


def _settings(profile: str, voice_spec: str | None, overrides: dict[str, Any] | None, mix: str | None = None,
              keep_original_audio: bool | None = None) -> Settings:
    merged = dict(overrides or {})
    for key, value in (("voice", voice_spec), ("mix.mode", mix), ("output.keep_original_audio", keep_original_audio)):
        if value is not None:
            merged[key] = value
    return load_settings(profile, merged)


class Batch:
    """Drives the recordings of one flow run through the scheduler, ``workers + 1`` at a time."""

    def __init__(self, pairs: list[tuple[Path, Path]], scheduler: Scheduler, settings: Settings, logger: Any,
                 progress_id: Any, script: Path | None = None) -> None:
        self.script = script
        self.queue = deque(Recording(i, Path(os.path.abspath(src)), dst) for i, (src, dst) in enumerate(pairs))
        self.total = len(self.queue)
        self.scheduler = scheduler
        self.settings = settings
        self.logger = logger
        self.progress_id = progress_id
        self.window = settings.workers + 1  # the next recording's decode overlaps this one's tail
        self.active: list[Recording] = []
        self.finished: list[Recording] = []

    def run(self) -> list[Recording]:
        sched = self.scheduler
        while self.queue or self.active:
            self._admit()
            if self._settle():
                continue
            sched.pump()
            if self._settle():
                continue
            if not sched.running:  # cannot happen unless a node was lost; never hang
                for rec in list(self.active):
                    self._fail(rec, RuntimeError("nothing left to run for this recording (internal error)"))
                continue
            sched.step()
        return sorted(self.finished, key=lambda r: r.index)

    # -- phases --------------------------------------------------------------------------------
    def _admit(self) -> None:
        while self.queue and len(self.active) < self.window:
            rec = self.queue.popleft()
            rec.started = time.perf_counter()
            try:
                rec.fmt = admit(rec.source, rec.target)
                rec.root_key = sha256_file(rec.source)
                rec.decode, rec.chunk = front_nodes(self.settings, rec.source, rec.root_key)
                self.scheduler.want(rec.chunk, rec, {}, self._titles(rec, [rec.decode, rec.chunk]))  # may decode
            except Exception as exc:
                self._fail(rec, exc)
                continue
            rec.phase = "front"
            rec.waiting_on = {rec.chunk.key}
            self.active.append(rec)

    def _titles(self, rec: Recording, nodes: list[Node]) -> dict[str, str]:
        return {n.key: f"{n.name}{' ' + n.label if n.label != n.name else ''} · {rec.source.name}" for n in nodes}

    def _settle(self) -> bool:
        """Move every recording whose awaited nodes are resolved to its next phase."""
        sched = self.scheduler
        moved = False
        for rec in list(self.active):
            broken = next((k for k in rec.waiting_on if k in sched.failed), None)
            if broken is not None:
                message, exc = sched.failed[broken]
                self._fail(rec, exc, message)
                moved = True
            elif rec.waiting_on <= sched.done.keys():
                try:
                    self._plan(rec) if rec.phase == "front" else self._finish(rec)
                except Exception as exc:
                    self._fail(rec, exc)
                moved = True
        return moved

    def _plan(self, rec: Recording) -> None:
        graph = Graph(self.scheduler.store, self.settings)
        if self.script is not None:  # the cues are the phrases: script nodes instead of transcribe
            plan = plan_script(graph, rec.source, rec.fmt, self.script)
        else:
            assert rec.decode is not None and rec.chunk is not None  # set by _admit
            spans = contracts.chunked(graph.ensure(rec.chunk))["spans"]
            plan = plan_from_spans(self.settings, rec.decode, rec.chunk, spans, rec.fmt, rec.root_key)
        check_mapping(graph, plan)  # a mapping to a speaker that is not there fails before the transcription
        rec.ran.extend(graph.ran)
        rec.ran_keys |= graph.ran_keys
        rec.plan = plan
        priority = {n.key: (rec.index, i) for i, chain in enumerate(plan.chains) for n in chain}
        for node in (plan.transcript, plan.concat, plan.final):
            priority[node.key] = (rec.index, len(plan.chains))
        if plan.speakers is not None:  # every chunk's voice work waits for it
            priority[plan.speakers.key] = (rec.index, -1)
        titles = self._titles(rec, plan.nodes())
        self.scheduler.want(plan.transcript, rec, priority, titles)
        self.scheduler.want(plan.final, rec, priority, titles)
        rec.waiting_on = {plan.transcript.key, plan.final.key}
        rec.phase = "chains"

    def _finish(self, rec: Recording) -> None:
        assert rec.plan is not None
        graph = Graph(self.scheduler.store, self.settings)  # store hits; rebuilds only what vanished meanwhile
        result = finish(graph, rec.plan, rec.source, rec.target, self.settings, ran=rec.ran, ran_keys=rec.ran_keys,
                        started=rec.started)
        rec.result = result
        self._done(rec)
        phrases = [{"start": round(p["start"], 2), "end": round(p["end"], 2), "text": p["text"]} for p in result.phrases]
        create_table_artifact(
            phrases or [{"start": None, "end": None, "text": "(no speech found)"}],
            key=_slug(rec.source),
            description=f"Phrases of {rec.source} → {rec.target} ({result.duration:.1f} s, {result.status})",
        )
        if result.subtitles is not None:
            create_markdown_artifact(
                f"Subtitles of `{rec.source}` ({result.subtitles.name}):\n\n```\n"
                f"{result.subtitles.read_text(encoding='utf-8')}```\n",
                key=_slug(rec.source).replace("transcript-", "subtitles-", 1),
                description=f"{result.subtitles} ({len(phrases)} phrases)",
            )
        if result.cast:
            create_table_artifact(result.cast, key=_slug(rec.source).replace("transcript-", "speakers-", 1),
                                  description=f"Speakers of {rec.source} and their voices")
            self.logger.info("%s: %s", rec.source, cast_text(result.cast))
        said = result.said_text()
        self.logger.info("%s: %s → %s (%.1f s of audio; %s%d phrases; %s)", result.status, rec.source, rec.target,
                         result.duration, covered_text(result.speech_covered), len(phrases), said)
        for notice in result.notices:
            self.logger.warning("%s: %s", notice.severity, notice.text)

    def _fail(self, rec: Recording, exc: BaseException, message: str | None = None) -> None:
        rec.exception = exc
        rec.result = failed(rec.source, rec.target, message or error_message(exc), rec.started)
        self.logger.error("failed: %s: %s", rec.source, rec.result.error)
        self._done(rec)

    def _done(self, rec: Recording) -> None:
        rec.phase = "done"
        if rec in self.active:
            self.active.remove(rec)
        self.finished.append(rec)
        if self.progress_id is not None:
            update_progress_artifact(self.progress_id, 100.0 * len(self.finished) / self.total,
                                     description=f"{len(self.finished)} of {self.total} recordings done")


@flow(name="voice", description="Re-voice a Russian recording, or every recording under a folder.")
def voice(
    input: str,
    output: str,
    profile: str = "normal",
    voice: str | None = None,
    overrides: dict[str, Any] | None = None,
    cache_dir: str = "cache",
    output_format: str = "mp3",
    mix: str | None = None,
    keep_original_audio: bool | None = None,
    script: str | None = None,
    lexicon: str | None = None,
) -> dict[str, Any]:
    """Convert ``input`` (a file, or a folder whose tree is mirrored) to ``output``.

    profile: fast, normal, high or a YAML file; voice: auto (a voice per speaker), one voice for everybody
    (olga, backend:name, a voice file) or voices by speaker ("Speaker 1=olga,Speaker 2=pavel"); overrides: settings by dotted key
    ({"whisper.model": "small", "workers": 2, "runner": "dask"}); cache_dir: the artifact store, shared
    with the CLI; output_format: the extension of a folder's outputs (mp4, mkv, webm, mov: videos); mix:
    replace, gaps or voiceover; keep_original_audio: a video output keeps the original as a second
    audio track; script: an edited script (.srt or .vtt, from `voice script`) for a one-file
    input: its cues are the phrases and Whisper does not run; lexicon: a YAML file of 'word: how to say
    it'. Returns the summary
    {converted, cached, failed, recordings: [...]}; the run fails when any recording failed.
    """
    logger = get_run_logger()
    try:
        settings = _settings(profile, voice, {**(overrides or {}), **({"lexicon": lexicon} if lexicon else {})}, mix,
                             keep_original_audio)
        return _convert(logger, settings, Path(input).expanduser(), Path(output).expanduser(), profile=profile,
                        cache_dir=cache_dir, output_format=output_format, script=script)
    except VoiceError as exc:  # the one line `prefect deployment run --watch` prints (the state message has it too)
        logger.error("error: %s", error_message(exc))
        raise


def _convert(logger: Any, settings: Settings, source: Path, target: Path, *, profile: str, cache_dir: str,
             output_format: str, script: str | None) -> dict[str, Any]:
    """The flow's work: every recording's pairs scheduled as tasks, then the summary."""
    started = time.perf_counter()
    import_before_threads()  # the task runner's threads run stages side by side
    pairs = recording_pairs(source, target, output_format)
    check_one_recording(script or None, source, option="script")

    from voicechanger.engines.asr import resolve_device

    device = resolve_device(settings.device)
    if device == "cuda":
        ensure_gpu_limit(1)
    store = store_for(cache_dir)
    runner, limit = make_runner(settings)
    logger.info("%d recording(s) from %s, profile %s, voice %s, device %s, runner %s, store %s",
                len(pairs), source, profile, settings.voice, device, settings.runner, store.root)
    progress_id = create_progress_artifact(0.0, key="voice-progress", description=f"0 of {len(pairs)} recordings done")
    with runner:
        scheduler = Scheduler(runner, store, settings, gpu=device == "cuda", limit=limit)
        recordings = Batch(pairs, scheduler, settings, logger, progress_id,
                           Path(script).expanduser() if script else None).run()
    summary = _report(logger, [r.done() for r in recordings], started, scheduler.submitted)
    bad = [r for r in recordings if r.done().status == "failed"]
    if bad:
        if len(recordings) == 1 and isinstance(bad[0].exception, VoiceError):
            raise bad[0].exception
        raise BatchFailed(
            f"{len(bad)} of {len(recordings)} recordings failed: "
            + "; ".join(f"{r.source}: {r.done().error}" for r in bad)
        )
    return summary


def _report(logger: Any, results: list[Result], started: float, submitted: int) -> dict[str, Any]:
    """The run's summary: its log line, its voice-summary artifact and the flow's return value."""
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    summary = {**counts, "seconds": round(time.perf_counter() - started, 3), "tasks": submitted,
               "recordings": [r.outcome() for r in results]}
    width = max(len(str(r.input)) for r in results)
    lines = [f"{str(r.input):<{width}}  {r.status:<9} {r.duration:7.1f} s  {r.seconds:6.1f} s  {r.error or r.output}"
             for r in results]
    logger.info("summary: %d converted, %d cached, %d failed in %.1f s (%d tasks)\n%s", counts["converted"],
                counts["cached"], counts["failed"], summary["seconds"], submitted, "\n".join(lines))
    create_markdown_artifact(_summary_markdown(results, counts), key="voice-summary",
                             description="Outcome of every recording, and what the user must know of each")
    return summary

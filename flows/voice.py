"""The Prefect flow ``voice``: one recording or a folder of them, each stage a task (tasks.stages).
It runs the plan of voicechanger.plan, as the local runner (voicechanger.local) and the folder runner
(voicechanger.batch) do; only the scheduling is its own.

Per recording: hash the input, then decode + chunk (they give the chunk spans), then
``plan_from_spans`` declares every node and the per-chunk chains (transcribe → stress → synthesize →
prosody) run, then transcript + concat (+ mix: the voice with the original's audio, for videos and
the gaps and voiceover modes), then the output is written atomically (a video: muxed around it). A folder's tree is
mirrored into the output folder (voicechanger.batch.recording_pairs, as in the CLI). A bad file is reported and
skipped; the others finish; the run then fails, naming the bad files.

Scheduling. The flow submits a node only when everything it needs is done, at most ``2 × workers``
tasks at a time (the local runner's concurrency: ``workers`` recordings, two chunks each): a Prefect
task that waits on ``wait_for`` futures holds a worker of the thread or process pool, so submitting a
whole graph up front would either serialise it (bounded pool) or start every chunk's Whisper at once
(unbounded). ``wait_for`` is still passed, so the UI draws the graph. Like ``Graph.ensure``, it is
demand-driven: a node whose artifact is in the store is submitted (and shows as Cached) only when a
sink or a missing node needs it, and its own inputs are not touched; a warm rerun submits 3 tasks per
recording (chunk, transcript, and concat or mix).

Decode reads the input file, so it runs in the flow's process when its artifact is missing (the
decode task then finds it in the store): a Dask worker on another machine shares the store, not the
input folder. Outputs are written by the flow's process too.

Task runner: ``settings.runner`` — threads (ThreadPoolTaskRunner), processes (ProcessPoolTaskRunner)
or dask (prefect_dask.DaskTaskRunner: a LocalCluster of ``workers`` processes with 2 threads each, or
the scheduler at ``settings.dask_address``).

Paths given to the flow (input, output, cache_dir) are relative to the process that runs the flow:
the shell for ``voice convert --prefect``, the folder where ``make serve`` runs for the deployment.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import as_completed

from tasks.stages import Sealed, ensure_gpu_limit, in_store, results_dir, stage_task, store_for
from voicechanger.batch import recording_pairs
from voicechanger.config import Settings, load_settings
from voicechanger.errors import VoiceError, error_message
from voicechanger.graph import Graph, Node
from voicechanger.lifecycle import STATUSES, Result, admit, failed, finish
from voicechanger.notices import cast_text, covered_text
from voicechanger.plan import Plan, check_mapping, front_nodes, plan_from_spans, plan_script
from voicechanger.script import check_one_recording
from voicechanger.stages import STAGES
from voicechanger.store import Store, sha256_file
from voicechanger.threads import import_before_threads


class BatchFailed(VoiceError):
    """Some recordings of a folder failed (the others were converted)."""

    exit_code = 1


@dataclass(eq=False)
class Recording:
    """One input file on its way through the flow: its scheduling state, then its lifecycle.Result."""

    index: int
    source: Path
    target: Path
    fmt: str = ""
    root_key: str = ""
    decode: Node | None = None
    chunk: Node | None = None
    plan: Plan | None = None
    waiting_on: set[str] = field(default_factory=set)  # the node keys the current phase waits for
    ran: list[str] = field(default_factory=list)
    ran_keys: set[str] = field(default_factory=set)
    phase: str = "pending"  # pending | front | chains | done
    started: float = 0.0
    result: Result | None = None
    exception: BaseException | None = None

    def done(self) -> Result:
        assert self.result is not None, "the recording has not finished"
        return self.result


def _describe(node: Node, exc: BaseException) -> str:
    return error_message(exc) if isinstance(exc, VoiceError) else f"{node.name} failed: {error_message(exc)}"


class Scheduler:
    """Submits nodes to a Prefect task runner once their inputs are done, ``limit`` at a time,
    highest priority (earliest recording, earliest chunk, latest stage) first."""

    def __init__(self, runner: Any, store: Store, settings: Settings, *, gpu: bool, limit: int) -> None:
        self.runner = runner
        self.store = store
        self.settings = settings
        self.gpu = gpu
        self.limit = max(1, limit)
        self.results = str(results_dir(store.root))
        self.pending: dict[str, tuple[Node, list[str], bool]] = {}  # key -> (node, needed inputs, missing)
        self.meta: dict[str, tuple[tuple, str, list[Recording]]] = {}  # key -> (priority, title, owners)
        self.running: dict[Any, str] = {}
        self.futures: dict[str, Any] = {}
        self.done: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, tuple[str, BaseException]] = {}
        self.nodes: dict[str, Node] = {}
        self.submitted = 0

    def want(self, node: Node, owner: Recording, priority: dict[str, tuple], titles: dict[str, str]) -> None:
        """Declare that ``owner`` needs ``node``; its inputs are needed too unless it is in the store.
        A missing node of a stage that reads the recording's file (decode) is made here and now, in the
        process sure to see that file (Dask workers may be other machines that share only the store);
        its task then only points to it."""
        if node.key in self.meta:
            if not any(o is owner for o in self.meta[node.key][2]):
                self.meta[node.key][2].append(owner)
            return
        self.nodes[node.key] = node
        missing = not in_store(self.store, node)
        if missing and node.stage.reads_input:
            graph = Graph(self.store, self.settings)
            graph.ensure(node)
            owner.ran.extend(graph.ran)
            owner.ran_keys |= graph.ran_keys
            missing = False
        inputs: list[str] = []
        if missing:
            for dep in node.deps:
                if dep.key not in inputs:
                    self.want(dep, owner, priority, titles)
                    inputs.append(dep.key)
        self.meta[node.key] = (priority.get(node.key, (owner.index, 0)) + (STAGES.rank(node.name),),
                               titles.get(node.key, node.name), [owner])
        self.pending[node.key] = (node, inputs, missing)

    def pump(self) -> None:
        """Fail the nodes whose inputs failed, then submit the ready ones up to the limit."""
        for key, (_node, inputs, _missing) in list(self.pending.items()):  # insertion order is topological
            broken = next((i for i in inputs if i in self.failed), None)
            if broken is not None:
                self.failed[key] = self.failed[broken]
                del self.pending[key]
        if len(self.running) >= self.limit:
            return
        ready = [k for k, (_n, inputs, _m) in self.pending.items() if all(i in self.done for i in inputs)]
        ready.sort(key=lambda k: self.meta[k][0])
        for key in ready[: self.limit - len(self.running)]:
            node, inputs, missing = self.pending.pop(key)
            task = stage_task(node.name, self.results, self.gpu and node.stage.uses_model, missing)
            future = self.runner.submit(
                task,
                parameters={"node": Sealed(node), "cache_dir": str(self.store.root), "settings": Sealed(self.settings),
                            "title": self.meta[key][1]},
                wait_for=[self.futures[i] for i in inputs],
            )
            self.futures[key] = future
            self.running[future] = key
            self.submitted += 1

    def step(self) -> None:
        """Wait for one running task to finish and record its pointer or its error."""
        future = next(as_completed(list(self.running)))
        key = self.running.pop(future)
        owners = self.meta[key][2]
        try:
            pointer = future.result()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the task's own exception: a bad input, a crash after retries
            self.failed[key] = (_describe(self.nodes[key], exc), exc)
            return
        cached = getattr(future.state, "name", "") == "Cached"
        self.done[key] = pointer
        if not cached:
            for owner in owners:
                owner.ran.extend(pointer.get("ran", []))
                owner.ran_keys.update(pointer.get("ran_keys", []))


def make_runner(settings: Settings) -> tuple[Any, int]:
    """The Prefect task runner named by ``settings.runner`` and how many tasks to keep in flight."""
    limit = 2 * settings.workers
    if settings.runner == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=limit), limit
    if settings.runner == "processes":
        try:
            from prefect.task_runners import ProcessPoolTaskRunner
        except ImportError:  # Prefect before 3.4
            raise VoiceError("runner processes: this Prefect has no ProcessPoolTaskRunner; use threads or dask") from None
        return ProcessPoolTaskRunner(max_workers=limit), limit
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise VoiceError("runner dask: prefect-dask is not installed; pip install prefect-dask") from None
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address), limit
    cluster = {"n_workers": settings.workers, "threads_per_worker": 2, "processes": True, "dashboard_address": ":0"}
    return DaskTaskRunner(cluster_kwargs=cluster), limit


def _summary_markdown(results: list[Result], counts: dict[str, int]) -> str:
    """The run's summary artifact: one row per recording, then every notice (unsaid phrases among them)."""
    rows = ["| input | status | audio s | phrases said | output / error |", "|---|---|---:|---|---|"]
    rows += [f"| {r.input} | {r.status} | {r.duration:.1f} | {r.said.text() if r.said else ''} | {r.error or r.output} |"
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
            spans = graph.ensure(rec.chunk).meta["spans"]
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
        said = result.said.text() if result.said is not None else ""
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

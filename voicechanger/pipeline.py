"""The stage graph of one recording, declared once, and the local runner that executes it.

    decode → chunk → per chunk: transcribe → stress → synthesize → prosody → concat [→ mix]
                                         └──────────→ transcript (JSON + Parquet)

mix (the voice at 48 kHz with the original's audio) runs for video outputs and the gaps and voiceover
modes; an audio output in replace mode is concat's file. A video output is muxed by the final write.

Keys are known before any expensive stage runs: decode's key follows from the input's bytes,
chunk's from decode's, and the per-chunk keys from chunk's small output. ``Graph.ensure`` is
demand-driven: a node whose artifact is in the store is never recomputed and its inputs are never
read, so a warm rerun touches only the final artifact. Prefect (flows/) runs the same nodes as tasks.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import interrupt
from .audio import check_input, check_output, output_format, write_atomic
from .checks import check_not_input
from .config import Settings
from .engines.tts import close_voices
from .errors import UnsaidPhrases
from .memory import limit_arenas, release_free_memory
from .notices import recording_notices
from .stages import STAGES, Context, Stage
from .stages.base import Memo
from .store import DISK_FULL, Artifact, Store, sha256_file, stable_key, write_failure
from .video import AUDIO_FORMAT, check_video_output, is_video, mux


@dataclass(frozen=True)
class Node:
    """One stage applied to particular inputs: the unit the runners execute and the store caches."""

    stage: Stage
    key: str
    deps: tuple["Node", ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        return self.stage.name

    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


def make_node(stage_name: str, settings: Settings, deps: tuple[Node, ...] = (), root: str | None = None,
              label: str = "", **params: Any) -> Node:
    stage = STAGES[stage_name]
    key = stable_key(
        stage.name,
        stage.version,
        {field_name: settings.get(field_name) for field_name in stage.reads},
        [root] if root else [d.key for d in deps],
        {name: params[name] for name in stage.key_params},
    )
    return Node(stage, key, deps, tuple(sorted(params.items())), label or stage.name)


class Events(Protocol):
    """What a runner reports; the CLI draws progress from it, tests count what ran."""

    def planned(self, nodes: list[Node]) -> None: ...
    def started(self, node: Node) -> None: ...
    def finished(self, node: Node, seconds: float, cached: bool) -> None: ...


class NullEvents:
    def planned(self, nodes: list[Node]) -> None:
        pass

    def started(self, node: Node) -> None:
        pass

    def finished(self, node: Node, seconds: float, cached: bool) -> None:
        pass


@dataclass
class Plan:
    """All nodes of one recording once the chunk spans are known."""

    decode: Node
    chunk: Node
    chains: list[tuple[Node, Node, Node, Node]]  # (transcribe, stress, synthesize, prosody) per chunk
    concat: Node
    transcript: Node
    mix: Node | None = None  # the voice with the original's audio; None: concat's file is the output

    @property
    def final(self) -> Node:
        """The node whose file becomes the output (muxed into the video for a video output)."""
        return self.mix or self.concat

    def nodes(self) -> list[Node]:
        return [self.decode, self.chunk, *[n for chain in self.chains for n in chain], self.transcript, self.concat,
                *([self.mix] if self.mix else [])]


def execute(node: Node, store: Store, settings: Settings, inputs: list[Artifact]) -> Artifact:
    """Run one stage on its (already available) inputs and store the result."""
    scratch: Path | None = None
    try:
        with interrupt.deferred():  # a signal between the folder's creation and its assignment would lose it
            scratch = store.scratch()
        try:
            output = node.stage.run(Context(inputs, settings, node.param_dict(), scratch, Memo(store)))
        except OSError as exc:
            if exc.errno in DISK_FULL:  # the stage's work files fill the store's disk
                raise write_failure(store.root, node.name, exc) from None
            raise
        return store.put(node.name, node.key, output.meta, arrays=output.arrays, files=output.files)
    finally:
        with interrupt.deferred():  # nor may one cut the removal short
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            release_free_memory()  # what the stage freed, so that the other thread's peak does not add to it


class Graph:
    """Demand-driven execution of nodes over one store, safe to call from several threads."""

    def __init__(self, store: Store, settings: Settings, events: Events | None = None) -> None:
        self.store = store
        self.settings = settings
        self.events = events or NullEvents()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.ran: list[str] = []       # stage names computed in this graph's lifetime, in order
        self.seconds: dict[str, float] = {}
        self._reported: set[str] = set()  # keys already reported finished

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _cached(self, node: Node) -> None:
        """Report a store hit, once per node: a node reached again through another dependant (decode by
        every chunk, a transcription by its chain's stress) is not progress."""
        with self._guard:
            if node.key in self._reported:
                return
            self._reported.add(node.key)
        self.events.finished(node, 0.0, True)

    def ensure(self, node: Node) -> Artifact:
        """The node's artifact: from the store when present (and valid), else computed after its inputs."""
        found = self.store.get(node.name, node.key)
        if found is not None:
            self._cached(node)
            return found
        with self._lock(node.key):
            found = self.store.get(node.name, node.key)  # another thread may have made it meanwhile
            if found is not None:
                self._cached(node)
                return found
            inputs = [self.ensure(dep) for dep in node.deps]
            interrupt.check()  # after a stop request no new work starts
            self.events.started(node)
            started = time.perf_counter()
            artifact = execute(node, self.store, self.settings, inputs)
            elapsed = time.perf_counter() - started
            with self._guard:
                self.ran.append(node.name)
                self.seconds[node.name] = self.seconds.get(node.name, 0.0) + elapsed
                self._reported.add(node.key)
            self.events.finished(node, elapsed, False)
            return artifact


def front_nodes(settings: Settings, path: Path, root_key: str) -> tuple[Node, Node]:
    decode = make_node("decode", settings, root=root_key, path=str(path))
    chunk = make_node("chunk", settings, (decode,))
    return decode, chunk


def plan_from_spans(settings: Settings, decode: Node, chunk: Node, spans: list[list[int]], fmt: str,
                    root_key: str, scripted: list[list[dict[str, Any]] | None] | None = None) -> Plan:
    """Every node of a recording. ``scripted``: each chunk's phrases from a user's script, which it then
    takes from a ``script`` node instead of Whisper; None for a chunk that keeps its transcription."""
    chains = []
    for index, span in enumerate(spans):
        label = f"[{index + 1}/{len(spans)}]"
        if scripted is None or scripted[index] is None:
            transcribe = make_node("transcribe", settings, (decode,), label=label, index=index, span=list(span))
        else:
            transcribe = make_node("script", settings, root=decode.key, label=label, index=index, span=list(span),
                                   phrases=scripted[index])
        stress = make_node("stress", settings, (transcribe,), label=label)
        synthesize = make_node("synthesize", settings, (stress,), label=label)
        prosody = make_node("prosody", settings, (decode, stress, synthesize), label=label)
        chains.append((transcribe, stress, synthesize, prosody))
    prosodies = tuple(c[3] for c in chains)
    mixed = is_video(fmt) or settings.mix.mode != "replace"
    # The mix reads the voice losslessly (wav); an audio output in replace mode keeps today's concat.
    concat = make_node("concat", settings, (decode, *prosodies), format="wav" if mixed else fmt)
    mix = (make_node("mix", settings, (decode, concat, *prosodies), format=AUDIO_FORMAT.get(fmt, fmt),
                     path=decode.param_dict()["path"]) if mixed else None)
    transcript = make_node("transcript", settings, tuple(c[1] for c in chains), recording=root_key)
    return Plan(decode, chunk, chains, concat, transcript, mix)


@dataclass
class Result:
    """What one conversion did, for the summary and the tests."""

    input: Path
    output: Path
    duration: float
    seconds: float
    ran: list[str]
    stage_seconds: dict[str, float]
    transcript: Path
    concat: Artifact  # the final artifact: concat's, or mix's when there is a mix
    plan: Plan
    store: Store
    cached: bool = field(default=False)
    notices: list[str] = field(default_factory=list)  # warnings for the user (notices.py)
    unsaid: list[dict[str, Any]] = field(default_factory=list)  # see unsaid_phrases
    phrases: list[dict[str, Any]] = field(default_factory=list)  # start, end, text, words
    subtitles: Path | None = None

    def phrase_spans(self) -> list[tuple[float, float]]:
        """(start, end) of every re-voiced phrase, from the prosody artifacts."""
        spans = []
        for chain in self.plan.chains:
            artifact = self.store.get("prosody", chain[3].key)
            if artifact is not None:
                spans += [(p["start"], p["end"]) for p in artifact.meta["phrases"]]
        return spans


def unsaid_phrases(graph: Graph, plan: Plan) -> list[dict[str, Any]]:
    """The phrases of this recording that the voice could not say (stored as unsaid by synthesize), as
    {"start", "text", "why"}. Read from the synthesize and stress artifacts' metadata, so a cached rerun
    reports them too (a pruned artifact is made again)."""
    found: list[dict[str, Any]] = []
    for _transcribe, stress, synthesize, _prosody in plan.chains:
        said = graph.store.get(synthesize.name, synthesize.key, verify=False) or graph.ensure(synthesize)
        failed = [(i, entry["error"]) for i, entry in enumerate(said.meta["phrases"]) if entry.get("error")]
        if not failed:
            continue
        stressed = graph.store.get(stress.name, stress.key, verify=False) or graph.ensure(stress)
        for i, why in failed:
            phrase = stressed.meta["phrases"][i]
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


def preflight(settings: Settings, whisper: bool = True) -> None:
    """Fail before any expensive work when the language, the Whisper model (if it will run) or the voice
    cannot be had."""
    from .engines.asr import check_language, resolve_device, resolve_model
    from .engines.tts import get_voice

    device = resolve_device(settings.device)
    if whisper:  # the language check imports faster-whisper, which a re-dub from a script never needs
        check_language(settings.whisper.language)
        resolve_model(settings.whisper.model)
    get_voice(settings.voice, device=device)


def load_whisper_ahead(graph: Graph, chunk: Node) -> threading.Thread | None:
    """Without the chunk plan in the store the recording will be transcribed: start loading Whisper on
    a thread of its own, to overlap ffmpeg's decoding. Returns that thread (None on a rerun)."""
    if graph.store.get(chunk.name, chunk.key) is not None:
        return None
    loader = threading.Thread(target=warm_up, args=([STAGES["transcribe"]], graph.settings), name="asr-load",
                              daemon=True)
    loader.start()
    return loader


def plan_recording(graph: Graph, path: Path, fmt: str) -> Plan:
    """Hash the input, make sure decode and chunk exist, and declare every node; Whisper loads
    meanwhile on a cold run (load_whisper_ahead: transcription starts ~0.35 s sooner, 10-min input).
    A cold run checks the settings first (preflight), so that a bad one fails before the decoding."""
    root_key = sha256_file(path)
    decode, chunk = front_nodes(graph.settings, path, root_key)
    if load_whisper_ahead(graph, chunk) is not None:
        preflight(graph.settings)
    spans = graph.ensure(chunk).meta["spans"]
    return plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key)


def plan_script(graph: Graph, path: Path, fmt: str, script: Path) -> Plan:
    """The plan of a recording whose phrases come from ``script`` (an SRT or WebVTT file). Each cue is
    matched with the phrase transcribed at the same times when that transcription is in the store: an
    unedited cue then keeps its cache keys, and only edited cues are said again."""
    from .script import chunk_cues, load_script, script_phrases

    root_key = sha256_file(path)
    decode, chunk = front_nodes(graph.settings, path, root_key)
    chunked = graph.ensure(chunk)
    spans, rate = chunked.meta["spans"], chunked.meta["sample_rate"]
    cues = load_script(script, spans[-1][1] / rate if spans else 0.0)
    heard = plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key)
    audio = graph.ensure(decode).raw_f32("audio.f32")
    scripted: list[list[dict[str, Any]] | None] = []
    for chain, here in zip(heard.chains, chunk_cues(cues, spans, rate)):
        known = graph.store.get("stress", chain[1].key) or graph.store.get("transcribe", chain[0].key)
        known_phrases = known.meta["phrases"] if known is not None else []
        heard_phrases = [{k: p[k] for k in ("start", "end", "text", "words")} for p in known_phrases] \
            if known is not None else None
        phrases = script_phrases(here, known_phrases, audio, rate)
        # A chunk whose cues all read as transcribed keeps the transcription's chain, all of it in the
        # store: only chunks with an edit rerun their nodes (and in them only the edited phrases).
        scripted.append(None if phrases == heard_phrases else phrases)
    return plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key, scripted)


def recording_phrases(transcript: Artifact) -> list[dict[str, Any]]:
    """The phrases of a recording (start, end, text, words) from its transcript artifact."""
    import json

    return json.loads(transcript.file("transcript.json").read_text(encoding="utf-8"))["phrases"]


def write_subtitles(phrases: list[dict[str, Any]], output: Path, fmt: str, duration: float) -> Path | None:
    """``output`` with the extension .srt or .vtt beside it, one cue per phrase (none for 'none')."""
    from .subtitles import phrase_cues, write_cues

    if fmt == "none":
        return None
    return write_cues(phrase_cues(phrases, duration), output.with_suffix("." + fmt), fmt)


def export_script(input_path: Path, target: Path, settings: Settings, store: Store) -> tuple[int, int]:
    """Write the script of a recording to ``target`` (.srt or .vtt); returns (cues, cues with unsure
    words). The stress artifacts come from the store when the recording was converted with these
    settings before; otherwise transcription and stress marking run (and stay cached)."""
    from .script import UNSURE, script_cues, unsure_count
    from .subtitles import write_cues

    graph = Graph(store, settings)
    plan = plan_recording(graph, Path(input_path), "wav")
    phrases = [p for chain in plan.chains for p in graph.ensure(chain[1]).meta["phrases"]]
    cues = script_cues(phrases)
    note = (f"Script of {Path(input_path).name}: '+' before a stressed vowel; {UNSURE} after a word the "
            "recogniser was unsure of (ignored when read back). Edit and convert with --script.")
    write_cues(cues, target, note=note)
    return len(cues), unsure_count(phrases)


# The voice thread's niceness while Whisper runs: the voice work should fill the ~0.4 core Whisper's
# two threads leave idle, not take a core from them (a Whisper thread preempted in a parallel region
# stalls the other); too low a priority leaves voice work behind after the last transcription. 5 is
# the measured best (benchmarks/README.md, "Design choices measured": VOICE_NICENESS).
VOICE_NICENESS = 5


def lower_thread_priority(niceness: int) -> None:
    """Make the calling thread (and the processes it starts, Festival) yield the CPU to the others.
    Linux sets nice per thread; elsewhere, or where it is not allowed, this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError:
        pass


def warm_up(stages: list[Stage], settings: Settings) -> None:
    """Load what these stages need (models, voice processes) before their first node runs. A failure
    here is not reported: the stage itself will raise it, with its message, when it runs."""
    for stage in stages:
        if stage.warm_up is not None:
            try:
                stage.warm_up(settings)
            except Exception:  # noqa: BLE001 - run() raises it properly
                return


def stages_to_load(graph: Graph, chains: list[tuple[Node, Node, Node, Node]]) -> list[Stage]:
    """The stages worth warming up: the voice stages whose first-chunk node is not in the store, in
    chain order, then concat (after new prosody) and transcript (after new stress), which run after the
    last chunk. Another voice finds stress cached and skips its model (torch + silero-stress: ~2 s)."""
    if not chains:
        return []
    missing = [node.name for node in chains[0][1:] if graph.store.get(node.name, node.key) is None]
    after = ["concat"] if "prosody" in missing else []
    after += ["transcript"] if "stress" in missing else []
    return [STAGES[name] for name in missing + after]


def redub_stages(graph: Graph, chains: list[tuple[Node, Node, Node, Node]]) -> list[Stage]:
    """What a re-dub from a script loads ahead: the voice's process when some chunk's synthesis is not
    in the store (an edited cue: its phrase will need it), and the imports of prosody and concat. No
    model: an edited phrase without homographs needs none (engines/accentor.py)."""
    edited = any(graph.store.get(chain[2].name, chain[2].key) is None for chain in chains)
    return ([STAGES["synthesize"]] if edited else []) + [STAGES["prosody"], STAGES["concat"]]


def run_chains(graph: Graph, chains: list[tuple[Node, Node, Node, Node]],
               warm: list[Stage] | None = None) -> None:
    """Make every chain's prosody. This thread transcribes the chunks in order, one at a time (Whisper
    uses every core), while a second thread, at a lower priority (VOICE_NICENESS), first loads the voice
    stages' models and then takes each transcribed chunk through stress -> synthesize -> prosody, so the
    voice work fills the CPU time Whisper leaves idle. Once every chunk is transcribed this thread joins
    the voice work (the tail, or all of it when transcripts are cached). ``warm``: the stages to load
    ahead, instead of stages_to_load's choice."""
    transcribed: queue.Queue[tuple[Node, Node, Node, Node] | None] = queue.Queue()

    def voice_work() -> None:
        while (chain := transcribed.get()) is not None:
            graph.ensure(chain[3])

    def voice_thread() -> None:
        lower_thread_priority(VOICE_NICENESS)
        warm_up(stages_to_load(graph, chains) if warm is None else warm, graph.settings)
        voice_work()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice") as pool:
        helper = pool.submit(voice_thread)
        try:
            for chain in chains:
                if helper.done():  # the voice thread failed: stop here, its error is raised below
                    break
                graph.ensure(chain[0])
                transcribed.put(chain)
        finally:
            transcribed.put(None)
            transcribed.put(None)  # one end mark for each of the two threads
        voice_work()
        helper.result()


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


def convert(input_path: Path, output_path: Path, settings: Settings, store: Store,
            events: Events | None = None, graph: Graph | None = None, script: Path | None = None,
            subtitles: Path | None = None) -> Result:
    """Convert one recording with the local runner: transcription and voice work overlap (run_chains).
    ``script``: an SRT/WebVTT file whose cues are the phrases (Whisper does not run). ``subtitles``: a
    subtitle file for a video output's soft track instead of the one written beside the output."""
    started = time.perf_counter()
    limit_arenas()  # before run_chains starts its thread (see memory.py)
    input_path, output_path = Path(input_path), Path(output_path)
    check_input(input_path)
    check_output(output_path)  # in a folder, a mirrored name can pass 255 bytes: fail that file before its work
    check_not_input(output_path, input_path)
    fmt = output_format(output_path)
    check_video_output(input_path, output_path)
    graph = graph or Graph(store, settings, events)
    plan = plan_script(graph, input_path, fmt, Path(script)) if script else plan_recording(graph, input_path, fmt)
    graph.events.planned(plan.nodes())
    final = store.get(plan.final.name, plan.final.key)
    if final is None:
        preflight(settings, whisper=not script)
        run_chains(graph, plan.chains, warm=redub_stages(graph, plan.chains) if script else None)
        close_voices()  # Festival's processes hold ~0.5 GB each, and concat needs none of it
        final = graph.ensure(plan.final)
    else:
        graph.events.finished(plan.final, 0.0, True)
    transcript = graph.ensure(plan.transcript)
    unsaid = unsaid_phrases(graph, plan)
    check_unsaid(unsaid, input_path, settings.strict)
    phrases = recording_phrases(transcript)
    written = write_subtitles(phrases, output_path, settings.subtitles, final.meta["duration"])
    write_output(final, input_path, output_path, settings, subtitles or (written if phrases else None))
    notices = recording_notices(store, plan, input_path, output_path, transcript.meta["phrases"],
                                final.meta["duration"], settings.mix.mode)
    return Result(
        input=input_path,
        output=output_path,
        duration=final.meta["duration"],
        seconds=time.perf_counter() - started,
        ran=list(graph.ran),
        stage_seconds=dict(graph.seconds),
        transcript=transcript.file("transcript.json"),
        concat=final,
        plan=plan,
        store=store,
        cached=not graph.ran,
        notices=notices,
        unsaid=unsaid,
        phrases=phrases,
        subtitles=written,
    )


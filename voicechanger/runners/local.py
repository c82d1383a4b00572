"""The local runner: one recording's plan (plan.py) executed in this process, the default of `voice
convert`. Its scheduling policy: Whisper loads while ffmpeg decodes, one thread transcribes chunk after
chunk while a second, on idle CPU time only, takes each transcribed chunk through the voice stages, and
Festival's processes are closed before the final stages. batch.py runs it over a folder; the Prefect
flow (flows/) schedules the same plan's nodes as tasks.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..config import Settings
from ..engines.asr import Hold, unload_models
from ..engines.tts import close_voices
from ..graph import Events, Graph, Node
from ..plan import Chain, Plan, check_mapping, plan_recording, plan_script
from ..runtime.memory import limit_arenas, release_free_memory
from ..runtime.threads import import_before_threads
from ..stages import STAGES, Stage, contracts
from ..store import Store
from ..text.phrases import StressedPhrase
from .lifecycle import Result, admit, finish


def voices_in_use(settings: Settings) -> list:
    """Every voice these settings may say phrases in: the mapped ones, and the single voice or (auto)
    the whole catalogue."""
    from ..voices.cast import AUTO
    from ..voices.catalogue import catalogue

    chosen = list(catalogue().values()) if settings.voice == AUTO else [settings.voice]
    return [*settings.voices.values(), *chosen]


def preflight(settings: Settings, whisper: bool = True) -> None:
    """Fail before any expensive work when the language, the Whisper model (if it will run) or the voice
    cannot be had."""
    from ..engines.asr import check_language, resolve_device, resolve_model
    from ..engines.tts import get_voice

    device = resolve_device(settings.device)
    if whisper:  # the language check imports faster-whisper, which a re-dub from a script never needs
        check_language(settings.whisper.language)
        resolve_model(settings.whisper.model)
    for voice in voices_in_use(settings):
        get_voice(voice, device=device)


def load_whisper_ahead(graph: Graph, chunk: Node) -> threading.Thread | None:
    """Without the chunk plan in the store the recording will be transcribed: start loading Whisper on
    a thread of its own, to overlap ffmpeg's decoding. Returns that thread (None on a rerun).

    Not a daemon: a bad input or Ctrl-C can end the process while the model loads, and a process that
    exits while CTranslate2 starts its threads aborts ("terminate called without an active exception",
    a second line under the error); the interpreter waits for this thread (about a second) instead."""
    if graph.store.get(chunk.name, chunk.key) is not None:
        return None
    loader = threading.Thread(target=warm_up, args=([STAGES.transcribe], graph.settings), name="asr-load")
    loader.start()
    return loader


def run_only_on_idle_cpu() -> None:
    """Make the calling thread, and the processes it starts (Festival), run only on CPU time the other
    threads leave idle (Linux SCHED_IDLE; the lowest niceness where that is refused). The voice work
    then takes nothing from Whisper, which leaves part of the cores idle, and what does not fit there
    is done after the last chunk by two threads (run_chains). Without privileges a thread cannot raise
    its priority again, so the voice thread stays there to the end; the thread that transcribed joins
    it then, at its own priority. Elsewhere than Linux this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        try:
            os.setpriority(os.PRIO_PROCESS, thread, 19)
        except OSError:
            pass


def back_to_normal_cpu(threads: list[int]) -> None:
    """Put threads that run_only_on_idle_cpu lowered back to the normal policy, where that is allowed
    (root, or a high enough RLIMIT_NICE): a run that stops (Ctrl-C, an error) waits for them to finish
    their node, and on a machine kept busy by other work an idle-only thread may not run for minutes."""
    for thread in threads:
        try:
            os.sched_setscheduler(thread, os.SCHED_OTHER, os.sched_param(0))
        except (OSError, AttributeError):
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


def stages_to_load(graph: Graph, chains: list[Chain]) -> list[Stage]:
    """The stages worth warming up: the voice stages whose first-chunk node is not in the store, in
    chain order, then concat (after new prosody) and transcript (after new stress), which run after the
    last chunk. Another voice finds stress cached and skips its tables."""
    if not chains:
        return []
    missing = [node.stage for node in chains[0][1:] if graph.store.get(node.name, node.key) is None]
    after = [STAGES.concat] if chains[0].prosody.stage in missing else []
    after += [STAGES.transcript] if chains[0].stress.stage in missing else []
    return missing + after


def redub_stages(graph: Graph, chains: list[Chain]) -> list[Stage]:
    """What a re-dub from a script loads ahead: the voice's process when some chunk's synthesis is not
    in the store (an edited cue: its phrase will need it), and the imports of prosody and concat. No
    model: an edited phrase without homographs needs none (engines/accentor.py)."""
    edited = any(graph.store.get(chain.synthesize.name, chain.synthesize.key) is None for chain in chains)
    return ([STAGES.synthesize] if edited else []) + [STAGES.prosody, STAGES.concat]


# Chunks still waiting for their voice work when the last one is transcribed, from which Whisper is
# unloaded first: the two threads that do that work then hold two Festival processes (~0.5 GB each),
# and a 60-minute recording must stay within 2 GB. A short tail keeps the model for the next recording.
TAIL_CHUNKS_TO_UNLOAD_WHISPER = 2


def run_chains(graph: Graph, chains: list[Chain],
               warm: list[Stage] | None = None, hold: Hold | None = None) -> None:
    """Make every chain's prosody. This thread transcribes the chunks in order, one at a time (Whisper
    uses every core), while a second thread, on idle CPU time only (run_only_on_idle_cpu), first loads
    the voice stages' models and then takes each transcribed chunk through stress -> synthesize ->
    prosody. Once every chunk is transcribed this thread joins the voice work, chunk by chunk with its
    own Festival process (the tail, or all of it when transcripts are cached). ``warm``: the stages to
    load ahead, instead of stages_to_load's choice. ``hold``: the recording's claim on the Whisper
    model (taken before it was loaded ahead), released once the last chunk is transcribed."""
    transcribed: queue.Queue[Chain | None] = queue.Queue()

    def voice_work() -> None:
        while (chain := transcribed.get()) is not None:
            graph.ensure(chain.prosody)

    native: list[int] = []

    def voice_thread() -> None:
        native.append(threading.get_native_id())
        run_only_on_idle_cpu()
        warm_up(stages_to_load(graph, chains) if warm is None else warm, graph.settings)
        voice_work()

    import_before_threads()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice") as pool:
        helper = pool.submit(voice_thread)
        try:
            transcribe_all(graph, chains, transcribed, helper, hold or Hold())
            voice_work()
        except BaseException:
            back_to_normal_cpu(native)  # the pool waits for it: on idle CPU time only, that can take minutes
            raise
        helper.result()


def transcribe_all(graph: Graph, chains: list[Chain], transcribed: queue.Queue[Chain | None], helper: Future,
                   whisper: Hold) -> None:
    """Transcribe the chunks in order, handing each to the voice work; then release Whisper (unloaded
    when a long tail of voice work is left) and put the end marks of both threads."""
    try:
        try:
            for chain in chains:
                if helper.done():  # the voice thread failed: stop here, its error is raised by run_chains
                    break
                graph.ensure(chain.transcribe)
                transcribed.put(chain)
        finally:
            whisper.release()
        if transcribed.qsize() >= TAIL_CHUNKS_TO_UNLOAD_WHISPER and unload_models():
            release_free_memory()
    finally:
        transcribed.put(None)
        transcribed.put(None)  # one end mark for each of the two threads


def plan_local(graph: Graph, path: Path, fmt: str) -> Plan:
    """plan.plan_recording with Whisper loading meanwhile on a cold run (load_whisper_ahead: transcription
    starts ~0.35 s sooner, 10-min input). A cold run checks the settings first (preflight), so that a bad
    one fails before the decoding."""

    def ahead(chunk: Node) -> None:
        if load_whisper_ahead(graph, chunk) is not None:
            preflight(graph.settings)

    return plan_recording(graph, path, fmt, before_chunk=ahead)


def convert(input_path: Path, output_path: Path, settings: Settings, store: Store,
            events: Events | None = None, graph: Graph | None = None, script: Path | None = None,
            subtitles: Path | None = None) -> Result:
    """Convert one recording with the local runner: transcription and voice work overlap (run_chains).
    ``script``: an SRT/WebVTT file whose cues are the phrases (Whisper does not run). ``subtitles``: a
    subtitle file for a video output's soft track instead of the one written beside the output."""
    started = time.perf_counter()
    limit_arenas()  # before run_chains starts its thread (see memory.py)
    input_path, output_path = Path(input_path), Path(output_path)
    fmt = admit(input_path, output_path)
    graph = graph or Graph(store, settings, events)
    whisper = Hold()  # before plan_local may load Whisper ahead: another recording must not unload it
    try:
        plan = plan_script(graph, input_path, fmt, Path(script)) if script else plan_local(graph, input_path, fmt)
        graph.events.planned(plan.nodes())
        final = store.get(plan.final.name, plan.final.key)
        if final is None:
            preflight(settings, whisper=not script)
            check_mapping(graph, plan)
            run_chains(graph, plan.chains, warm=redub_stages(graph, plan.chains) if script else None, hold=whisper)
    finally:
        whisper.release()
    if final is None:
        close_voices()  # Festival's processes hold ~0.5 GB each, and concat needs none of it
    return finish(graph, plan, input_path, output_path, settings, ran=[], ran_keys=set(), started=started,
                  soft_track=subtitles)


def export_script(input_path: Path, target: Path, settings: Settings, store: Store) -> tuple[int, int]:
    """Write the script of a recording to ``target`` (.srt or .vtt); returns (cues, cues with unsure
    words). The stress artifacts come from the store when the recording was converted with these
    settings before; otherwise transcription and stress marking run (and stay cached)."""
    from ..text.script import UNSURE, script_cues, unsure_count
    from ..text.subtitles import write_cues

    graph = Graph(store, settings)
    plan = plan_local(graph, Path(input_path), "wav")
    phrases: list[StressedPhrase] = [p for chain in plan.chains for p in contracts.stressed(graph.ensure(chain.stress))["phrases"]]
    cues = script_cues(phrases)
    note = (f"Script of {Path(input_path).name}: '+' before a stressed vowel; {UNSURE} after a word the "
            "recogniser was unsure of (ignored when read back). Edit and convert with --script.")
    write_cues(cues, target, note=note)
    return len(cues), unsure_count(phrases)

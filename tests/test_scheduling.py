"""The local runner's scheduling on Linux: the voice work runs on idle CPU time only (SCHED_IDLE), so
it takes nothing from Whisper; transcription keeps the caller's priority; the Festival processes the
voice thread starts inherit its policy."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from speech import assemble

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux's")]


def on_idle_cpu(tid: int) -> bool:
    """SCHED_IDLE, or nice 19 where the system refuses SCHED_IDLE (run_only_on_idle_cpu's fallback)."""
    return os.sched_getscheduler(tid) == os.SCHED_IDLE or os.getpriority(os.PRIO_PROCESS, tid) == 19


class PolicyAtStart:
    """Events that note, for each node a thread starts, that thread's name and scheduling policy."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    def planned(self, nodes: list[Any]) -> None:
        pass

    def started(self, node: Any) -> None:
        self.seen.append((node.name, threading.current_thread().name, on_idle_cpu(threading.get_native_id())))

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        pass


def test_voice_work_runs_on_idle_cpu_and_transcription_does_not(tmp_path: Path) -> None:
    from voicechanger.config import load_settings
    from voicechanger.runners.local import convert, warm_up
    from voicechanger.stages import STAGES
    from voicechanger.store import Store

    source = assemble(["demo-nogo", "demo-thanks", "demo-congrats"], tmp_path / "three.wav").path
    events = PolicyAtStart()
    settings = load_settings("fast", {"chunk_minutes": 0.1})
    # Loaded here first: on idle CPU beside another busy process the voice thread could spend the whole
    # (short) transcription loading them, and this thread would then do every chunk's voice work itself.
    warm_up([STAGES.stress, STAGES.synthesize, STAGES.prosody, STAGES.concat], settings)
    result = convert(source, tmp_path / "out.mp3", settings, Store(tmp_path / "store"), events=events)
    assert len(result.plan.chains) >= 2
    transcribed = [(thread, idle) for stage, thread, idle in events.seen if stage == "transcribe"]
    assert transcribed and all(t == "MainThread" and not idle for t, idle in transcribed)
    on_voice_thread = [(stage, idle) for stage, thread, idle in events.seen if thread.startswith("voice")]
    assert {stage for stage, _ in on_voice_thread} >= {"stress", "synthesize", "prosody"}
    assert all(idle for _, idle in on_voice_thread)


def test_processes_started_from_the_idle_thread_are_idle_too() -> None:
    """Festival does most of the voice work's CPU in its own process: it must not compete with Whisper."""
    from voicechanger.engines.tts import close_voices, festival_process, get_voice
    from voicechanger.runners.local import run_only_on_idle_cpu

    voice = get_voice("festival:msu_ru_nsh")
    idle: list[bool] = []

    def in_idle_thread() -> None:
        run_only_on_idle_cpu()
        close_voices()  # the next call starts a process from this thread
        assert len(voice.synthesize(["прив+ет"]).audio) > 0
        pool = festival_process.pool(voice.voice_fn)
        idle.extend(on_idle_cpu(proc.proc.pid) for proc in pool.idle)

    thread = threading.Thread(target=in_idle_thread)
    thread.start()
    thread.join(timeout=120)
    close_voices()
    assert idle == [True]


def test_whisper_is_unloaded_only_when_no_recording_is_transcribing() -> None:
    """run_chains unloads Whisper before a long tail of voice work (two Festival processes); a folder's
    other recording, still between its chunks, must keep it."""
    from voicechanger.engines import asr

    first = asr.load_model("base", "cpu", "int8")
    hold = asr.Hold()
    try:
        assert not asr.unload_models()
        assert asr.load_model("base", "cpu", "int8") is first
    finally:
        hold.release()
    assert asr.unload_models()
    assert not asr._models
    assert not asr.unload_models()  # nothing left to drop
    again = asr.load_model("base", "cpu", "int8")
    assert again is not first


def test_whisper_loaded_ahead_is_held_until_the_last_chunk(tmp_path: Path, monkeypatch) -> None:
    """In a folder, recording A may unload Whisper while B loads it ahead of its first chunk: B's claim
    (asr.Hold) must exist before that load and last until B's last chunk is transcribed, and be gone
    once the conversion ends."""
    from voicechanger.config import load_settings
    from voicechanger.engines import asr
    from voicechanger.runners.local import convert
    from voicechanger.store import Store

    asr.unload_models()  # so that this conversion loads the model ahead
    claims: list[tuple[str, int]] = []
    real_load = asr.load_model

    def load_model(*args: Any, **kwargs: Any) -> Any:
        claims.append((threading.current_thread().name, asr._holds))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(asr, "load_model", load_model)
    source = assemble(["demo-nogo", "demo-thanks", "demo-congrats"], tmp_path / "three.wav").path
    result = convert(source, tmp_path / "out.mp3", load_settings("fast", {"chunk_minutes": 0.1}),
                     Store(tmp_path / "store"))
    assert len(result.plan.chains) >= 2
    assert claims[0][0] == "asr-load" and all(held >= 1 for _, held in claims), claims
    assert asr._holds == 0

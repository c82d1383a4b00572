"""Interrupts never reach the cache (issue 11): SIGINT and SIGTERM to the process group at moments spread
over every stage, in single-file and folder mode, each followed by a plain rerun whose output must equal
an uninterrupted run's, sample for sample; no interrupted run leaves an output, a temporary file, or an
artifact of unfinished work. And phrases stored as unsaid are reported on every run, or refused (strict).

Cost: one reference conversion of a folder (a 39 s recording and a 6 s one, 15 s chunks). Every moment
starts from a copy of its store with the artifacts from the interrupted stage on removed, so only the
two moments in decoding and transcription run Whisper again. Moments are store events (a stage's
"put", a node's scratch folder appearing) or, for the mp3/wav encode, a marker that the encoder was
started, written by a wrapper that holds the encode for a few seconds (the real ffmpeg then runs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile

from speech import ROOT, assemble, make_phrase_unsayable, store_events

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "voicechanger", "convert"]
OPTIONS = ["--profile", "fast", "--chunk-minutes", "0.25"]
FOLDER_OPTIONS = [*OPTIONS, "--format", "wav", "--workers", "2"]
# What must be made again when a stage's artifacts are gone (concat runs before transcript).
DOWNSTREAM = {
    "decode": {"decode", "chunk", "transcribe", "stress", "synthesize", "prosody", "concat", "transcript"},
    "transcribe": {"transcribe", "stress", "synthesize", "prosody", "concat", "transcript"},
    "stress": {"stress", "synthesize", "prosody", "concat", "transcript"},
    "synthesize": {"synthesize", "prosody", "concat"},
    "prosody": {"prosody", "concat"},
    "concat": {"concat", "transcript"},
    "transcript": {"transcript"},
}


@dataclass
class Reference:
    folder: Path              # talk.wav and short.wav
    outputs: dict[str, np.ndarray]
    cache: Path
    plans: dict[str, object]  # recording name -> plan.Plan
    root: Path


def _read(path: Path) -> np.ndarray:
    audio, _rate = soundfile.read(str(path), dtype="int16")
    return audio


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "DO_NOT_TRACK": "1", **kwargs.pop("env", {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph
    from voicechanger.plan import plan_recording
    from voicechanger.store import Store

    root = tmp_path_factory.mktemp("sweep")
    folder = root / "in"
    folder.mkdir()
    assemble(["demo-thanks", "vm-intro", "demo-nogo", "demo-moreinfo"], folder / "talk.wav")  # 39 s
    assemble(["demo-thanks"], folder / "short.wav")
    cache = root / "cache"
    done = _run([str(folder), str(root / "ref"), *FOLDER_OPTIONS, "--cache-dir", str(cache)])
    assert done.returncode == 0, done.stderr
    graph = Graph(Store(cache), load_settings("fast", {"chunk_minutes": 0.25}))
    plans = {name: plan_recording(graph, folder / f"{name}.wav", "wav") for name in ("talk", "short")}
    assert len(plans["talk"].chains) >= 3
    store = Store(cache)
    for plan in plans.values():  # nothing in the reference is unsaid, so any gap later is a defect
        for chain in plan.chains:
            assert not any(p["error"] for p in store.get("synthesize", chain[2].key).meta["phrases"])
    outputs = {name: _read(root / "ref" / f"{name}.wav") for name in ("talk", "short")}
    return Reference(folder, outputs, cache, plans, root)


def _prepared(ref: Reference, dest: Path, drop: Callable[[str, int | None], bool]) -> Path:
    """A copy of the reference store without the artifacts ``drop(stage, chunk index or None)`` names."""
    shutil.copytree(ref.cache, dest, ignore=shutil.ignore_patterns(".scratch", "events.jsonl"))
    from voicechanger.store import Store

    store = Store(dest)
    for plan in ref.plans.values():
        nodes = [(plan.decode, None), (plan.chunk, None), (plan.concat, None), (plan.transcript, None)]
        nodes += [(node, i) for i, chain in enumerate(plan.chains) for node in chain]
        for node, index in nodes:
            if drop(node.name, index):
                shutil.rmtree(store.path_of(node.name, node.key), ignore_errors=True)
    return dest


def _from(stage: str, chunk: int | None = None) -> Callable[[str, int | None], bool]:
    """Drop ``stage`` and what depends on it (of one chunk only, when given)."""
    return lambda name, index: name in DOWNSTREAM[stage] and (chunk is None or index in (None, chunk))


@dataclass(frozen=True)
class Moment:
    name: str
    folder: bool
    signum: int
    drop: Callable[[str, int | None], bool]
    trigger: tuple             # ("scratch", n) | ("put", stage, n) | ("hit", stage, n) | ("encode",)
    ignore_sigint: bool = False  # a background job: SIGINT ignored by voice (and, before, not by Festival)


MOMENTS = [
    Moment("decode", False, signal.SIGINT, _from("decode"), ("scratch", 1)),
    Moment("transcribe", False, signal.SIGTERM, _from("transcribe", 2), ("hit", "transcribe", 2)),
    # Stress marking takes milliseconds a chunk: its work folders come and go between two polls, so the
    # moment is its first stored artifact, with the talk's voice work still ahead.
    Moment("stress", True, signal.SIGINT, _from("stress"), ("put", "stress", 1)),
    Moment("synthesize-first", False, signal.SIGINT, _from("synthesize"), ("scratch", 1)),
    Moment("synthesize-second", False, signal.SIGTERM, _from("synthesize"), ("put", "synthesize", 1)),
    Moment("synthesize-folder", True, signal.SIGTERM, _from("synthesize"), ("put", "synthesize", 2)),
    Moment("prosody", False, signal.SIGINT, _from("prosody"), ("scratch", 1)),
    Moment("prosody-folder", True, signal.SIGINT, _from("prosody"), ("put", "prosody", 1)),
    Moment("transcript", False, signal.SIGTERM, _from("transcript"), ("scratch", 1)),
    Moment("encode", False, signal.SIGINT, _from("concat"), ("encode",)),
    Moment("encode-folder", True, signal.SIGTERM, _from("concat"), ("encode",)),
    Moment("background-job", False, signal.SIGINT, _from("synthesize"), ("scratch", 1), ignore_sigint=True),
]


def _reached(trigger: tuple, cache: Path, seen: set[str], mark: Path) -> bool:
    kind = trigger[0]
    if kind == "encode":
        return mark.exists()
    if kind == "scratch":
        scratch = cache / ".scratch"
        seen.update(p.name for p in scratch.iterdir()) if scratch.is_dir() else None
        return len(seen) >= trigger[1]
    _kind, stage, count = trigger
    return sum(1 for e in store_events(cache) if e["event"] == kind and e["stage"] == stage) >= count


def _encoder_wrapper(where: Path, mark: Path) -> Path:
    """An ``ffmpeg`` first on PATH that, for the encode (input from stdin), marks that it started and
    holds the encode 3 s before the real ffmpeg runs: the interrupt lands while concat feeds it."""
    where.mkdir()
    wrapper = where / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do if [ "$a" = pipe:0 ]; then : > "{mark}"; sleep 3; break; fi; done\n'
        f'exec {shutil.which("ffmpeg")} "$@"\n'
    )
    wrapper.chmod(0o755)
    return where


def _left_behind(cache: Path, outputs: Path) -> list[str]:
    """Temporary files an interrupted run must not leave: work folders, half artifacts, half outputs."""
    scratch = cache / ".scratch"
    found = [str(p) for p in scratch.iterdir()] if scratch.is_dir() else []
    found += [str(p) for p in cache.rglob(".tmp-*")]
    found += [str(p) for p in outputs.rglob(".*.part-*")] if outputs.exists() else []
    return found


def _artifacts_valid(cache: Path) -> None:
    from voicechanger.store import Store

    store = Store(cache)
    for stage, path, _size, _used in store.entries():
        artifact = store.get(stage, path.name)
        assert artifact is not None, f"invalid artifact {stage}/{path.name}"
        if stage == "synthesize":  # an interrupted phrase must never be stored as unsaid
            assert not any(p["error"] for p in artifact.meta["phrases"]), artifact.meta


@pytest.mark.parametrize("moment", MOMENTS, ids=[m.name for m in MOMENTS])
def test_interrupt_then_rerun(reference: Reference, moment: Moment, tmp_path):
    cache = _prepared(reference, tmp_path / "cache", moment.drop)
    out = tmp_path / "out"
    if moment.folder:
        args = [str(reference.folder), str(out), *FOLDER_OPTIONS, "--cache-dir", str(cache)]
        targets = {name: out / f"{name}.wav" for name in ("talk", "short")}
    else:
        args = [str(reference.folder / "talk.wav"), str(out / "talk.wav"), *OPTIONS, "--cache-dir", str(cache)]
        targets = {"talk": out / "talk.wav"}
    mark = tmp_path / "encoding"
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if moment.trigger[0] == "encode":
        env["PATH"] = f"{_encoder_wrapper(tmp_path / 'bin', mark)}{os.pathsep}{env['PATH']}"

    def disposition() -> None:
        """SIGINT as a shell leaves it: ignored in a background job, the default in a foreground one,
        whatever this test run itself inherited (`make test &` or nohup starts it with SIGINT ignored)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN if moment.ignore_sigint else signal.SIG_DFL)

    process = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True, preexec_fn=disposition)
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 600
        while not _reached(moment.trigger, cache, seen, mark):
            assert process.poll() is None, f"the run ended before the moment: {process.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.killpg(process.pid, moment.signum)  # what Ctrl-C (or kill -TERM -- -PGID) does
        _stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    _artifacts_valid(cache)
    assert _left_behind(cache, out) == []
    finished = {name for name, path in targets.items() if path.exists()}
    for name in finished:  # in a folder, a recording finished before the interrupt keeps its output, whole
        assert np.array_equal(_read(targets[name]), reference.outputs[name]), name
    if moment.ignore_sigint:
        # The job ignores SIGINT and its engines no longer receive it: the run just goes on, whole.
        assert process.returncode == 0 and "talk" in finished, stderr
    else:
        assert "talk" not in finished
        assert process.returncode == 128 + moment.signum, (process.returncode, stderr)
        assert "Traceback" not in stderr and signal.Signals(moment.signum).name in stderr, stderr

    rerun = _run(args)
    assert rerun.returncode == 0, rerun.stderr
    for name, path in targets.items():
        assert np.array_equal(_read(path), reference.outputs[name]), f"{moment.name}: {name} differs after the rerun"
    if moment.folder:  # the interrupted recording is made, not listed as cached
        converted = len(targets) - len(finished)
        assert f"{converted} converted, {len(finished)} cached, 0 failed" in rerun.stderr, rerun.stderr
    _artifacts_valid(cache)


def test_unsaid_phrases_are_reported_on_every_run_and_strict_refuses_them(reference: Reference, tmp_path):
    """A phrase with nothing the voice can read is stored as unsaid: every run that uses it says so,
    the cached rerun too, and --strict makes it an error with no output."""
    cache = _prepared(reference, tmp_path / "cache", lambda name, index: (
        (name in DOWNSTREAM["synthesize"] | {"transcript"} and index in (None, 0))))
    text = make_phrase_unsayable(cache, reference.plans["talk"].chains[0][1].key)
    source, out = str(reference.folder / "talk.wav"), tmp_path / "talk.wav"
    for attempt in ("computed", "cached"):
        done = _run([source, str(out), *OPTIONS, "--cache-dir", str(cache)])
        assert done.returncode == 0, done.stderr
        assert "1 phrase(s) not said" in done.stderr and repr(text) in done.stderr, (attempt, done.stderr)
        assert out.is_file()
    strict = tmp_path / "strict.wav"
    done = _run([source, str(strict), *OPTIONS, "--cache-dir", str(cache), "--strict"])
    assert done.returncode == 6 and not strict.exists(), done.stderr
    assert "nothing the voice can say" in done.stderr and "Traceback" not in done.stderr


def _muxing(tmp_path: Path, hold: str) -> tuple[list[str], Path, Path, dict]:
    """A short video to convert into tmp_path/out/dubbed.mp4: (arguments, output folder, the marker that
    the mux started, the environment whose ``ffmpeg`` marks it). The mux is the ffmpeg run that maps a
    third input (the subtitles); ``hold`` is shell run before it, or ffmpeg options put in front."""
    from media import make_video

    video = make_video(tmp_path, seconds=8.0)
    out = tmp_path / "out"
    args = [str(video.path), str(out / "dubbed.mp4"), "--profile", "fast", "--cache-dir", str(tmp_path / "cache")]
    mark, where = tmp_path / "muxing", tmp_path / "bin"
    where.mkdir()
    wrapper = where / "ffmpeg"
    options, wait = (hold, ":") if hold.startswith("-") else ("", hold)
    wrapper.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do if [ "$a" = 2:0 ]; then : > "{mark}"; {wait}; '
        f'exec {shutil.which("ffmpeg")} {options} "$@"; fi; done\n'
        f'exec {shutil.which("ffmpeg")} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {**os.environ, "DO_NOT_TRACK": "1", "PATH": f"{where}{os.pathsep}{os.environ['PATH']}"}
    return args, out, mark, env


def _start_until(args: list[str], env: dict, reached: Callable[[], bool]) -> subprocess.Popen:
    """The CLI started as a foreground job of its own, returned once ``reached()``."""
    process = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while not reached():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the run ended before the moment: {process.communicate()[1]}")
        time.sleep(0.01)
    return process


def test_an_interrupt_while_a_video_is_muxed_leaves_neither_output_nor_subtitles(tmp_path):
    """The output and its subtitles are one unit: SIGINT while ffmpeg muxes the video (its soft
    subtitle track read from the subtitles' temporary file) leaves neither, nor any temporary file;
    the rerun writes both."""
    args, out, mark, env = _muxing(tmp_path, "sleep 3")
    process = _start_until(args, env, mark.exists)
    try:
        os.killpg(process.pid, signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert sorted(p.name for p in out.iterdir()) == [], stderr  # no output, no subtitles, no .part file
    rerun = _run(args)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dubbed.mp4", "dubbed.srt"]


def test_a_kill_while_a_video_is_muxed_leaves_no_process_and_the_rerun_no_part_file(tmp_path):
    """kill -9 of voice while ffmpeg writes the video (read at its own pace, -re): the ffmpeg dies with
    it, and the rerun removes the part file the killed run left, writing the output and its subtitles."""
    args, out, mark, env = _muxing(tmp_path, "-re")
    parts = lambda: sorted(out.glob(".dubbed.*.part-*")) if out.is_dir() else []  # noqa: E731
    process = _start_until(args, env, lambda: mark.exists() and any(p.stat().st_size > 0 for p in parts()))
    left = [p.name for p in parts()]
    process.kill()
    process.wait()
    time.sleep(1.0)
    alive = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout.split()
    assert alive == [], subprocess.run(["ps", "-o", "pid,args", "-p", ",".join(alive)], capture_output=True,
                                       text=True).stdout
    assert [p.name for p in parts()] == left  # what the killed run leaves: its part files
    rerun = _run(args)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dubbed.mp4", "dubbed.srt"]


def test_a_signal_after_the_output_is_complete_exits_0(tmp_path):
    """Ctrl-C while the summary prints or the plot is drawn (the output is whole by then): exit 0, no
    'no output written', and the hint's path is quoted so that it pastes back into a shell."""
    import threading

    folder = tmp_path / "папка с пробелами"
    folder.mkdir()
    assemble(["demo-thanks", "vm-intro"], folder / "запись 1.wav")
    target = tmp_path / "out.wav"
    args = [str(folder / "запись 1.wav"), str(target), "--profile", "fast", "--plot", str(tmp_path / "plot.png"),
            "--cache-dir", str(tmp_path / "cache")]
    process = subprocess.Popen([*CLI, *args], cwd=ROOT, env={**os.environ, "DO_NOT_TRACK": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    summary = threading.Event()

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("audio "):
                summary.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert summary.wait(600), "".join(lines)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(120)
        reader.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "".join(lines)
    assert process.returncode == 0, text
    assert "no output written" not in text and target.is_file() and (tmp_path / "plot.png").is_file()
    if "Whisper was unsure" in text:
        assert f"voice script '{folder / 'запись 1.wav'}'" in text

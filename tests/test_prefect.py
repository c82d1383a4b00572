"""The Prefect layer on real speech, against a real Prefect server (no mocks).

A session fixture starts ``prefect server start`` on a free port with its own PREFECT_HOME (own
SQLite database), points this process at it, and on teardown kills the server's whole process group
and checks that nothing of it is left. The store's event log (<cache>/events.jsonl: one line per
put/hit/corrupt) tells which stages really ran, for the CLI and the flow alike.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from speech import computed_stages, store_events

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SOUNDS = Path("/usr/share/asterisk/sounds/ru")
# Short prompts (1.4-1.5 s): enough speech for every stage, quick on 2 cores.
PROMPTS = {"one-moment-please.wav": "", "something-terribly-wrong.wav": "", "number-not-answering.wav": "sub"}
EXTRA = ("to-listen-to-it.wav", "from-unknown-caller.wav", "demo-echodone.wav")
OFFLINE = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
# The server streams run logs to `prefect deployment run --watch` (off in Prefect's defaults; README).
LOGS_TO_WATCH = {"PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "true", "PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED": "true"}

if not SOUNDS.is_dir() or shutil.which("ffmpeg") is None:
    pytest.skip("needs ffmpeg and asterisk-core-sounds-ru-wav (make install)", allow_module_level=True)


# -- helpers -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_processes(sid: int) -> list:
    import psutil

    left = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return left


def _stop_group(proc: subprocess.Popen, grace: float = 20.0) -> list:
    """SIGTERM the process group led by ``proc``, SIGKILL what is still there; return what is left."""
    sid = proc.pid
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(sid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _session_processes(sid):
                return []
            time.sleep(0.2)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    return [" ".join(p.info["cmdline"] or []) for p in _session_processes(sid)]


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip())


def _run_flow(**params):
    from flows.voice import voice

    return voice(return_state=True, **params)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "voicechanger", "convert", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _task_states(flow_run_id) -> list[tuple[str, str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return [(run.name, run.state.name) for run in runs]


def _settled_task_states(flow_run_id, count: int, timeout: float = 60.0) -> list[tuple[str, str]]:
    """The task runs' states once the server has them all final: Prefect 3 reports task states
    through events, so they can trail the flow run's own completion by a moment under load."""
    deadline = time.monotonic() + timeout
    while True:
        states = _task_states(flow_run_id)
        final = len(states) >= count and not any(s in ("Pending", "Scheduled", "Running") for _, s in states)
        if final or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real Prefect server on a free port with its own home and database; this process uses it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **OFFLINE, **LOGS_TO_WATCH, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    started = time.monotonic()
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() - started > 180:
                raise RuntimeError("prefect server did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        print(f"prefect server up in {time.monotonic() - started:.1f} s at {url}")
        saved = {k: os.environ.get(k) for k in ("PREFECT_API_URL", "PREFECT_HOME", *OFFLINE)}
        os.environ.update({**OFFLINE, "PREFECT_API_URL": url, "PREFECT_HOME": str(home)})
        from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)}):
            yield {"url": url, "home": home, "env": {**env, "PREFECT_API_URL": url}}
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    finally:
        left = _stop_group(server)
        log.close()
        assert not left, f"processes of the Prefect server left behind: {left}"


@pytest.fixture(scope="session")
def prompts(tmp_path_factory) -> Path:
    """A folder of three short Russian prompts, one in a subfolder."""
    folder = tmp_path_factory.mktemp("prompts")
    for name, sub in PROMPTS.items():
        (folder / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(SOUNDS / name, folder / sub / name)
    return folder


@pytest.fixture(scope="session")
def converted(prefect_server, prompts, tmp_path_factory) -> dict:
    """The flow once, cold, over the prompts folder (the fast profile); later tests reuse its store."""
    work = tmp_path_factory.mktemp("converted")
    cache, out = work / "cache", work / "out"
    started = time.perf_counter()
    state = _run_flow(input=str(prompts), output=str(out), profile="fast", cache_dir=str(cache))
    return {"cache": cache, "out": out, "state": state, "seconds": time.perf_counter() - started,
            "events": len(store_events(cache))}


# -- tests -------------------------------------------------------------------------------------
def test_flow_folder_then_all_cached(converted, prompts):
    state, cache, out = converted["state"], converted["cache"], converted["out"]
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["converted"], summary["cached"], summary["failed"]) == (3, 0, 0)
    for name, sub in PROMPTS.items():
        target = out / sub / Path(name).with_suffix(".mp3")
        assert target.is_file(), target
        assert abs(_duration(target) - _duration(prompts / sub / name)) < 0.1
    assert set(computed_stages(cache)) == {"decode", "chunk", "speakers", "transcribe", "stress", "synthesize",
                                           "prosody", "transcript", "concat"}
    assert not list(out.rglob(".*part*")), "no temporary files left in the output"
    # the stage tasks are named after the stages and their Prefect cache keys are the store keys
    names = [name for name, _ in _settled_task_states(state.state_details.flow_run_id, 3 * 9)]
    assert any(n.startswith("transcribe [1/1] · ") for n in names) and len(names) == 3 * 9
    records = {p.name for p in (cache / ".prefect-results").iterdir()}
    from voicechanger.stages import STAGES

    stored = {e["key"] for e in store_events(cache) if e["event"] == "put" and e["stage"] in STAGES}  # not memos
    assert stored <= records

    # artifacts: a transcript table per recording and the progress bar at 100 %
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    tables = [a for a in artifacts if a.type == "table" and a.key.startswith("transcript-")]
    assert len(tables) == 3
    # who speaks in each recording and in which voice (one woman each, in the profile's one voice)
    cast = [json.loads(a.data) for a in artifacts if a.type == "table" and a.key.startswith("speakers-")]
    assert len(cast) == 3 and all(len(rows) == 1 and rows[0]["gender"] == "female" and
                                  rows[0]["voice"] == "festival:msu_ru_nsh" for rows in cast), cast
    rows = [row for a in tables for row in json.loads(a.data)]
    assert all({"start", "end", "text"} <= set(row) for row in rows) and any(row["text"] for row in rows)
    progress = [a for a in artifacts if a.type == "progress"]
    assert progress and float(progress[0].data) == pytest.approx(100.0)
    # the subtitles beside every output, and published
    subtitles = [a for a in artifacts if a.type == "markdown" and a.key.startswith("subtitles-")]
    assert len(subtitles) == 3 and all("-->" in a.data for a in subtitles)
    for name, sub in PROMPTS.items():
        assert "-->" in (out / sub / Path(name).with_suffix(".srt")).read_text(encoding="utf-8")

    # a second run: everything from the store and Prefect's cache, nothing computed
    before = len(store_events(cache))
    again = _run_flow(input=str(prompts), output=str(out), profile="fast", cache_dir=str(cache))
    assert again.is_completed(), again.message
    assert again.result()["cached"] == 3
    assert computed_stages(cache, before) == []
    states = _settled_task_states(again.state_details.flow_run_id, 3 * 3)
    assert states and all(s == "Cached" for _, s in states), states


def test_cli_and_flow_share_the_store(prefect_server, tmp_path):
    cache = tmp_path / "cache"
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    shutil.copy(SOUNDS / EXTRA[0], first)
    shutil.copy(SOUNDS / EXTRA[1], second)
    no_fit = tmp_path / "no-fit.yaml"  # the fast profile with one field that only synthesize reads
    no_fit.write_text((ROOT / "configs" / "fast.yaml").read_text().replace("fit_rate: true", "fit_rate: false"))
    assert "fit_rate: false" in no_fit.read_text()

    # CLI first, then the flow with a synthesis-only change: no transcription, no stress marking
    done = _cli(str(first), str(tmp_path / "a.cli.mp3"), "--profile", "fast", "--cache-dir", str(cache))
    assert done.returncode == 0, done.stderr
    mark = len(store_events(cache))
    state = _run_flow(input=str(first), output=str(tmp_path / "a.flow.mp3"), profile="fast",
                      overrides={"prosody.fit_rate": False}, cache_dir=str(cache))
    assert state.is_completed(), state.message
    ran = computed_stages(cache, mark)
    assert "synthesize" in ran and "concat" in ran
    assert not {"decode", "chunk", "transcribe", "stress", "transcript"} & set(ran), ran
    # same settings as the CLI: every key is the same, nothing at all is computed
    mark = len(store_events(cache))
    state = _run_flow(input=str(first), output=str(tmp_path / "a.same.mp3"), profile="fast", cache_dir=str(cache))
    assert state.is_completed() and state.result()["cached"] == 1
    assert computed_stages(cache, mark) == []

    # the other way round: the flow first, then the CLI with the synthesis-only change
    state = _run_flow(input=str(second), output=str(tmp_path / "b.flow.mp3"), profile="fast", cache_dir=str(cache))
    assert state.is_completed(), state.message
    mark = len(store_events(cache))
    done = _cli(str(second), str(tmp_path / "b.cli.mp3"), "--profile", str(no_fit), "--cache-dir", str(cache))
    assert done.returncode == 0, done.stderr
    ran = computed_stages(cache, mark)
    assert "synthesize" in ran and not {"decode", "chunk", "transcribe", "stress", "transcript"} & set(ran), ran
    for name in ("a.cli.mp3", "a.flow.mp3", "a.same.mp3", "b.flow.mp3", "b.cli.mp3"):
        assert abs(_duration(tmp_path / name) - _duration(first if name[0] == "a" else second)) < 0.1


def test_flow_takes_a_script_and_a_lexicon(converted, prompts, tmp_path):
    """The flow's script and lexicon parameters: the script exported from the store (fast profile) with
    one word changed re-dubs that phrase, no transcription; the lexicon reaches stress marking."""
    from voicechanger.text.subtitles import Cue, read_cues, write_cues

    name = next(iter(PROMPTS))
    source, cache = prompts / name, converted["cache"]
    script = tmp_path / "one.script.srt"
    env = {**os.environ, **OFFLINE}
    done = subprocess.run([sys.executable, "-m", "voicechanger", "script", str(source), "-o", str(script),
                           "--profile", "fast", "--cache-dir", str(cache)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cues = read_cues(script)
    cues[-1] = Cue(cues[-1].start, cues[-1].end, "Спасибо.")
    write_cues(cues, script)
    lexicon = tmp_path / "words.yaml"
    lexicon.write_text("спасибо: спас+ибо\n", encoding="utf-8")
    mark = len(store_events(cache))
    state = _run_flow(input=str(source), output=str(tmp_path / "one.mp3"), profile="fast", cache_dir=str(cache),
                      script=str(script), lexicon=str(lexicon))
    assert state.is_completed(), state.message
    ran = computed_stages(cache, mark)
    assert "script" in ran and "transcribe" not in ran and "concat" in ran, ran
    assert computed_stages(cache, mark, memos=True).count("synthesize-phrase") == 1
    assert "Спасибо." in (tmp_path / "one.srt").read_text(encoding="utf-8")


def test_flow_voice_takes_a_mapping_by_speaker(converted, prompts, tmp_path):
    """The deployment's voice parameter maps speakers to voices, as --voice does; a mapping to a speaker
    the recording does not have fails the run with that line in its state message."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    source, cache = prompts / next(iter(PROMPTS)), converted["cache"]
    state = _run_flow(input=str(source), output=str(tmp_path / "one.mp3"), profile="fast", cache_dir=str(cache),
                      voice="Speaker 1=boris")
    assert state.is_completed(), state.message
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    cast = [json.loads(a.data) for a in artifacts if a.type == "table" and a.key.startswith("speakers-")]
    assert cast and [(r["speaker"], r["voice"], r["share"]) for r in cast[0]] == [("Speaker 1", "boris", 1.0)]
    bad = _run_flow(input=str(source), output=str(tmp_path / "two.mp3"), profile="fast", cache_dir=str(cache),
                    voice="Speaker 4=boris")
    assert bad.is_failed() and not (tmp_path / "two.mp3").exists()


def test_corrupt_file_fails_the_run_after_the_others(converted, prompts, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = next(iter(PROMPTS))
    shutil.copy(prompts / good, folder / good)
    (folder / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(2000))
    out = tmp_path / "out"
    state = _run_flow(input=str(folder), output=str(out), profile="fast", cache_dir=str(converted["cache"]))
    assert state.is_failed()
    assert "broken.wav" in state.message and "1 of 2 recordings failed" in state.message, state.message
    from flows.voice import BatchFailed

    assert isinstance(state.result(raise_on_failure=False), BatchFailed)
    assert (out / Path(good).with_suffix(".mp3")).is_file()
    assert sorted(p.name for p in out.iterdir()) == [Path(good).with_suffix(s).name for s in (".mp3", ".srt")]


def test_dask_runner_rebuilds_pruned_artifacts(converted, prompts, tmp_path):
    """runner=dask (a LocalCluster); the final artifacts were pruned from the store but Prefect still
    holds their cache records: they must be recomputed, not taken from the stale records."""
    import psutil

    cache = tmp_path / "cache"
    shutil.copytree(converted["cache"], cache)
    shutil.rmtree(cache / "concat")
    assert any((cache / ".prefect-results").iterdir())
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    mark = len(store_events(cache))
    out = tmp_path / "out"
    state = _run_flow(input=str(prompts), output=str(out), profile="fast", cache_dir=str(cache),
                      overrides={"runner": "dask"})
    assert state.is_completed(), state.message
    assert sorted(computed_stages(cache, mark)) == ["concat"] * 3
    assert state.result()["converted"] == 3
    assert len(list(out.rglob("*.mp3"))) == 3

    def leftovers() -> list:  # multiprocessing's resource tracker lives as long as this process, by design
        return [p for p in psutil.Process().children(recursive=True) if p.pid not in before
                and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]

    deadline = time.monotonic() + 20
    while (left := leftovers()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"dask processes left behind: {[p.cmdline() for p in left]}"


def test_gpu_tags_and_limit(prefect_server, tmp_path):
    """On CUDA the model stages carry tag gpu, and the flow creates the limit of 1 on it (idempotent)."""
    from prefect.client.orchestration import get_client

    from tasks.stages import ensure_gpu_limit, stage_task

    results = str(tmp_path / ".prefect-results")
    assert stage_task("transcribe", results, True).tags == {"cpu", "gpu"}
    assert stage_task("synthesize", results, True).tags == {"cpu", "gpu"}
    assert stage_task("stress", results, False).tags == {"cpu"}
    assert stage_task("transcribe", results, True).name == "transcribe"

    ensure_gpu_limit(1)
    ensure_gpu_limit(1)
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("tag:gpu")
    assert limit.limit == 1


def test_deployment_convert_end_to_end(prefect_server, converted, prompts, tmp_path):
    """`python -m flows.serve` + `prefect deployment run voice/convert --watch`, paths relative to
    the folder the deployment is served from; one recording comes from the store, one is new."""
    work = tmp_path / "work"
    (work / "recordings" / "more").mkdir(parents=True)
    cached_one = next(iter(PROMPTS))
    shutil.copy(prompts / cached_one, work / "recordings" / cached_one)
    shutil.copy(SOUNDS / EXTRA[2], work / "recordings" / "more" / "new.wav")
    env = {**prefect_server["env"], "PYTHONPATH": str(ROOT), "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    log = open(tmp_path / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "flows.serve"], cwd=work, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while True:
                try:
                    client.read_deployment_by_name("voice/convert")
                    break
                except ObjectNotFound:
                    assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                    assert time.monotonic() < deadline, "the deployment was not registered"
                    time.sleep(0.5)
        mark = len(store_events(converted["cache"]))
        run = subprocess.run(
            [sys.executable, "-m", "prefect", "deployment", "run", "voice/convert", "-p", "input=recordings",
             "-p", "output=out", "-p", "profile=fast", "-p", f"cache_dir={converted['cache']}", "--watch"],
            cwd=work, env=env, capture_output=True, text=True, timeout=300,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Completed" in run.stdout
        for source, target in ((cached_one, Path(cached_one).with_suffix(".mp3")), ("more/new.wav", "more/new.mp3")):
            assert abs(_duration(work / "out" / target) - _duration(work / "recordings" / source)) < 0.1
        ran = computed_stages(converted["cache"], mark)
        assert ran.count("transcribe") == 1 and ran.count("concat") == 1, ran  # only the new recording
        # A failed run: --watch shows its one-line reason, with the folder relative paths start from.
        bad = subprocess.run(
            [sys.executable, "-m", "prefect", "deployment", "run", "voice/convert", "-p", "input=recordings/gone.wav",
             "-p", "output=out/gone.mp3", "-p", f"cache_dir={converted['cache']}", "--watch"],
            cwd=work, env={**env, "COLUMNS": "400"}, capture_output=True, text=True, timeout=300,
        )
        assert bad.returncode != 0 and "Failed" in bad.stdout, bad.stdout[-3000:]
        reason = f"error: input recordings/gone.wav: no such file or folder (relative to {work}); check the path"
        assert reason in " ".join(bad.stdout.split()), bad.stdout[-3000:]
    finally:
        left = _stop_group(serve)
        log.close()
    assert not left, f"processes of `flows.serve` left behind: {left}"


# -- a real distributed run --------------------------------------------------------------------
def _dask_command(module: str, *args: str) -> list[str]:
    """`dask scheduler|worker` through their modules, so this interpreter (and PYTHONPATH) is used."""
    return [sys.executable, "-m", f"distributed.cli.{module}", *args]


def _hiding(folder: Path, command: list[str]) -> list[str]:
    """``command`` in its own mount namespace where ``folder`` is an empty tmpfs: another machine,
    which sees the shared store but not the files of the machine that runs the flow."""
    return ["unshare", "--mount", "--map-root-user", "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"',
            str(folder), *command]


def _can_hide() -> bool:
    try:
        return subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class _Cluster:
    """A `dask scheduler` and `dask worker` processes, each in its own session (its own "machine"),
    bound to 127.0.0.1 on ports chosen now; :meth:`stop` kills every one of them."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []

    def start(self, name: str, command: list[str], cwd: Path = ROOT) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")
        self.logs.append(log)
        proc = self.procs[name] = subprocess.Popen(command, cwd=cwd, env=self.env, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True)
        return proc

    def start_dask(self, workers: int, hidden: Path) -> None:
        port = self.address.rsplit(":", 1)[1]
        self.start("scheduler", _dask_command("dask_scheduler", "--host", "127.0.0.1", "--port", port,
                                              "--no-dashboard"))
        for i in range(workers):  # one thread each: the two "machines" share this one's cores
            self.start(f"worker-{i}", _hiding(hidden, _dask_command(
                "dask_worker", self.address, "--host", "127.0.0.1", "--name", f"worker-{i}", "--nthreads", "1",
                "--no-dashboard", "--death-timeout", "120", "--local-directory", str(self.folder / f"worker-{i}"))))

    def log(self, name: str, tail: int = 3000) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-tail:]

    def machine(self, name: str) -> list:
        """The processes of a worker's "machine": its session and their descendants (Festival and
        ffmpeg run in sessions of their own)."""
        import psutil

        found = {p.pid: p for p in _session_processes(self.procs[name].pid)}
        for proc in list(found.values()):
            try:
                found.update({child.pid: child for child in proc.children(recursive=True)})
            except psutil.Error:
                continue
        return list(found.values())

    def festival(self, name: str) -> bool:
        """Whether a Festival process runs on the machine of ``name``."""
        import psutil

        for proc in self.machine(name):
            try:
                if Path((proc.cmdline() or [""])[0]).name == "festival":
                    return True
            except psutil.Error:
                continue
        return False

    def kill(self, name: str) -> None:
        """SIGKILL every process of a worker's machine (its nanny, the worker, Festival, whatever
        session each is in): a machine lost."""
        for proc in [self.procs[name], *self.machine(name)]:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> list[str]:
        left = []
        for proc in self.procs.values():
            left += _stop_group(proc, grace=10.0)
        for log in self.logs:
            log.close()
        return left


def _read_samples(path: Path):
    import soundfile

    data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    return data, rate


@pytest.mark.skipif(not _can_hide(), reason="needs unshare --mount --map-root-user (user namespaces)")
def test_dask_cluster_survives_a_killed_worker(prefect_server, tmp_path):
    """`voice convert --prefect` with a profile naming a separately started Dask scheduler; two
    workers see only the store's folder (the recordings and outputs are hidden from them). One worker
    is killed (-9, with its nanny and Festival) while it runs a synthesize task: the run completes,
    the outputs equal a local run's sample for sample, and the store holds no half-written or
    unverifiable artifact."""
    from distributed import Client

    from voicechanger.store import Store

    here = tmp_path / "flow-machine"  # what only the machine running the flow sees
    recordings = here / "recordings"
    recordings.mkdir(parents=True)
    for name in EXTRA[:2]:
        shutil.copy(SOUNDS / name, recordings / name)

    # the reference: the local runner, its own store
    local = _cli(str(recordings), str(here / "local"), "--profile", "fast", "--format", "wav",
                 "--cache-dir", str(here / "local-cache"))
    assert local.returncode == 0, local.stderr[-3000:]

    env = {**prefect_server["env"], "PYTHONPATH": str(ROOT)}
    cluster = _Cluster(tmp_path, env)
    profile = here / "team.yaml"
    profile.write_text((ROOT / "configs" / "fast.yaml").read_text()
                       + f'runner: dask\ndask_address: "{cluster.address}"\n')
    cache = tmp_path / "shared-store"
    killed: dict[str, Any] = {}
    try:
        cluster.start_dask(2, hidden=here)
        with Client(cluster.address, timeout=120) as client:
            client.wait_for_workers(2, timeout=180)
            names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
            run = cluster.start("flow", [sys.executable, "-m", "voicechanger", "convert", str(recordings),
                                         str(here / "dask"), "--profile", str(profile), "--format", "wav",
                                         "--cache-dir", str(cache), "--prefect"], cwd=here)
            deadline = time.monotonic() + 600
            while not killed and run.poll() is None and time.monotonic() < deadline:
                for addr, keys in client.processing().items():  # a worker synthesizing, Festival up
                    if any(str(k).startswith("synthesize") for k in keys) and cluster.festival(names[addr]):
                        killed = {"worker": names[addr], "at": time.time()}
                        cluster.kill(names[addr])
                        break
                time.sleep(0.02)
            assert killed, "no worker was seen running Festival for a synthesize task:\n" + cluster.log("flow")
            print(f"killed {killed['worker']} while it ran synthesize")
            code = run.wait(timeout=max(1.0, deadline - time.monotonic()))
            assert code == 0, cluster.log("flow")
    finally:
        left = cluster.stop()
    assert not left, f"processes of the cluster or the run left behind: {left}"
    assert "2 converted, 0 cached, 0 failed" in cluster.log("flow")
    for worker in ("worker-0", "worker-1"):  # e.g. no profiler tracebacks on the model's frames
        text = cluster.log(worker, tail=10**7)
        assert " - ERROR - " not in text, text[text.find(" - ERROR - ") - 200:][:3000]
    # the server saw every task run finish, the killed one included (none left Running)
    flow_run = re.search(r"/runs/flow-run/([0-9a-f-]{36})", cluster.log("flow", tail=10**7))
    assert flow_run, cluster.log("flow")
    states = _settled_task_states(flow_run.group(1), 16)
    assert len(states) >= 16 and all(s in ("Completed", "Cached") for _, s in states), states

    # the same files, sample for sample
    outputs = sorted(p.relative_to(here / "local") for p in (here / "local").rglob("*.wav"))
    assert len(outputs) == 2
    assert sorted(p.relative_to(here / "dask") for p in (here / "dask").rglob("*.wav")) == outputs
    for rel in outputs:
        (ours, rate), (theirs, their_rate) = _read_samples(here / "dask" / rel), _read_samples(here / "local" / rel)
        assert rate == their_rate and ours.shape == theirs.shape and (ours == theirs).all(), rel

    # the killed task was done again by the survivor; nothing half-written or unverifiable is left
    events = store_events(cache)
    assert any(e["event"] == "put" and e["stage"] == "synthesize" and e["t"] > killed["at"] for e in events)
    assert not list(cache.rglob(".tmp-*")) and not list(cache.rglob(".bad-*"))
    store = Store(cache)
    entries = list(store.entries())
    assert {stage for stage, *_ in entries} >= {"decode", "chunk", "transcribe", "stress", "synthesize", "prosody",
                                                 "transcript", "concat"}
    for stage, path, _size, _used in entries:
        assert store.get(stage, path.name) is not None, f"{stage}/{path.name} does not verify"


def test_flow_video_out_with_mix(prefect_server, tmp_path):
    """The flow takes a video to a video, with the mix mode and the original track as its parameters:
    packets copied, the voice (Opus) and the original (AAC, copied) as tagged tracks, mix ran."""
    from media import make_video, streams, video_md5

    clip = make_video(tmp_path, seconds=8.0)
    out, cache = tmp_path / "out" / "clip.mkv", tmp_path / "cache"
    state = _run_flow(input=str(clip.path), output=str(out), profile="fast", cache_dir=str(cache), mix="voiceover",
                      keep_original_audio=True)
    assert state.is_completed(), state.message
    assert video_md5(out) == video_md5(clip.path)
    audio = [s for s in streams(out)["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["tags"]["title"]) for s in audio] == [("opus", "voice"), ("aac", "original")]
    assert "mix" in computed_stages(cache)


def _every_runner_finishes_alike(cache: Path, source: Path, work: Path, state, unsaid: str) -> None:
    """The flow, the local runner and the folder runner finish one recording through one lifecycle
    (voicechanger.runners.lifecycle.finish): the same notices, phrases, subtitles and account of what was said."""
    from voicechanger.config import load_settings
    from voicechanger.runners.batch import convert_folder
    from voicechanger.runners.local import convert
    from voicechanger.store import Store

    (flowed,) = [r for r in state.result()["recordings"] if Path(r["input"]).name == source.name]
    settings, store = load_settings("fast"), Store(cache)
    local = convert(source, work / "local" / "one.mp3", settings, store)
    (folder,) = convert_folder([(source, work / "folder" / "one.mp3")], settings, store)
    for result in (local, folder):
        assert result.status == flowed["status"] == "cached", (result.status, flowed["status"])
        assert [n.as_dict() for n in result.notices] == flowed["notices"], (result.notices, flowed["notices"])
        assert result.unsaid == flowed["unsaid"] and result.said is not None
        assert result.said.text() == flowed["said"] == "all from the cache"
        assert result.subtitles is not None and result.subtitles.read_bytes() == Path(flowed["output"]).with_suffix(
            ".srt").read_bytes()
    assert any(n["code"] == "unsaid" and repr(unsaid) in n["text"] for n in flowed["notices"]), flowed["notices"]
    assert local.phrases == folder.phrases and local.duration == folder.duration


def test_unsaid_phrases_in_the_flow_run(converted, prompts, tmp_path):
    """A phrase the voice cannot say: the flow lists it in its summary and its voice-summary artifact, on a
    computed and on a cached run; with strict the recording fails and gets no output."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from speech import make_phrase_unsayable
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph
    from voicechanger.plan import plan_recording
    from voicechanger.store import Store

    cache = tmp_path / "cache"
    shutil.copytree(converted["cache"], cache, ignore=shutil.ignore_patterns(".scratch", ".prefect-results"))
    name = next(iter(PROMPTS))
    plan = plan_recording(Graph(Store(cache), load_settings("fast")), prompts / name, "mp3")
    text = make_phrase_unsayable(cache, plan.chains[0][1].key)
    for node in (plan.chains[0][2], plan.chains[0][3], plan.concat, plan.transcript):
        shutil.rmtree(Store(cache).path_of(node.name, node.key))
    for attempt in ("computed", "cached"):
        out = tmp_path / attempt
        state = _run_flow(input=str(prompts), output=str(out), profile="fast", cache_dir=str(cache))
        assert state.is_completed(), state.message
        unsaid = {Path(r["input"]).name: r["unsaid"] for r in state.result()["recordings"]}
        assert [u["text"] for u in unsaid.pop(name)] == [text] and not any(unsaid.values()), (attempt, unsaid)
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
        (summary,) = [a for a in artifacts if a.key == "voice-summary"]
        assert name in summary.data and repr(text) in summary.data, summary.data
    _every_runner_finishes_alike(cache, prompts / PROMPTS[name] / name, tmp_path, state, text)
    strict = _run_flow(input=str(prompts), output=str(tmp_path / "strict"), profile="fast", cache_dir=str(cache),
                       overrides={"strict": True})
    assert strict.is_failed() and "nothing the voice can say" in strict.message, strict.message
    assert not (tmp_path / "strict" / Path(name).with_suffix(".mp3")).exists()

"""What the store never trusts and never keeps: manifests that are not manifests, edited metadata, writes
to a full disk, scratch folders of dead processes; and engine failures that must abort, not be stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from speech import ROOT, run_cli, store_events

KEY = "ab" * 32


@pytest.fixture
def store(tmp_path):
    from voicechanger.store import Store

    return Store(tmp_path / "cache")


def _put(store, meta=None):
    return store.put("stress", KEY, meta or {"phrases": [{"start": 1.0, "text": "да"}]},
                     arrays={"audio": np.arange(100, dtype=np.float32)})


def _corrupt_events(store) -> list[str]:
    return [e["why"] for e in store_events(store.root) if e["event"] == "corrupt"]


@pytest.mark.parametrize("manifest", [
    {}, [], "manifest", 3, None,
    {"stage": "stress", "key": KEY, "meta": {}},                              # no files
    {"stage": "stress", "key": KEY, "meta": [], "files": {}},                 # meta of the wrong type
    {"stage": "stress", "key": KEY, "meta": {}, "files": {"audio.npy": 5}},   # a file entry of the wrong type
], ids=["empty", "list", "string", "number", "null", "no-files", "meta-list", "file-int"])
def test_a_manifest_that_is_not_one_is_discarded_and_recomputed(store, manifest):
    artifact = _put(store)
    (artifact.path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert store.get("stress", KEY) is None
    assert not artifact.path.exists()
    assert len(_corrupt_events(store)) == 1
    again = _put(store)
    assert store.get("stress", KEY).meta == again.meta


def test_an_artifact_renamed_into_place_while_a_reader_looks_is_not_discarded(store, monkeypatch):
    """A reader that finds no manifest and then finds the folder (another thread's put renamed it into
    place in between) reads again: the new artifact is not a broken one (a folder run lost one this way
    and failed with its audio.npy missing)."""
    from pathlib import Path

    folder = store.path_of("stress", KEY)
    real_exists = Path.exists
    landed = []

    def exists(path, *args, **kwargs):
        if path == folder and not landed:  # the writer's rename lands just after the reader's failed read
            landed.append(_put(store))
        return real_exists(path, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    found = store.get("stress", KEY)
    assert landed and found is not None and found.meta == landed[0].meta
    assert (folder / "audio.npy").is_file() and _corrupt_events(store) == []


def test_a_folder_without_a_manifest_is_discarded(store):
    artifact = _put(store)
    (artifact.path / "manifest.json").unlink()
    assert store.get("stress", KEY) is None and not artifact.path.exists()
    assert _corrupt_events(store) == ["no manifest"]
    assert _put(store).path == artifact.path


@pytest.mark.parametrize("edit", ["meta", "created", "key", "unsealed"])
def test_edited_metadata_is_detected(store, edit):
    artifact = _put(store)
    path = artifact.path / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if edit == "meta":
        manifest["meta"]["phrases"][0]["text"] = "нет"
    elif edit == "created":
        manifest["created"] += 1
    elif edit == "key":
        manifest["key"] = "cd" * 32
    else:  # a manifest of the format before the seal: recomputed once, which is fine
        del manifest["check"]
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert store.get("stress", KEY) is None
    assert len(_corrupt_events(store)) == 1


def test_a_sealed_manifest_reads_back_whatever_the_meta_holds(store):
    meta = {"spans": [(0, 16000), (16000, 32000)], 3: "int key", "x": 1.0000000000000002, "nan": float("nan"),
            "text": "ёлка «ёлка»", "nested": {"b": [1, {"a": None}]}}
    store.put("chunk", KEY, meta)
    found = store.get("chunk", KEY)
    assert found is not None and found.meta["spans"] == [[0, 16000], [16000, 32000]] and found.meta["3"] == "int key"


# -- a full disk --------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs), where this test runs as root; else None."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


_PUT_2MB = """
import sys, numpy as np
from voicechanger.errors import StoreWriteError
from voicechanger.store import Store
store = Store(sys.argv[1])
try:
    store.put("decode", "ab" * 32, {"x": 1}, arrays={"audio": np.ones(500_000, dtype=np.float32)})
except StoreWriteError as exc:
    print(exc)
    sys.exit(7)
"""


def _limited_put(root: Path) -> subprocess.CompletedProcess:
    """Store.put of 2 MB in a process whose files may not exceed 1 MB (RLIMIT_FSIZE: the write fails
    with EFBIG, as on a full disk), for machines where a small filesystem cannot be mounted."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    return subprocess.run([sys.executable, "-c", _PUT_2MB, str(root)], capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=limit)


def test_ctrl_c_just_after_the_work_folder_is_made_leaves_nothing(store, monkeypatch):
    """SIGINT handled in the main thread the moment a put's work folder exists: the put is not stored
    and its folder is gone (an interrupted conversion once left one in the store)."""
    from voicechanger.errors import Interrupted
    from voicechanger.runtime import interrupt

    real_mkdir = Path.mkdir

    def mkdir_then_ctrl_c(self, *args, **kwargs):
        real_mkdir(self, *args, **kwargs)
        if self.name.startswith(".tmp-"):
            signal.raise_signal(signal.SIGINT)

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(Path, "mkdir", mkdir_then_ctrl_c)
    try:
        # As in a foreground run: a test run started in the background inherits SIGINT ignored, which
        # install() rightly keeps.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        interrupt.install()
        with pytest.raises(Interrupted):
            _put(store)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        interrupt.reset()
    monkeypatch.undo()
    assert list(store.root.rglob(".tmp-*")) == []
    assert store.get("stress", KEY) is None
    _put(store)
    assert store.get("stress", KEY) is not None


def test_a_write_to_a_full_disk_leaves_nothing_and_says_so(small_disk, tmp_path):
    if small_disk is None:
        root = tmp_path / "cache"
        done = _limited_put(root)
        assert done.returncode == 7, done.stderr
        message = done.stdout.strip()
    else:
        from voicechanger.errors import StoreWriteError
        from voicechanger.store import Store

        root = small_disk / "cache"
        store = Store(root)
        with pytest.raises(StoreWriteError) as caught:
            store.put("decode", KEY, {"x": 1}, arrays={"audio": np.ones(500_000, dtype=np.float32)})
        message = str(caught.value)
        assert store.get("decode", KEY) is None
        store.put("chunk", KEY, {"spans": [[0, 1]]})  # the space was given back
        assert store.get("chunk", KEY) is not None
    assert "disk is full" in message and str(root.resolve()) in message and "--cache-dir" in message and "\n" not in message
    leftovers = [p for p in (root / "decode").rglob("*")] if (root / "decode").exists() else []
    assert [p for p in leftovers if p.is_file()] == []


def test_a_full_cache_disk_in_a_conversion_is_one_line(small_disk, tmp_path):
    """The CLI on a cache whose disk fills up during the work: one line naming the cache, no traceback,
    no output, nothing half-written."""
    if small_disk is None:
        pytest.skip("needs root to mount a 1 MB tmpfs")
    from speech import prompt

    out = tmp_path / "out.wav"
    cache = small_disk / "cache"
    done = run_cli("convert", str(prompt("demo-thanks")), str(out), "--profile", "fast", "--cache-dir", str(cache))
    assert done.returncode != 0 and not out.exists()
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]  # (warnings may precede it)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "space" in lines[0] and str(cache.resolve()) in lines[0].replace("\n", ""), lines[0]
    from voicechanger.store import Store

    store = Store(cache)  # the stages before the full disk are stored whole; nothing half-written is left
    assert all(store.get(stage, path.name) is not None for stage, path, _size, _used in store.entries())
    assert [p.name for p in cache.rglob(".tmp-*")] == []
    print(lines[0])


# -- scratch folders of dead processes ---------------------------------------------------------------

def test_scratch_folders_of_gone_processes_are_removed(tmp_path):
    from voicechanger.store import HOST_TAG, Store

    root = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from voicechanger.store import Store; "
         "print(Store(sys.argv[1]).scratch(), flush=True); time.sleep(60)", str(root)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    killed = Path(child.stdout.readline().strip())
    running = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from voicechanger.store import Store; "
         "print(Store(sys.argv[1]).scratch(), flush=True); time.sleep(60)", str(root)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    alive = Path(running.stdout.readline().strip())
    try:
        child.kill()
        child.wait()
        assert killed.is_dir() and alive.is_dir()
        scratch = root / ".scratch"
        reused = scratch / f"{os.getpid()}-1-{HOST_TAG}-000000000000"    # our pid, another start time
        other_host = scratch / f"{child.pid}-1-ffffffff-000000000000"    # a dead pid, but on another machine
        old_style = scratch / f"{child.pid}-0123456789ab"                 # before owners were recorded
        for folder in (reused, other_host, old_style):
            folder.mkdir()
        mine = Store(root).scratch()
        assert not killed.exists() and not reused.exists()
        assert alive.is_dir() and other_host.is_dir() and old_style.is_dir() and mine.is_dir()
    finally:
        running.kill()
        running.wait()
    Store(root).prune(older_than_s=1e9)
    assert not alive.exists() and other_host.is_dir()


# -- engines: a killed encoder, an interrupted Festival ------------------------------------------------

def _children(name: str) -> list:
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if p.name() == name]


def _blocks(then):
    """Blocks of a tone; ``then`` runs once ffmpeg has taken the first one."""
    tone = np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220).astype(np.float32) * 0.3
    yield tone
    then()
    for _ in range(20):
        yield tone


def test_an_encoder_killed_by_a_signal_says_so(tmp_path):
    from voicechanger.errors import VoiceError
    from voicechanger.signal.blockaudio import encode_blocks

    def kill_ffmpeg() -> None:
        (ffmpeg,) = _children("ffmpeg")
        ffmpeg.send_signal(signal.SIGKILL)  # not ffmpeg.wait(): that would reap it before encode_blocks can
        while ffmpeg.status() != "zombie":
            time.sleep(0.01)

    target = tmp_path / "out.mp3"
    with pytest.raises(VoiceError) as caught:
        encode_blocks(_blocks(kill_ffmpeg), 16000, target, "mp3")
    assert "ffmpeg was killed by SIGKILL (signal 9)" in str(caught.value)


def test_an_interrupted_encode_stops_its_encoder(tmp_path):
    from voicechanger.errors import Interrupted
    from voicechanger.runtime import interrupt
    from voicechanger.signal.blockaudio import encode_blocks

    try:
        with pytest.raises(Interrupted):
            encode_blocks(_blocks(lambda: interrupt.request_stop(signal.SIGTERM)), 16000, tmp_path / "out.mp3", "mp3")
    finally:
        interrupt.reset()
    assert _children("ffmpeg") == []


def test_terminal_signals_do_not_reach_engine_processes():
    """Festival runs in a process group of its own: a Ctrl-C or kill -- -PGID for us never reaches it."""
    from voicechanger.engines.tts import festival, get_voice

    voice = get_voice("festival:msu_ru_nsh")
    voice.warm_up()
    try:
        (proc,) = _children("festival")
        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
    finally:
        voice.close()
    assert festival  # the module the voice came from


def test_festival_interrupted_mid_phrase_is_an_engine_error_not_an_unsaid_phrase():
    """SIGINT reaching Festival itself (a background job that ignores it while Festival does not, before
    engine processes had their own group) used to come back as an unsaid phrase, which was stored."""
    from voicechanger.engines.tts import Unsayable, get_voice
    from voicechanger.errors import EngineError

    voice = get_voice("festival:msu_ru_nsh")
    voice.warm_up()
    tokens = ("здр+авствуйте э+то дл+инная фр+аза для пров+ерки с+интеза р+ечи " * 40).split()
    outcome: dict = {}

    def say() -> None:
        try:
            voice.synthesize(tokens)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome["error"] = exc

    (proc,) = _children("festival")
    speaker = threading.Thread(target=say)
    speaker.start()
    time.sleep(0.4)  # well inside the ~3 s this phrase takes
    proc.send_signal(signal.SIGINT)
    speaker.join(60)
    assert isinstance(outcome.get("error"), EngineError) and not isinstance(outcome["error"], Unsayable), outcome
    assert len(voice.synthesize(["д+а."]).audio) > 0  # a fresh process takes the next phrase
    with pytest.raises(Unsayable):
        voice.synthesize(["123", "%"])
    voice.close()

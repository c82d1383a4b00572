"""The content-hashed store: what reruns after which change, crash safety, sharing, batches."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speech import ROOT, assemble, computed_stages, prompt, run_cli, store_events
from voicechanger.stages import STAGES

pytestmark = pytest.mark.slow

# What a cold audio conversion in replace mode runs: every stage but the script (phrases from a file) and the mix.
ALL_STAGES = set(STAGES.names()) - {"script", "mix"}


@pytest.fixture(scope="module")
def short_input(tmp_path_factory) -> Path:
    return assemble(["demo-nogo", "demo-thanks"], tmp_path_factory.mktemp("in") / "short.wav").path


def _convert(source: Path, out: Path, cache: Path, profile: str = "fast", **overrides):
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert
    from voicechanger.store import Store

    return convert(source, out, load_settings(profile, overrides), Store(cache))


def test_rerun_runs_nothing(short_input, tmp_path):
    cold = _convert(short_input, tmp_path / "a.mp3", tmp_path / "cache")
    assert set(cold.ran) == ALL_STAGES
    warm = _convert(short_input, tmp_path / "b.mp3", tmp_path / "cache")
    assert warm.ran == [] and warm.cached
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()


def test_exact_invalidation(short_input, tmp_path):
    """End to end, one change: another voice setting recomputes exactly synthesize, prosody and concat
    through the real stages and store. Which keys every other setting, format and version bump moves
    is checked without running a stage in test_graph.py."""
    cache = tmp_path / "cache"
    _convert(short_input, tmp_path / "a.mp3", cache)
    rerun = _convert(short_input, tmp_path / "b.mp3", cache, **{"prosody.fit_rate": False})
    assert set(rerun.ran) == {"synthesize", "prosody", "concat"}


def test_only_the_stages_that_will_run_are_loaded_ahead(short_input, tmp_path):
    """The voice thread warms up (loads models for) just the stages a rerun computes: another voice
    reuses the stressed text, so it must not load the stress tables."""
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph
    from voicechanger.plan import plan_recording
    from voicechanger.runners.local import stages_to_load
    from voicechanger.store import Store

    cache = tmp_path / "cache"
    _convert(short_input, tmp_path / "a.mp3", cache)

    def loaded(**overrides) -> list[str]:
        graph = Graph(Store(cache), load_settings("fast", overrides))
        return [stage.name for stage in stages_to_load(graph, plan_recording(graph, short_input, "mp3").chains)]

    assert loaded() == []
    assert loaded(**{"prosody.fit_rate": False}) == ["synthesize", "prosody", "concat"]
    assert loaded(**{"prosody.mode": "full"}) == ["prosody", "concat"]
    assert loaded(**{"whisper.beam_size": 2}) == ["stress", "synthesize", "prosody", "concat", "transcript"]


def test_whisper_loads_during_decoding_only_when_it_will_transcribe(short_input, tmp_path):
    """A recording without a chunk plan in the store will be transcribed: Whisper starts loading while
    ffmpeg decodes. Once the plan is stored (a rerun: another voice, another profile) nothing loads."""
    from voicechanger.config import load_settings
    from voicechanger.engines import asr
    from voicechanger.graph import Graph
    from voicechanger.plan import front_nodes
    from voicechanger.runners.local import load_whisper_ahead
    from voicechanger.store import Store, sha256_file

    graph = Graph(Store(tmp_path / "cache"), load_settings("fast"))
    _, chunk = front_nodes(graph.settings, short_input, sha256_file(short_input))
    loader = load_whisper_ahead(graph, chunk)
    assert loader is not None
    loader.join(timeout=120)
    assert any(key[0].endswith("whisper-base") for key in asr._models)
    graph.ensure(chunk)
    assert load_whisper_ahead(graph, chunk) is None


def test_renamed_copy_hits_and_edited_copy_misses(short_input, tmp_path):
    cache = tmp_path / "cache"
    _convert(short_input, tmp_path / "a.mp3", cache)
    renamed = tmp_path / "another name.wav"
    shutil.copyfile(short_input, renamed)
    assert _convert(renamed, tmp_path / "b.mp3", cache).ran == []
    edited = tmp_path / "edited.wav"
    data = bytearray(short_input.read_bytes())
    data[-2000:] = bytes(2000)  # silence the last 1000 samples
    edited.write_bytes(bytes(data))
    assert "transcribe" in _convert(edited, tmp_path / "c.mp3", cache).ran


def test_voice_change_transcribes_nothing(short_input, tmp_path, silero_models):
    cache = tmp_path / "cache"
    _convert(short_input, tmp_path / "a.mp3", cache)
    os.environ["VOICECHANGER_MODELS"] = str(silero_models)
    try:
        rerun = _convert(short_input, tmp_path / "b.mp3", cache, voice="silero:xenia")
    finally:
        del os.environ["VOICECHANGER_MODELS"]
    assert set(rerun.ran) == {"synthesize", "prosody", "concat"}


def _all_artifacts_valid(cache: Path) -> int:
    from voicechanger.store import Store

    store = Store(cache)
    entries = list(store.entries())
    for stage, path, _size, _used in entries:
        assert store.get(stage, path.name) is not None, f"corrupt artifact {stage}/{path.name}"
    return len(entries)


def test_kill_during_synthesize_then_rerun(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out.mp3"
    source = prompt("demo-congrats")
    command = [sys.executable, "-m", "voicechanger", "convert", str(source), str(out), "--cache-dir", str(cache)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while "stress" not in computed_stages(cache) and time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before synthesize"
            time.sleep(0.05)
        time.sleep(0.5)  # well inside synthesize (tens of phrases)
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "synthesize" not in computed_stages(cache) and not out.exists()
    _all_artifacts_valid(cache)
    before = len(store_events(cache))
    result = run_cli("convert", str(source), str(out), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    rerun = computed_stages(cache, before)
    assert "transcribe" not in rerun and "synthesize" in rerun
    assert out.is_file()
    assert _all_artifacts_valid(cache) >= 8


def test_truncated_artifact_is_recomputed(short_input, tmp_path):
    cache = tmp_path / "cache"
    first = _convert(short_input, tmp_path / "a.mp3", cache)
    artifact = first.concat
    victim = artifact.file(artifact.meta["file"])
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    from voicechanger.store import Store

    prosody_key = first.plan.chains[0][3].key
    audio = Store(cache).path_of("prosody", prosody_key) / "audio.npy"
    audio.write_bytes(audio.read_bytes()[:100])
    again = _convert(short_input, tmp_path / "b.mp3", cache)
    assert set(again.ran) == {"prosody", "concat"}
    corrupt = [e["stage"] for e in store_events(cache) if e["event"] == "corrupt"]
    assert sorted(corrupt) == ["concat", "prosody"]
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()


def test_two_runs_at_once_share_one_store(tmp_path):
    """Two processes convert the same folder into one store at the same time (short prompts: the race is
    on the store, not on the length of the speech)."""
    names = ("one-moment-please", "something-terribly-wrong")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        shutil.copyfile(prompt(name), folder / f"{name}.wav")
    cache = tmp_path / "cache"
    runs = [
        subprocess.Popen([sys.executable, "-m", "voicechanger", "convert", str(folder), str(tmp_path / f"out{i}"),
                          "--profile", "fast", "--cache-dir", str(cache)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in (1, 2)
    ]
    for run in runs:
        _stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr
    for name in names:
        one, two = tmp_path / "out1" / f"{name}.mp3", tmp_path / "out2" / f"{name}.mp3"
        assert one.read_bytes() == two.read_bytes()
    _all_artifacts_valid(cache)


def test_batch_with_a_corrupt_file(tmp_path):
    import pyarrow.parquet as pq

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copyfile(prompt("demo-thanks"), folder / "thanks.wav")
    shutil.copyfile(prompt("vm-intro"), folder / "sub" / "intro.wav")
    (folder / "broken.mp3").write_bytes(os.urandom(5000))
    out, cache = tmp_path / "out", tmp_path / "cache"
    result = run_cli("convert", str(folder), str(out), "--profile", "fast", "--workers", "2", "--cache-dir", str(cache))
    assert result.returncode != 0
    assert "broken.mp3" in result.stderr and "2 converted" in result.stderr and "1 failed" in result.stderr
    assert (out / "thanks.mp3").is_file() and (out / "sub" / "intro.mp3").is_file()
    assert not (out / "broken.mp3").exists()
    tables = sorted((cache / "transcript").rglob("segments.parquet"))
    assert len(tables) == 2
    texts = [" ".join(pq.read_table(t).column("text").to_pylist()).lower() for t in tables]
    assert any("свидания" in t for t in texts) and any("сообщение" in t for t in texts)
    words = pq.read_table(tables[0].with_name("words.parquet"))
    assert {"recording", "chunk", "start", "end", "text", "probability"} <= set(words.column_names)
    assert words.num_rows > 3


def test_cache_stats_and_prune(short_input, tmp_path):
    cache = tmp_path / "cache"
    _convert(short_input, tmp_path / "a.mp3", cache)
    stats = run_cli("cache", "stats", "--cache-dir", str(cache))
    assert stats.returncode == 0
    for stage in ("transcribe", "synthesize", "concat"):
        assert stage in stats.stdout
    stored = len(list(Path(cache).rglob("manifest.json")))  # 8 stage artifacts and the per-phrase memos
    assert stored > 8
    pruned = run_cli("cache", "prune", "--max-size", "0", "--cache-dir", str(cache))
    assert pruned.returncode == 0 and f"removed {stored}" in pruned.stdout
    assert json.dumps(list(Path(cache).rglob("manifest.json"))) == "[]"

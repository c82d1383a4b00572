"""Bad input, settings and environment: one clear line, a non-zero exit, nothing half-written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speech import RATE, ROOT, computed_stages, decode, prompt, run_cli, write_wav
from voicechanger.errors import VoiceError


def _assert_clean_failure(result, out_dir: Path, *needles: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    assert not any(out_dir.rglob("*")), list(out_dir.rglob("*"))
    return lines[0]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def _convert(source: Path, out_dir: Path, tmp_path: Path, *extra: str, name: str = "out.mp3", env=None):
    return run_cli("convert", str(source), str(out_dir / name), "--cache-dir", str(tmp_path / "cache"), *extra, env=env)


def test_missing_input(tmp_path, out_dir):
    result = _convert(tmp_path / "nope.mp3", out_dir, tmp_path)
    _assert_clean_failure(result, out_dir, "nope.mp3", "no such file")


def test_empty_input(tmp_path, out_dir):
    empty = tmp_path / "empty.wav"
    empty.touch()
    _assert_clean_failure(_convert(empty, out_dir, tmp_path), out_dir, "empty.wav", "empty")


def test_corrupt_input(tmp_path, out_dir):
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    _assert_clean_failure(_convert(corrupt, out_dir, tmp_path), out_dir, "corrupt.mp3")


def test_truncated_wav(tmp_path, out_dir):
    """A real wav cut to its first 40 bytes: a header with no audio."""
    cut = tmp_path / "cut.wav"
    cut.write_bytes(prompt("demo-thanks").read_bytes()[:40])
    _assert_clean_failure(_convert(cut, out_dir, tmp_path), out_dir, "cut.wav")


def test_non_audio_input(tmp_path, out_dir):
    text = tmp_path / "notes.wav"
    text.write_text("это не звук, а текст\n" * 50, encoding="utf-8")
    _assert_clean_failure(_convert(text, out_dir, tmp_path), out_dir, "notes.wav", "audio")


def test_silent_input(tmp_path, out_dir):
    silent = tmp_path / "silence.wav"
    write_wav(np.zeros(16000 * 3, dtype=np.float32), silent)
    _assert_clean_failure(_convert(silent, out_dir, tmp_path), out_dir, "silence.wav", "silent")


def test_a_process_ends_only_after_whisper_has_loaded(tmp_path):
    """A silent input fails in its decoding while Whisper loads on a thread of its own: the process ends
    only once that load is over, since one that exits in the middle of it can abort with a second line.
    An exit hook (run after the interpreter has waited for its threads) reports any loader still alive."""
    silent = tmp_path / "silence.wav"
    write_wav(np.zeros(16000 * 3, dtype=np.float32), silent)
    code = f"""
import atexit, threading
from pathlib import Path
from voicechanger.config import load_settings
from voicechanger.errors import InputError
from voicechanger.graph import Graph
from voicechanger.runners.local import plan_local
from voicechanger.store import Store
atexit.register(lambda: print("loading at exit:", [t.name for t in threading.enumerate() if t.name == "asr-load"]))
try:
    plan_local(Graph(Store({str(tmp_path / "cache")!r}), load_settings("fast")), Path({str(silent)!r}), "mp3")
except InputError as exc:
    print("failed:", exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "failed: input" in result.stdout and "is silent" in result.stdout, result.stdout
    assert result.stdout.strip().endswith("loading at exit: []"), result.stdout


def test_unknown_voice(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--voice", "festival:nobody")
    _assert_clean_failure(result, out_dir, "festival:nobody")


def test_missing_whisper_model(tmp_path, out_dir):
    """A model that is neither embedded nor downloadable here fails fast, telling how to provide it."""
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--model", "small",
                      env={"VOICECHANGER_MODELS": str(tmp_path / "models")})
    _assert_clean_failure(result, out_dir, "small", "folder")


def test_embedded_model_assembled_once_by_concurrent_threads(tmp_path, monkeypatch):
    """A fresh models folder: Whisper loaded ahead and a folder's workers ask for the embedded model at
    once in one process; one assembles it, the others wait and get the same verified folder."""
    import threading

    from voicechanger.engines.asr import embedded_model_dir

    monkeypatch.setenv("VOICECHANGER_MODELS", str(tmp_path / "models"))
    found, failed = [], []

    def ask() -> None:
        try:
            found.append(embedded_model_dir())
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            failed.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed and found == [tmp_path / "models" / "whisper-base"] * 3
    assert sorted(p.name for p in found[0].iterdir()) == [".verified", "config.json", "model.bin", "tokenizer.json",
                                                          "vocabulary.txt"]


def test_unwritable_output(tmp_path, out_dir):
    blocker = out_dir / "a-file"
    blocker.write_text("x")
    result = run_cli("convert", str(prompt("demo-thanks")), str(blocker / "out.mp3"),
                     "--cache-dir", str(tmp_path / "cache"))
    blocker.unlink()
    _assert_clean_failure(result, out_dir, "not writable")


def test_unknown_output_extension(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, name="out.xyz")
    _assert_clean_failure(result, out_dir, ".xyz")


@pytest.mark.parametrize(
    "content, needles",
    [
        ("prosody:\n  mode: loud\n", ("prosody.mode", "duration", "full")),
        ("whisper:\n  beem_size: 3\n", ("whisper.beem_size",)),
        ("chunk_minutes: -1\n", ("chunk_minutes",)),
        ("whisper: [unclosed\n", ("yaml",)),
    ],
)
def test_bad_profile(tmp_path, out_dir, content, needles):
    profile = tmp_path / "mine.yaml"
    profile.write_text(content, encoding="utf-8")
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--profile", str(profile))
    _assert_clean_failure(result, out_dir, "mine.yaml", *needles)


def test_missing_profile(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--profile", "ultra")
    _assert_clean_failure(result, out_dir, "ultra", "fast, normal, high")


def test_odd_paths(tmp_path):
    """Spaces, Cyrillic, brackets and a leading dash in names, a path longer than a terminal line; the
    output folder is created and the output's path is printed as it is, on one line."""
    folder = tmp_path / "мои записи" / "-1 урок"
    folder.mkdir(parents=True)
    source = folder / "лекция №1 (копия) [черновик].wav"
    shutil.copyfile(prompt("demo-thanks"), source)
    target = tmp_path / "вывод с пробелами" / ("очень длинное имя " * 6) / "лекция №1 [bold] [черновик].mp3"
    result = run_cli("convert", str(source), str(target), "--profile", "fast", "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert target.is_file() and target.stat().st_size > 1000
    assert result.stdout.splitlines()[-1] == str(target)
    assert f"subtitles: {target.with_suffix('.srt')}\n" in result.stderr
    assert "speech covered 100%" in result.stdout + result.stderr  # one prompt: every word of it said
    # the output and its subtitles, nothing half-written beside them
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, target.with_suffix(".srt").name])


# -- issue 11: paths, CLI checks, clear errors, silent surprises --------------------------------------

def _no_work_done(cache: Path) -> None:
    """Nothing was computed: a check that fails 'before the work' leaves no artifact behind."""
    assert computed_stages(cache) == [], computed_stages(cache)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "talk.wav"
    path.parent.mkdir()
    shutil.copyfile(prompt("demo-thanks"), path)
    return path


def _relative_to_root(path: Path) -> str:
    return os.path.relpath(path, ROOT)  # run_cli runs in the project root


@pytest.mark.parametrize("spelling", ["same", "relative", "dotdot", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused(tmp_path, recording, spelling):
    """`voice convert a.wav a.wav` under any spelling: refused before the work, the recording intact."""
    before = recording.read_bytes()
    target = {
        "same": lambda: str(recording),
        "relative": lambda: _relative_to_root(recording),
        "dotdot": lambda: str(recording.parent / ".." / "in" / recording.name),
        "symlink": lambda: (tmp_path / "link.wav").symlink_to(recording) or str(tmp_path / "link.wav"),
        "hardlink": lambda: os.link(recording, tmp_path / "hard.wav") or str(tmp_path / "hard.wav"),
    }[spelling]()
    result = run_cli("convert", str(recording), target, "--cache-dir", str(tmp_path / "cache"))
    line = _assert_clean_failure(result, tmp_path / "empty-out", "is the input")
    assert result.returncode == 2, line
    assert recording.read_bytes() == before
    _no_work_done(tmp_path / "cache")


@pytest.mark.parametrize("spelling", ["same", "slash", "symlink"])
def test_folder_into_itself_is_refused(tmp_path, recording, spelling):
    folder = recording.parent
    target = {"same": lambda: str(folder), "slash": lambda: str(folder) + "/./",
              "symlink": lambda: (tmp_path / "alias").symlink_to(folder) or str(tmp_path / "alias")}[spelling]()
    result = run_cli("convert", str(folder), target, "--cache-dir", str(tmp_path / "cache"))
    _assert_clean_failure(result, tmp_path / "empty-out", "input folder")
    assert sorted(p.name for p in folder.iterdir()) == ["talk.wav"]
    _no_work_done(tmp_path / "cache")


def test_output_folder_inside_the_input_is_not_read(tmp_path, recording):
    """`voice convert dir dir/out`: earlier outputs under dir/out (however the output folder is spelled)
    are never inputs; an output folder holding a hard link to an input is refused."""
    from voicechanger.runners.batch import folder_pairs

    folder = recording.parent
    earlier = folder / "out" / "talk.mp3"
    earlier.parent.mkdir()
    shutil.copyfile(recording, earlier)
    (tmp_path / "alias").symlink_to(folder / "out")
    for output in (folder / "out", folder / "sub" / ".." / "out", tmp_path / "alias"):
        assert folder_pairs(folder, output, ".mp3") == [(recording, output / "talk.mp3")]
    assert folder_pairs(folder / "out", folder, ".wav") == [(earlier, folder / "talk.wav")]  # out/ -> around it
    other = tmp_path / "other"
    other.mkdir()
    os.link(recording, other / "talk.mp3")
    with pytest.raises(VoiceError, match="is the input"):
        folder_pairs(folder, other, ".mp3")


def test_dash_names_reach_ffmpeg_as_files(tmp_path, monkeypatch):
    """Names that start with '-' (or look like a protocol) in the current folder: ffprobe, the decoder and
    the encoder all take them as files, never as options."""
    from voicechanger.media.audio import decode_to_file, encode_command, probe

    monkeypatch.chdir(tmp_path)
    for name in ("-dash.wav", "-y.wav", "pipe:1.wav"):
        shutil.copyfile(prompt("demo-thanks"), tmp_path / name)
        assert probe(Path(name))["audio"]["codec_type"] == "audio"
        samples, _stream = decode_to_file(Path(name), Path("-decoded.f32"))
        assert samples == (tmp_path / "-decoded.f32").stat().st_size // 4 > 16000
        audio = np.fromfile(tmp_path / "-decoded.f32", dtype="<f4")
        target = Path("-out.wav")
        subprocess.run(encode_command(16000, target, "wav"), input=audio.tobytes(), check=True, capture_output=True)
        assert len(decode(tmp_path / "-out.wav")) == samples
        for made in ("-decoded.f32", "-out.wav"):
            (tmp_path / made).unlink()


@pytest.mark.slow
def test_folder_with_a_dash_name_converts_cold(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(prompt("demo-thanks"), folder / "-dash.wav")
    # Run inside the folder and name it '.': the files are then found as '-dash.wav', with no folder before.
    result = run_cli("convert", ".", str(tmp_path / "out"), "--profile", "fast", "--cache-dir", str(tmp_path / "cache"),
                     cwd=folder, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    converted = tmp_path / "out" / "-dash.mp3"
    assert abs(len(decode(converted)) - len(decode(folder / "-dash.wav"))) < 0.05 * RATE


def _store_with_artifacts(cache: Path) -> None:
    from voicechanger.store import Store

    store = Store(cache)
    for index in range(3):
        store.put("decode", f"{index:064x}", {"n": index}, files={"audio.f32": b"\0" * 4000})


@pytest.mark.parametrize("option, value", [("--older-than", "-5d"), ("--max-size", "-1G"), ("--max-size", "inf"),
                                           ("--older-than", "nan"), ("--older-than", ""), ("--max-size", ""),
                                           ("--older-than", "-0.5h"), ("--max-size", "nanM")])
def test_prune_refuses_bad_amounts(tmp_path, option, value):
    """Negative, infinite, NaN and empty amounts: one clear line, exit 2, nothing deleted."""
    cache = tmp_path / "cache"
    _store_with_artifacts(cache)
    before = sorted(p for p in cache.rglob("*") if p.is_file())
    result = run_cli("cache", "prune", option, value, "--cache-dir", str(cache))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert option in lines[0] and "Traceback" not in result.stderr
    assert sorted(p for p in cache.rglob("*") if p.is_file()) == before


def test_prune_still_prunes(tmp_path):
    cache = tmp_path / "cache"
    _store_with_artifacts(cache)
    result = run_cli("cache", "prune", "--max-size", "0", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "removed 3 artifacts" in result.stdout


def test_long_output_names_fit_their_temporary_name(tmp_path):
    """A legal name of 242-255 bytes (about 121 Cyrillic letters) is written through a temporary name that
    fits in 255 bytes; a name over the limit is refused before the work."""
    from voicechanger.media.audio import check_output, write_atomic

    source = tmp_path / "source.mp3"
    source.write_bytes(b"ID3 mp3 bytes" * 100)
    for letters in (117, 120, 121, 125):
        target = tmp_path / "out" / ("д" * letters + ".mp3")
        assert 238 <= len(os.fsencode(target.name)) <= 255
        check_output(target)
        write_atomic(source, target)
        assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("."))  == []
    with pytest.raises(VoiceError, match="longer than 255 bytes"):
        check_output(tmp_path / "out" / ("д" * 126 + ".mp3"))


def test_cache_stats_on_a_malformed_log(tmp_path):
    cache = tmp_path / "cache"
    _store_with_artifacts(cache)
    with open(cache / "events.jsonl", "ab") as handle:
        handle.write(b"{}\n" + bytes(np.random.default_rng(3).integers(0, 256, 300, dtype=np.uint8)) + b"\n[1]\n")
    result = run_cli("cache", "stats", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    row = next(line for line in result.stdout.splitlines() if "decode" in line)
    assert [cell.strip() for cell in row.split("│")[1:4]] == ["decode", "3", "0.0"]
    assert "malformed" in result.stderr


def test_cache_stats_on_a_missing_folder(tmp_path):
    result = run_cli("cache", "stats", "--cache-dir", str(tmp_path / "nope"))
    _assert_clean_failure(result, tmp_path / "empty-out", "nope", "does not exist")
    assert not (tmp_path / "nope").exists()


def test_unknown_language_before_the_work(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--language", "xx")
    line = _assert_clean_failure(result, out_dir, "language 'xx'", "ru", "en")
    assert result.returncode == 2, line
    _no_work_done(tmp_path / "cache")


def test_junk_model_file(tmp_path, out_dir):
    model = tmp_path / "mymodel"
    model.mkdir()
    (model / "model.bin").write_bytes(b"not a model" * 1000)
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--model", str(model))
    line = _assert_clean_failure(result, out_dir, str(model), "cannot be loaded")
    assert result.returncode == 2, line


def test_model_folder_that_does_not_exist(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--model", "/nonexistent")
    line = _assert_clean_failure(result, out_dir, "/nonexistent", "does not exist")
    assert "whisper---" not in line
    _no_work_done(tmp_path / "cache")


@pytest.mark.parametrize("where", ["output", "plot"])
def test_unwritable_places_before_the_work(tmp_path, out_dir, where):
    """An output or a --plot inside the kernel's /proc: refused before any work, nothing written."""
    output = "/proc/out.mp3" if where == "output" else str(out_dir / "out.mp3")
    extra = ("--plot", "/proc/plot.png") if where == "plot" else ()
    result = run_cli("convert", str(prompt("demo-thanks")), output, "--cache-dir", str(tmp_path / "cache"), *extra)
    _assert_clean_failure(result, out_dir, "/proc/", "not writable")
    _no_work_done(tmp_path / "cache")


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder nobody may write to, root included (a read-only mount: root ignores permission bits)."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.parametrize("option, what", [("--cache-dir", "cache folder"), ("--temp-dir", "temp folder")])
def test_read_only_cache_and_temp_folders(tmp_path, out_dir, read_only_dir, option, what):
    args = ["--cache-dir", str(tmp_path / "cache")] if option == "--temp-dir" else []
    result = run_cli("convert", str(prompt("demo-thanks")), str(out_dir / "out.mp3"), option, str(read_only_dir / "x"),
                     *args)
    _assert_clean_failure(result, out_dir, what, str(read_only_dir))


def test_cache_folder_that_is_a_file(tmp_path, out_dir):
    blocker = tmp_path / "cache-file"
    blocker.write_text("x")
    result = run_cli("convert", str(prompt("demo-thanks")), str(out_dir / "out.mp3"), "--cache-dir", str(blocker))
    _assert_clean_failure(result, out_dir, "cache folder", "is a file")
    assert blocker.read_text() == "x"


def test_full_disk_in_the_output_folder(tmp_path):
    """A full disk while the output is written: one line, no partial output, the part file removed."""
    from voicechanger.media.audio import write_atomic

    disk = tmp_path / "small"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        source = tmp_path / "big.mp3"
        source.write_bytes(b"\1" * 200_000)
        with pytest.raises(VoiceError) as caught:
            write_atomic(source, disk / "out.mp3")
        assert "out.mp3" in str(caught.value) and "No space left" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_profile_and_quality_together_are_refused(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--profile", "fast", "--quality", "high")
    _assert_clean_failure(result, out_dir, "--profile", "--quality")
    _no_work_done(tmp_path / "cache")


def test_format_for_a_single_file_is_refused(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--format", "wav")
    _assert_clean_failure(result, out_dir, "--format", "folder")
    _no_work_done(tmp_path / "cache")


def test_help_version_and_descriptions():
    from voicechanger import __version__
    from voicechanger.config import Settings

    help_text = " ".join(run_cli("convert", "--help", env={"COLUMNS": "200"}).stdout.split())
    defaults = Settings()
    for shown in (defaults.voice, defaults.device, str(defaults.workers), str(defaults.chunk_minutes),
                  defaults.whisper.model, defaults.mix.mode, str(defaults.mix.duck_db), defaults.subtitles,
                  "--no-original-audio"):
        assert f"[default: ({shown})]" in help_text, shown
    assert "Exit codes: 0: done" in help_text and "3: a bad input recording" in help_text
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"voice {__version__}"
    for command in ("stats", "prune"):
        text = " ".join(run_cli("cache", command, "--help", env={"COLUMNS": "200"}).stdout.split())
        assert "--cache-dir <path> The artifact store" in text, text


def test_the_readme_lists_the_exit_codes_the_code_defines():
    """The README's exit-code table is made from voicechanger.errors (paste exit_table() when it changes)."""
    from voicechanger.errors import exit_table

    assert exit_table() in (ROOT / "README.md").read_text(encoding="utf-8"), exit_table()


def test_truncated_mp3_is_reported(tmp_path):
    """An mp3 cut to half its bytes decodes to about half its declared length: the decode artifact keeps
    both, and the notice says so (on every run, cached ones included, since it reads the artifact)."""
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph
    from voicechanger.notices import truncated_input
    from voicechanger.plan import front_nodes
    from voicechanger.store import Store, sha256_file

    whole = tmp_path / "whole.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(prompt("demo-thanks")), "-ar", "16000", str(whole)], check=True)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    graph = Graph(Store(tmp_path / "cache"), load_settings("fast"))
    metas = {}
    for path in (whole, cut):
        decode, _chunk = front_nodes(graph.settings, path, sha256_file(path))
        metas[path.name] = graph.ensure(decode).meta
    assert truncated_input(whole, metas["whole.mp3"]) is None
    notice = truncated_input(cut, metas["cut.mp3"])
    declared, decoded = metas["cut.mp3"]["source"]["declared_duration"], metas["cut.mp3"]["duration"]
    assert decoded < 0.6 * declared
    assert notice and "cut.mp3" in notice and "truncated" in notice and f"{declared:.1f} s" in notice


@pytest.mark.slow
def test_no_speech_is_said(tmp_path):
    """Noise and a pure tone: exit 0 with a warning that no speech was found and what was written (a
    silent output as long as the input, so that a batch laid against a video stays in sync)."""
    rng = np.random.default_rng(5)
    t = np.arange(RATE * 4) / RATE
    inputs = {"noise.wav": (rng.standard_normal(RATE * 4) * 0.1).astype(np.float32),
              "tone.wav": (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)}
    for name, audio in inputs.items():
        source = tmp_path / name
        write_wav(audio, source)
        target = tmp_path / "out" / name.replace(".wav", ".mp3")
        result = run_cli("convert", str(source), str(target), "--profile", "fast", "--cache-dir", str(tmp_path / "c"))
        assert result.returncode == 0, result.stderr
        assert "no speech found" in result.stderr and str(target) in result.stderr.replace("\n", "")
        output = decode(target)
        assert abs(len(output) - len(audio)) < 0.05 * RATE and np.abs(output).max() < 1e-3
        transcript = re.search(r"transcript: (\S+)", result.stderr).group(1)
        assert transcript.endswith("transcript.json") and Path(transcript).is_file()


@pytest.mark.slow
def test_time_limit_warning_is_true(tmp_path):
    """A time limit crossed at a chunk's last segment skips nothing: no warning, not cached as truncated
    (it was, whenever the machine was busy). One crossed with speech left says so, and so does the
    cached rerun."""
    from speech import assemble, store_events

    profile = tmp_path / "hurried.yaml"
    profile.write_text("whisper:\n  max_seconds_per_audio_second: 0.001\n", encoding="utf-8")
    cache = tmp_path / "cache"
    short = run_cli("convert", str(prompt("demo-thanks")), str(tmp_path / "short.mp3"), "--profile", str(profile),
                    "--cache-dir", str(cache))
    assert short.returncode == 0, short.stderr
    assert "time limit" not in short.stderr
    metas = [json.loads(p.read_text())["meta"] for p in (cache / "transcribe").rglob("manifest.json")]
    assert len(metas) == 1 and not metas[0]["truncated"] and len(metas[0]["segments"]) == 1

    # Non-batched decoding goes window by window (30 s): the limit stops it after the first window's
    # first segment, with most of the 64 s still unheard.
    profile.write_text("whisper:\n  max_seconds_per_audio_second: 0.001\n  batch_size: 0\n", encoding="utf-8")
    long = assemble(["demo-thanks", "demo-nogo", "demo-moreinfo", "demo-congrats"], tmp_path / "long.wav")
    for attempt in ("cold", "cached"):
        since = len(store_events(cache))
        result = run_cli("convert", str(long.path), str(tmp_path / "long.mp3"), "--profile", str(profile),
                         "--cache-dir", str(cache))
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stderr.split())
        assert "stopped at its time limit" in text and "is not re-voiced" in text, (attempt, result.stderr)
        skipped = float(re.search(r"speech from ([\d.]+) s to ([\d.]+) s", text).group(1))
        assert skipped < 30 and float(re.search(r"to ([\d.]+) s is not", text).group(1)) > 60
        assert (computed_stages(cache, since) == []) == (attempt == "cached")


def test_error_messages_name_what_is_not_the_users_doing():
    """One wording everywhere (CLI, folders, the flow): a VoiceError says itself; anything else is named by
    its type; a failed system call by its reason in words."""
    import errno

    from voicechanger.errors import InputError, error_message, os_reason

    assert error_message(InputError("input x.wav: is silent")) == "input x.wav: is silent"
    assert error_message(KeyError("phrases")) == "KeyError: 'phrases'"
    assert os_reason(OSError(errno.ENOSPC, "No space left on device")) == "No space left on device"
    assert os_reason(OSError("short write")) == "short write"
    assert os_reason(OSError()) == "OSError"


def test_every_runner_refuses_the_same_paths(tmp_path, recording):
    """batch.recording_pairs, which the CLI's folder mode and the flow both call first: each wrong path is
    one line naming it, before any work."""
    from voicechanger.errors import InputError
    from voicechanger.runners.batch import recording_pairs

    folder = recording.parent
    with pytest.raises(InputError, match="no such file or folder"):
        recording_pairs(tmp_path / "nowhere.wav", tmp_path / "out.mp3", "mp3")
    with pytest.raises(VoiceError, match="unknown extension '.xyz'"):
        recording_pairs(folder, tmp_path / "out", "xyz")
    (tmp_path / "taken").write_text("x")
    with pytest.raises(VoiceError, match="output folder"):
        recording_pairs(folder, tmp_path / "taken" / "out", "mp3")
    with pytest.raises(VoiceError, match="is the input"):
        recording_pairs(recording, recording, "mp3")
    assert recording_pairs(folder, tmp_path / "out", ".wav") == [(recording, tmp_path / "out" / "talk.wav")]
    assert recording_pairs(recording, tmp_path / "x.flac", "mp3") == [(recording, tmp_path / "x.flac")]


def test_prefect_handoff_checks_the_voice_first(tmp_path, out_dir):
    """`--prefect` with a voice that is not there fails with the voice's line before Prefect starts:
    the API address given leads nowhere, so a handoff would fail on that instead."""
    env = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--prefect", "--voice", "festival:nobody", env=env)
    line = _assert_clean_failure(result, out_dir, "festival:nobody")
    assert "127.0.0.1:9" not in result.stderr and "prefect" not in line.lower(), result.stderr


def test_a_file_with_a_folder_for_output(tmp_path):
    """One input file and an existing folder as its output: the message says so, and names a file."""
    source, folder = tmp_path / "talk.wav", tmp_path / "out"
    shutil.copyfile(prompt("demo-thanks"), source)
    folder.mkdir()
    result = run_cli("convert", str(source), str(folder), "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 2, result.stderr
    line = " ".join(result.stderr.split())
    assert f"output {folder}: is a folder" in line and str(folder / "talk.voice.mp3") in line, result.stderr
    assert list(folder.iterdir()) == []

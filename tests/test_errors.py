"""Bad input, settings and environment: one clear line, a non-zero exit, nothing half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from speech import prompt, run_cli, write_wav


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


def test_unknown_voice(tmp_path, out_dir):
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--voice", "festival:nobody")
    _assert_clean_failure(result, out_dir, "festival:nobody")


def test_missing_whisper_model(tmp_path, out_dir):
    """A model that is neither embedded nor downloadable here fails fast, telling how to provide it."""
    result = _convert(prompt("demo-thanks"), out_dir, tmp_path, "--model", "small",
                      env={"VOICECHANGER_MODELS": str(tmp_path / "models")})
    _assert_clean_failure(result, out_dir, "small", "folder")


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
    """Spaces, Cyrillic and a leading dash in names; the output folder is created."""
    folder = tmp_path / "мои записи" / "-1 урок"
    folder.mkdir(parents=True)
    source = folder / "лекция №1 (копия).wav"
    shutil.copyfile(prompt("demo-thanks"), source)
    target = tmp_path / "вывод с пробелами" / "лекция №1.mp3"
    result = run_cli("convert", str(source), str(target), "--profile", "fast", "--cache-dir", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert target.is_file() and target.stat().st_size > 1000
    assert result.stdout.strip().endswith(str(target))
    # the output and its subtitles, nothing half-written beside them
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, target.with_suffix(".srt").name])

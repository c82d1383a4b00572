"""The folder runner: find the recordings under a folder, mirror the tree into an output folder, convert
each by the local runner (local.convert) with up to ``workers`` at once, and report each one's outcome.
A bad file is reported and skipped; the rest finish."""

from __future__ import annotations

import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ..checks import check_not_input, check_writable_folder, file_id, is_within, same_file
from ..config import Settings
from ..errors import InputError, VoiceError, error_message
from ..graph import Events
from ..media.audio import check_output, output_format
from ..runtime import interrupt
from ..runtime.threads import import_before_threads
from ..store import Store
from .lifecycle import Result, failed
from .local import convert

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {
    ".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".wma", ".g722", ".gsm", ".ulaw", ".alaw",
    ".sln", ".mp4", ".mkv", ".webm", ".mov", ".avi", ".oga", ".aiff", ".aif",
}


def find_recordings(folder: Path, skip: Path | None = None) -> list[Path]:
    """Audio and video files under ``folder`` (recursively, hidden ones skipped), sorted. Files inside
    ``skip`` (the output folder, when it lies within ``folder``) are never inputs: a rerun would
    re-voice the earlier outputs."""
    if skip is not None and (same_file(skip, folder) or not is_within(skip, folder)):
        skip = None  # an output folder around the input folder (out/sub -> out) hides nothing
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and not (skip is not None and is_within(p, skip))
    )


def pair_outputs(input_folder: Path, output_folder: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(input, output) pairs: the output tree mirrors the input tree, names keep their stem."""
    pairs = []
    taken: set[Path] = set()
    for source in find_recordings(input_folder, skip=output_folder):
        relative = source.relative_to(input_folder)
        target = output_folder / relative.with_suffix(suffix)
        if target in taken:  # talk.wav and talk.mp3 in one folder: keep both, say which is which
            target = output_folder / relative.with_name(f"{relative.stem}.{source.suffix.lstrip('.')}{suffix}")
        taken.add(target)
        pairs.append((source, target))
    return pairs


def folder_pairs(input_folder: Path, output_folder: Path, suffix: str) -> list[tuple[Path, Path]]:
    """The pairs of a folder conversion, refusing (before any work) an output folder that is a file, is
    the input folder, or would overwrite any input."""
    if output_folder.exists() and not output_folder.is_dir():
        raise VoiceError(f"output {output_folder}: is a file; a folder input needs an output folder")
    if same_file(input_folder, output_folder):
        raise VoiceError(f"output {output_folder}: is the input folder; the outputs would replace the recordings, "
                         "choose another folder (a subfolder such as out/ is fine)")
    pairs = pair_outputs(input_folder, output_folder, suffix)
    if not pairs:
        raise InputError(f"input {input_folder}: no audio files found in this folder")
    inputs = {file_id(source): source for source, _target in pairs}
    for _source, target in pairs:
        clash = inputs.get(file_id(target)) if target.exists() else None
        if clash is not None:
            raise VoiceError(f"output {target}: is the input {clash}; writing it would destroy the recording, "
                             "choose another output folder")
    return pairs


def recording_pairs(source: Path, target: Path, fmt: str) -> list[tuple[Path, Path]]:
    """The (input, output) pairs that ``convert SOURCE TARGET`` asks for: a file and its output, or a
    folder's recordings mirrored into an output folder in ``fmt``. Every runner calls this first, so a
    wrong path is refused before any work, in the same words whichever runs it."""
    if not source.exists():
        raise InputError(f"input {source}: no such file or folder (relative to {Path.cwd()}); check the path")
    if source.is_dir():
        suffix = "." + fmt.lstrip(".")
        output_format(Path("x" + suffix))
        check_writable_folder(target, "output folder")
        return folder_pairs(source, target, suffix)
    check_output(target)
    check_not_input(target, source)
    return [(source, target)]


def run_batch(pairs: list[tuple[Path, Path]], convert_one: Callable[[Path, Path], Result], workers: int,
              debug: bool = False) -> list[Result]:
    """Convert every pair with up to ``workers`` at once; failures become failed results, never exceptions."""

    def guarded(pair: tuple[Path, Path]) -> Result:
        source, target = pair
        started = time.perf_counter()
        try:
            return convert_one(source, target)
        except VoiceError as exc:
            interrupt.check()  # after a stop request a failure is the stop's doing, not this file's
            return failed(source, target, error_message(exc), started)
        except Exception as exc:  # a bug or an environment problem must not stop the other files
            interrupt.check()
            if debug:
                traceback.print_exc()
            log.exception("converting %s failed", source)
            return failed(source, target, error_message(exc), started)

    import_before_threads()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="recording")
    try:
        return list(pool.map(guarded, pairs))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # interrupted: the recordings not begun never start


def convert_folder(pairs: list[tuple[Path, Path]], settings: Settings, store: Store, events: Events | None = None,
                   advance: Callable[[], None] | None = None, debug: bool = False) -> list[Result]:
    """Convert every (input, output) pair by the local runner, ``settings.workers`` recordings at a
    time, into one store; ``advance`` is called as each recording ends, failed or not."""

    def one(source: Path, target: Path) -> Result:
        try:
            return convert(source, target, settings, store, events)
        finally:
            if advance is not None:
                advance()

    return run_batch(pairs, one, settings.workers, debug)

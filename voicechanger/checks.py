"""Checks made before the work starts: the places a run writes to must be writable, and an output must
never be one of the inputs, however either is spelled (relative, absolute, ``..``, symlink, hard link)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import VoiceError, os_reason

NAME_MAX = 255  # bytes in one path component (Linux, macOS)


def nearest_existing(path: Path) -> Path:
    """``path`` itself when it exists, else its closest existing ancestor (what a mkdir -p starts from)."""
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def cannot_create_in(folder: Path) -> str | None:
    """Why a file cannot be created in ``folder`` (None when it can): tried for real, because permission
    bits say nothing to root, nor about read-only mounts or the kernel's /proc."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".voice-check-"):
            return None
    except OSError as exc:
        return os_reason(exc)


def check_writable_folder(folder: Path, what: str) -> None:
    """``folder`` (which may not exist yet) can hold new files; else one line naming it."""
    probe = nearest_existing(folder)
    if not probe.is_dir():
        raise VoiceError(f"{what} {folder}: {probe} is a file, not a folder; choose another path")
    reason = cannot_create_in(probe)
    if reason:
        raise VoiceError(f"{what} {folder}: cannot write in {probe} ({reason}); choose another folder")


def check_writable_file(path: Path, what: str) -> None:
    """A file can be written at ``path`` (its folder created if need be)."""
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise VoiceError(f"{what} {path}: the name is longer than {NAME_MAX} bytes; choose a shorter name")
    if path.is_dir():
        raise VoiceError(f"{what} {path}: is a folder; give a file name such as {path / 'out.mp3'}")
    folder = path.parent if str(path.parent) else Path(".")
    probe = nearest_existing(folder)
    reason = cannot_create_in(probe) if probe.is_dir() else "it is a file"
    if reason:
        raise VoiceError(f"{what} {path}: folder {probe} is not writable ({reason}); choose another output path")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (symlinks followed, hard links included); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def file_id(path: Path) -> tuple[int, int]:
    """(device, inode): equal for every spelling of one file, hard links included."""
    info = path.stat()
    return info.st_dev, info.st_ino


def check_not_input(output: Path, source: Path) -> None:
    """Refuse an output that would overwrite its own input."""
    if same_file(output, source):
        raise VoiceError(f"output {output}: is the input {source}; writing it would destroy the recording, "
                         "choose another output path")


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies inside ``folder`` (or is it), both resolved through symlinks and ``..``."""
    resolved, container = path.resolve(), folder.resolve()
    return resolved == container or container in resolved.parents

"""Running `voice studio` for the browser tests (tests/test_studio.py): the command in a subprocess as
a user starts it, its state over HTTP, and the checks on its output and store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from speech import ROOT


def state_of(url: str) -> dict:
    with urllib.request.urlopen(url + "api/state", timeout=30) as response:
        return json.load(response)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        state = state_of(url)
        if state["status"] in ("ready", "failed"):
            return state
        time.sleep(0.3)
    raise AssertionError("the studio did not finish its first run")


class Running:
    """`voice studio` started as a user starts it, with --no-browser and any free port."""

    def __init__(self, source: Path, output: Path, cache: Path) -> None:
        self.args = [sys.executable, "-m", "voicechanger", "studio", str(source), str(output), "--no-browser",
                     "--port", "0", "--cache-dir", str(cache)]
        self.source, self.output, self.cache = source, output, cache
        self.start()

    def start(self) -> None:
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.process.stderr.read() if self.process.stderr else ""
        self.first = wait_ready(self.url, self.process)

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=120)
        assert "Traceback" not in err and "Exception in thread" not in err, err  # one line, whatever it stopped
        return self.process.returncode, err


def samples(path: Path) -> np.ndarray:
    import soundfile

    audio, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1)


def rate_of(path: Path) -> int:
    import soundfile

    return int(soundfile.info(str(path)).samplerate)


def check_store(root: Path) -> None:
    """Every artifact in the store reads back whole (size and checksum), none half-written."""
    from voicechanger.store import Store

    store = Store(root)
    manifests = list(root.glob("*/*/*/manifest.json"))
    assert manifests
    for manifest in manifests:
        stage, key = manifest.parent.parent.parent.name, manifest.parent.name
        assert store.get(stage, key) is not None, manifest

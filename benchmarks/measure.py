"""Run one measured case in a fresh subprocess and watch its whole process tree.

What is measured, and how (honest about the limits):

- ``process_s``: wall clock of the subprocess, from spawn to exit (includes interpreter start and imports).
- ``cpu_s``: user + system CPU seconds of the subprocess and every descendant it waited for (Festival
  processes included), from ``getrusage(RUSAGE_CHILDREN)`` before and after. With 2 cores, cpu_s / wall
  near 2 means both cores were busy.
- ``peak_rss_mb``: the largest sum of RSS over the process and all its live descendants, sampled every
  0.2 s with psutil. An upper bound of the tree's memory (pages shared between processes, such as
  libraries, count once per process); a spike shorter than 0.2 s can be missed.
- ``peak_pss_mb``: the sum of PSS (shared pages divided among the processes sharing them: the tree's
  share of physical memory) at each new RSS peak and every 5 s (reading it costs ~20 ms per big
  process, too much for every sample on 2 cores). The sampler itself uses ~2 % of one core.
- ``peak_processes``: the most processes alive at once in the tree.
- ``cpu_s_by_process``: CPU seconds per process name (python, festival, ffmpeg) as last sampled while the
  process was alive (so up to 0.2 s short each; processes that lived < 0.2 s are missed).
- ``load``: the 1-minute load average at the start and at the end (other jobs on the machine).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
INTERVAL_S = 0.2
PSS_EVERY_S = 5.0


@dataclass
class Measured:
    returncode: int
    process_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    peak_processes: int
    load: tuple[float, float]
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    sampler_cpu_s: float = 0.0
    rss_at_peak: dict[str, float] = field(default_factory=dict)
    peak_rss_at_s: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    log: str = ""

    def figures(self) -> dict[str, Any]:
        return {
            "process_s": round(self.process_s, 3),
            "cpu_s": round(self.cpu_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_pss_mb": round(self.peak_pss_mb, 1),
            "peak_processes": self.peak_processes,
            "cpu_s_by_process": self.cpu_by_process,
            "sampler_cpu_s": round(self.sampler_cpu_s, 2),
            "rss_mb_at_peak_by_process": self.rss_at_peak,
            "peak_rss_at_s": round(self.peak_rss_at_s, 1),
            "load_1min": [round(x, 2) for x in self.load],
        }


class TreeSampler(threading.Thread):
    """Samples RSS and PSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = INTERVAL_S) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stopped = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.procs: list[psutil.Process] = []
        self.last_pss = 0.0
        self.peak_at: dict[str, float] = {}  # RSS MB per process name at the peak
        self.started = time.monotonic()
        self.peak_time = 0.0
        self.cpu_seen: dict[int, tuple[str, float]] = {}  # pid -> (name, user+system CPU s at last sample)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        known = {p.pid: p for p in self.procs}
        self.procs = [known.get(p.pid, p) for p in procs]  # keep Process objects (their cached name)
        rss = alive = 0
        by_name: dict[str, int] = {}
        for proc in self.procs:
            try:
                one = proc.memory_info().rss
                rss += one
                by_name[proc.name()] = by_name.get(proc.name(), 0) + one
                times = proc.cpu_times()
                self.cpu_seen[proc.pid] = (proc.name(), times.user + times.system)
                alive += 1
            except psutil.Error:
                continue
        self.peak_processes = max(self.peak_processes, alive)
        now = time.monotonic()
        # PSS reads smaps_rollup, ~20 ms for a process with torch loaded: only at a new RSS peak, or now and then
        if rss > self.peak_rss * 1.02 or now - self.last_pss >= PSS_EVERY_S:
            self.last_pss = now
            pss = 0
            for proc in self.procs:
                try:
                    pss += proc.memory_full_info().pss
                except psutil.Error:
                    continue
            self.peak_pss = max(self.peak_pss, pss)
        if rss > self.peak_rss:
            self.peak_at = {name: round(value / 1e6, 1) for name, value in by_name.items()}
            self.peak_time = now - self.started
            self.peak_rss = rss

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def cpu_by_name(self) -> dict[str, float]:
        """CPU seconds per process name (python, festival, ffmpeg...) as last sampled while alive."""
        out: dict[str, float] = {}
        for name, seconds in self.cpu_seen.values():
            out[name] = round(out.get(name, 0.0) + seconds, 2)
        return out

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_measured(argv: list[str], log_path: Path, result_path: Path | None = None,
                 env: dict[str, str] | None = None, timeout: float = 7200) -> Measured:
    """Run ``argv`` (cwd = the repository root), sample its tree, return the figures and, when
    ``result_path`` is given, the JSON the case wrote there."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if result_path is not None:
        result_path.unlink(missing_ok=True)
    full_env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                **(env or {})}
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    own_before = _own_cpu()
    with open(log_path, "w", encoding="utf-8") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        elapsed = time.perf_counter() - started
        sampler.stop()
    result = {}
    if result_path is not None and result_path.is_file():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return Measured(
        returncode=code,
        process_s=elapsed,
        cpu_s=_children_cpu() - cpu_before,
        peak_rss_mb=sampler.peak_rss / 1e6,
        peak_pss_mb=sampler.peak_pss / 1e6,
        peak_processes=sampler.peak_processes,
        load=(load_before, os.getloadavg()[0]),
        cpu_by_process=sampler.cpu_by_name(),
        sampler_cpu_s=_own_cpu() - own_before,
        rss_at_peak=sampler.peak_at,
        peak_rss_at_s=sampler.peak_time,
        result=result,
        log=log_path.read_text(encoding="utf-8", errors="replace")[-4000:],
    )


def python_case(spec: dict[str, Any], work: Path, name: str, timeout: float = 7200) -> Measured:
    """Run benchmarks.case with ``spec`` in a fresh interpreter."""
    spec_path = work / "logs" / f"{name}.spec.json"
    result_path = work / "logs" / f"{name}.result.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return run_measured([sys.executable, "-m", "benchmarks.case", str(spec_path), str(result_path)],
                        work / "logs" / f"{name}.log", result_path, timeout=timeout)


def cli_case(args: list[str], work: Path, name: str, timeout: float = 7200) -> Measured:
    """`python -m voicechanger ...` in a fresh interpreter, as a user runs it."""
    return run_measured([sys.executable, "-m", "voicechanger", *args], work / "logs" / f"{name}.log",
                        timeout=timeout)

"""Warm Festival processes, pooled per voice.

How a process is driven: ``festival --pipe`` reads Scheme forms from stdin and evaluates each as it
arrives. Its stdout is block-buffered when it is a pipe (``(format t ...)`` only shows up at exit), so
stdout goes to /dev/null and everything we read comes over stderr, which is unbuffered: after each
request we send ``(format stderr "@@VC-END n@@")`` and read stderr until that sentinel. A Scheme error
in a request (``SIOD ERROR``) aborts only that form, so the sentinel still comes and the process lives
on. One process per concurrent caller (a small pool, of two by default, started lazily, checked out under a
lock), each writing its wave to its own temp file; killed at interpreter exit, replaced if it dies or times out
(a call that gets no answer in 30 s kills its process and raises EngineError), recycled after
MAX_CALLS_PER_PROCESS calls. Processes run in a process group of their own (interrupt.CHILD): a Ctrl-C
meant for us used to reach Festival, which printed ``SIOD ERROR: control-c interrupt`` for the phrase
it was saying, and that phrase was stored as unsaid. Now only a text with nothing Festival can read
is Unsayable; a dead, hung or interrupted process raises EngineError, which aborts the stage. stdin is written non-blocking inside the same select loop that drains
stderr, so neither pipe can fill up and deadlock. ``(Utterance Text x)`` does not evaluate ``x``, so
the text goes in as a string literal; it is sanitised first to Cyrillic letters, '+', spaces and
single . , ! ? after a word (no quote or backslash can reach the Scheme reader).
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ...errors import VoiceError
from ...runtime import interrupt

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
# Lisp heap in cells: Festival's default (10M) costs ~0.3 GB of resident memory the voice never needs
# (0.4-0.8M live cells); smaller heaps collect garbage more often. 3M trades a few % of Festival's CPU
# for ~0.27 GB less per process, with identical audio (benchmarks/README.md: HEAP_CELLS).
HEAP_CELLS = 3_000_000
# Processes per voice, one per concurrent caller up to this many. Two: after the last transcription a
# conversion synthesizes on two threads (local.run_chains), which would otherwise take turns at one
# process; more callers (several recordings at once) share them, as each process holds up to ~0.55 GB.
# VOICECHANGER_FESTIVAL_PROCESSES=n changes it.
MAX_PROCESSES = int(os.environ.get("VOICECHANGER_FESTIVAL_PROCESSES", "0")) or 2
MAX_CALLS_PER_PROCESS = 5000   # recycle now and then, in case Festival's heap creeps

INSTALL_HINT = "install it: apt-get install festival festvox-ru"


_SCHEME_SETUP = r"""
(define (vc_report u)
  (let ((tok (utt.relation.first u 'Token)))
    (while tok
      (format stderr "@@VC-TOK")
      (mapcar (lambda (w) (format stderr " %s:%s" (item.feat w "word_start") (item.feat w "word_end")))
              (item.daughters tok))
      (format stderr "\n")
      (set! tok (item.next tok)))))
(define (vc_synth u outfile)
  (utt.synth u)
  (utt.save.wave u outfile 'riff)
  (vc_report u))
"""


# ----------------------------------------------------------------------------------------- processes

class _Process:
    """One warm ``festival --pipe`` process with the voice loaded."""

    def __init__(self, voice_fn: str):
        self.workdir = Path(tempfile.mkdtemp(prefix="vc-festival-"))
        self.wav = self.workdir / "out.wav"
        self.count = 0
        try:
            self.proc = subprocess.Popen(["festival", "--heap", str(HEAP_CELLS), "--pipe"], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir,
                                         **interrupt.CHILD)
        except OSError as exc:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise VoiceError(f"festival could not be started ({exc}); {INSTALL_HINT}") from None
        os.set_blocking(interrupt.piped(self.proc.stdin).fileno(), False)
        try:
            out = self.request(f"({voice_fn})\n{_SCHEME_SETUP}", START_TIMEOUT_S)
        except (TimeoutError, BrokenPipeError) as exc:
            self.kill()
            raise VoiceError(f"festival did not start ({exc}); check that `festival` runs; {INSTALL_HINT}") from None
        if "SIOD ERROR" in out or "unbound variable" in out:
            self.kill()
            raise VoiceError(f"festival voice {voice_fn} does not load ({first_error(out)}); {INSTALL_HINT}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, scheme: str, timeout: float) -> str:
        """Send Scheme forms, return what Festival wrote to stderr up to our sentinel.
        Raises TimeoutError (process killed) or BrokenPipeError (process gone); Interrupted (process
        killed) when a stop is requested meanwhile."""
        self.count += 1
        sentinel = f"@@VC-END {self.count}@@".encode()
        data = (scheme + f'\n(format stderr "\\n@@VC-END {self.count}@@\\n")\n').encode("utf-8")
        fin, ferr = interrupt.piped(self.proc.stdin).fileno(), interrupt.piped(self.proc.stderr).fileno()
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while sentinel not in buf:
            if interrupt.stopping():
                self.kill()
                interrupt.check()
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise TimeoutError(f"festival gave no answer in {timeout:.0f} s")
            readable, writable, _ = select.select([ferr], [fin] if data else [], [], min(left, 0.2))
            if writable:
                try:
                    n = os.write(fin, data)
                except BlockingIOError:
                    n = 0
                except (BrokenPipeError, OSError):
                    self.kill()
                    raise BrokenPipeError("festival exited") from None
                data = data[n:]
            if readable:
                chunk = os.read(ferr, 65536)
                if not chunk:
                    self.kill()
                    raise BrokenPipeError(f"festival exited: {first_error(buf.decode('utf-8', 'replace'))}")
                buf += chunk
        return buf[: buf.index(sentinel)].decode("utf-8", "replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stderr):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


class _Pool:
    """Processes for one Festival voice: one per concurrent caller, up to ``size``; more callers wait."""

    def __init__(self, voice_fn: str, size: int):
        self.voice_fn = voice_fn
        self.size = max(1, size)
        self.idle: list[_Process] = []
        self.count = 0
        self.cond = threading.Condition()

    def acquire(self) -> _Process:
        with self.cond:
            while True:
                while self.idle:
                    proc = self.idle.pop()
                    if proc.alive():
                        return proc
                    proc.kill()
                    self.count -= 1
                if self.count < self.size:
                    self.count += 1
                    break
                self.cond.wait()
        try:
            return _Process(self.voice_fn)
        except BaseException:
            with self.cond:
                self.count -= 1
                self.cond.notify()
            raise

    def release(self, proc: _Process) -> None:
        with self.cond:
            if proc.alive() and proc.count < MAX_CALLS_PER_PROCESS:
                self.idle.append(proc)
            else:
                proc.kill()
                self.count -= 1
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            for proc in self.idle:
                proc.kill()
            self.count -= len(self.idle)
            self.idle.clear()


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def pool(voice_fn: str) -> _Pool:
    with _pools_lock:
        if voice_fn not in _pools:
            _pools[voice_fn] = _Pool(voice_fn, MAX_PROCESSES)
        return _pools[voice_fn]


@atexit.register
def _close_all() -> None:
    for pool in list(_pools.values()):
        pool.close()


def first_error(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("@@") and not set(line) <= set("-= "):
            return line[:200]
    return "no message"

"""Loudness normalisation and encoding of audio that arrives block by block, so that an hour of output
never has to be held whole (as float32 it is 230 MB; normalising it whole took 1.6 GB more).

The results equal, bit for bit, normalising the whole signal with pyloudnorm and encoding it in one
ffmpeg call (tests/test_concat.py): the meter is pyloudnorm's integrated loudness with the K-weighting filters' state carried from block to
block and the 400 ms gating blocks summed over the same samples; the gain and clipping are the same
per-sample operations; ffmpeg reads the same bytes from its stdin.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import VoiceError
from ..media.audio import encode_command
from ..runtime import interrupt


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4) of a mono signal fed in blocks, as pyloudnorm measures it."""

    def __init__(self, rate: int) -> None:
        import pyloudnorm

        meter = pyloudnorm.Meter(rate)
        self.rate = rate
        self.block_s = meter.block_size
        self.step = 1.0 - meter.overlap
        self.filters = [(f.b, f.a, f.passband_gain) for f in meter._filters.values()]
        self.states = [np.zeros(max(len(a), len(b)) - 1) for b, a, _ in self.filters]
        self.samples = 0
        self.buffer = np.zeros(0)  # K-weighted samples from buffer_start on, as far as fed
        self.buffer_start = 0
        self.z: list[np.float64] = []  # mean square of each gating block summed so far

    def _bounds(self, j: int) -> tuple[int, int]:
        return int(self.block_s * (j * self.step) * self.rate), int(self.block_s * (j * self.step + 1) * self.rate)

    def feed(self, block: np.ndarray) -> None:
        from scipy.signal import lfilter

        x = np.asarray(block, dtype=np.float64)
        for i, (b, a, gain) in enumerate(self.filters):
            y, self.states[i] = lfilter(b, a, x, zi=self.states[i])
            x = gain * y
        self.buffer = np.concatenate([self.buffer, x])
        self.samples += len(x)
        self._sum_blocks(None)

    def _sum_blocks(self, count: int | None) -> None:
        """Sum the gating blocks that lie within the samples fed (all ``count`` of them at the end: the
        last ones cut at the signal's end, as pyloudnorm's slices are), then drop what no block needs."""
        while count is None or len(self.z) < count:
            lo, hi = self._bounds(len(self.z))
            if count is None and hi > self.samples:
                break
            part = self.buffer[lo - self.buffer_start : hi - self.buffer_start]
            self.z.append((1.0 / (self.block_s * self.rate)) * np.sum(np.square(part)))
        lo = min(self._bounds(len(self.z))[0], self.samples)
        if lo > self.buffer_start:
            self.buffer = self.buffer[lo - self.buffer_start :]
            self.buffer_start = lo

    def blocks(self) -> list[np.float64]:
        """The mean square of every gating block of everything fed (the last ones cut at the end)."""
        seconds = self.samples / self.rate
        count = int(np.round(((seconds - self.block_s) / (self.block_s * self.step)))) + 1
        self._sum_blocks(count)
        return self.z[:count]

    def integrated(self) -> float:
        """LUFS of everything fed (pyloudnorm's gating: absolute -70 LUFS, then relative -10 LU)."""
        return gated_loudness(self.blocks())


GAIN_STEP_DB = 0.5


def channels_loudness(meters: list[LoudnessMeter]) -> float:
    """LUFS of a multichannel signal, one meter per channel: BS.1770 sums the channels' block powers."""
    return gated_loudness([np.float64(sum(parts)) for parts in zip(*(m.blocks() for m in meters))])


def gated_loudness(z: list[np.float64]) -> float:
    """BS.1770 gating of the blocks' mean squares: absolute -70 LUFS, then relative -10 LU."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        levels = [-0.691 + 10.0 * np.log10(zj) for zj in z]
        absolute = [zj for zj, level in zip(z, levels) if level >= -70.0]
        relative = -0.691 + 10.0 * np.log10(np.mean(absolute)) - 10.0
        gated = [zj for zj, level in zip(z, levels) if level > relative and level > -70.0]
        mean = np.nan_to_num(np.mean(gated))
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean)


def loudness_gain(meter: LoudnessMeter | list[LoudnessMeter], peak: float, silent: bool, target_lufs: float,
                  peak_dbfs: float) -> tuple[float | None, float]:
    """(linear gain or None for "leave as is", LUFS after it): the gain to ``target_lufs`` capped so the
    peak stays at ``peak_dbfs``, from a meter fed the whole signal (a list: one meter per channel)."""
    meters = meter if isinstance(meter, list) else [meter]
    if meters[0].samples < meters[0].rate // 2 or silent:
        return None, float("-inf")
    loudness = meters[0].integrated() if len(meters) == 1 else channels_loudness(meters)
    if not np.isfinite(loudness):
        return None, float("-inf")
    gain_db = target_lufs - loudness
    if peak > 0:
        gain_db = min(gain_db, peak_dbfs - 20 * np.log10(peak))
    # Down to a GAIN_STEP_DB grid: re-dubbing one phrase moves a long recording's loudness by a few
    # hundredths of a dB, and an exact gain would then change every sample of the output. On the grid
    # the rest of the output stays identical (unless the change crosses a grid line), at most
    # GAIN_STEP_DB quieter than the target, and the floor keeps the peak cap.
    gain_db = float(np.floor(gain_db / GAIN_STEP_DB + 1e-9) * GAIN_STEP_DB)
    return 10 ** (gain_db / 20), float(loudness + gain_db)


def encode_blocks(blocks: Iterable[np.ndarray], rate: int, target: Path, fmt: str, *, mp3_kbps: int = 128,
                  channels: int = 1) -> None:
    """The encode of the concatenated blocks (float32, clipped to [-1, 1]; (samples, channels) when
    ``channels`` > 1), fed to ffmpeg as they come. ffmpeg runs in its own process group
    (interrupt.CHILD): on a stop we kill it, and a Ctrl-C meant for us cannot make it exit with nothing
    to say."""
    command = encode_command(rate, target, fmt, mp3_kbps, channels)
    errors = target.with_name(target.name + ".log")
    with open(errors, "w+b") as log:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log,
                                **interrupt.CHILD)
        try:
            for block in blocks:
                interrupt.check()
                interrupt.piped(proc.stdin).write(np.clip(np.asarray(block, dtype="<f4"), -1.0, 1.0).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its exit status and message say why
        except BaseException:
            proc.kill()  # interrupted, or our own failure: a half-encoded file is never used
            raise
        finally:
            try:
                interrupt.piped(proc.stdin).close()
            except BrokenPipeError:
                pass
            code = proc.wait()
        log.seek(0)
        message = log.read().decode(errors="replace").strip()
    errors.unlink(missing_ok=True)
    if code != 0:
        interrupt.check()
        if "No space left on device" in message:
            raise OSError(errno.ENOSPC, f"no space left on the device of {target.parent}")
        raise VoiceError(f"encoding {fmt} failed: {exit_reason('ffmpeg', code, message)}")


def exit_reason(program: str, code: int, message: str) -> str:
    """Why a child process failed, never empty: its last message, else how it ended."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"{program} was killed by {name} (signal {-code})"
        return f"{how}: {message[-200:]}" if message else f"{how}; nothing was stored, rerun"
    return message[-200:] if message else f"{program} exited with status {code} and no message"

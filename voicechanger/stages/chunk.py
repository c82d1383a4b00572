"""chunk: cut a long recording into chunks of about ``chunk_minutes``, only in silences."""

from __future__ import annotations

import numpy as np

from ..signal.levels import frame_db
from .base import Context, Output, Stage
from .contracts import ChunkMeta

FRAME_S = 0.02
QUIET_WINDOW_S = 0.3


def cut_points(energy_db: np.ndarray, frame_s: float, target_s: float) -> list[float]:
    """Times (s) to cut at: the middle of the quietest ~0.3 s within ±20 % of each target position."""
    total_s = len(energy_db) * frame_s
    width = max(1, int(QUIET_WINDOW_S / frame_s))
    smooth = np.convolve(energy_db, np.ones(width) / width, mode="same") if len(energy_db) > width else energy_db
    cuts: list[float] = []
    position = 0.0
    while total_s - position > target_s * 1.25:
        slack = max(10.0, 0.2 * target_s)
        lo = int((position + target_s - slack) / frame_s)
        hi = int((position + target_s + slack) / frame_s)
        lo, hi = max(lo, int(position / frame_s) + width), min(hi, len(smooth) - width)
        if hi <= lo:
            break
        quietest = lo + int(np.argmin(smooth[lo:hi]))
        cut = round(quietest * frame_s, 3)
        cuts.append(cut)
        position = cut
    return cuts


def run(ctx: Context) -> Output:
    decoded = ctx.one("decode")
    rate = decoded.meta["sample_rate"]
    audio = decoded.raw_f32("audio.f32")
    energy = frame_db(audio, rate, win_s=FRAME_S, hop_s=FRAME_S)[1]
    cuts = cut_points(energy, FRAME_S, ctx.settings.chunk_minutes * 60.0)
    edges = [0] + [int(c * rate) for c in cuts] + [len(audio)]
    spans = [[edges[i], edges[i + 1]] for i in range(len(edges) - 1) if edges[i + 1] > edges[i]]
    return Output(ChunkMeta(sample_rate=rate, spans=spans))


STAGE = Stage("chunk", 1, ("chunk_minutes",), run, retries=0)

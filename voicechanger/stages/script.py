"""script: one chunk's phrases taken from a user's script (``voice convert --script``) instead of
Whisper. The phrases are the node's parameters (``voicechanger.text.script.script_phrases`` builds them), so
its key changes exactly when the chunk's cues do, and running it costs nothing."""

from __future__ import annotations

from .base import Context, Output, Stage
from .contracts import TranscribeMeta


def run(ctx: Context) -> Output:
    return Output(TranscribeMeta(index=ctx.params["index"], span=ctx.params["span"], language="script",
                                 truncated=False, segments=[], phrases=ctx.params["phrases"]))


STAGE = Stage("script", 1, (), run, key_params=("span", "phrases"), retries=0)

"""The stages of one recording, in pipeline order (each a plain function; see base.Stage)."""

from . import chunk, concat, decode, mix, prosody, script, speakers, stress, synthesize, transcribe, transcript
from .base import Context, Output, Stage

STAGES: dict[str, Stage] = {
    m.STAGE.name: m.STAGE
    for m in (decode, speakers, chunk, transcribe, script, stress, synthesize, prosody, concat, mix, transcript)
}

__all__ = ["STAGES", "Context", "Output", "Stage"]

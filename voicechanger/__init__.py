"""voicechanger: re-voice Russian speech recordings with a synthetic voice, keeping timing and intonation."""

__version__ = "0.1.0"

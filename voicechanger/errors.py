"""User-facing errors: one line that names the thing and says what to do."""


class VoiceError(Exception):
    """A problem with the input, a setting or the environment that the user can fix.

    The CLI prints ``str(error)`` as one line and exits non-zero, without a traceback
    (unless ``--debug``). The message must name the thing (file, key, voice, model) and
    say what to do about it.
    """

    exit_code = 2


class InputError(VoiceError):
    """A bad input recording (missing, empty, corrupt, not audio, silent)."""

    exit_code = 3

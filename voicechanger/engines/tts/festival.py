"""Festival's Russian voice (festvox-ru, msu_ru_nsh_clunits, 16 kHz), kept warm in long-lived processes.

The processes that say the phrases: festival_process.py.

Rate: this is a unit-selection (clunits) voice: it concatenates recorded units at their own
durations, so Festival's ``Duration_Stretch`` has no effect on the audio (measured: identical output
at 0.7, 1.0 and 1.5), and the UniSyn/modified-LPC path needs LPC files the package does not ship.
So ``rate`` is applied here, to Festival's output, by Praat's pitch-synchronous overlap-add
(``Lengthen (overlap-add)``, via parselmouth), and the word spans are scaled with it.

Word spans: Festival's Token relation holds one item per space-separated token we send, with the
Word items it made from it as daughters; a token's span is its first word's start to its last
word's end. Input tokens that sanitise to nothing, or that Festival says nothing for (a lone 'ъ'),
get a zero-length span at the previous token's end. If Festival's token count ever differs from
what we sent, spans are estimated instead by sharing the speech span by character count.
"""

from __future__ import annotations

import logging
import re
import shutil
import wave
from pathlib import Path

import numpy as np

from ...errors import EngineError, VoiceError
from ...runtime import interrupt
from ...signal.levels import nonsilent_span
from ..russian import fix_plus
from . import Synthesis, TTSError, Unsayable, VoiceInfo
from . import festival_process as processes

log = logging.getLogger(__name__)

VOICES = {"msu_ru_nsh": "msu_ru_nsh_clunits"}
SAMPLE_RATE = 16000
CALL_TIMEOUT_S = 30.0
_VOICE_DIRS = ("/usr/share/festival/voices", "/usr/local/share/festival/voices", "/usr/lib/festival/voices")


# ---------------------------------------------------------------------------------------------- text

def clean_token(token: str) -> tuple[list[str], str]:
    """(words, punctuation) Festival can say for one input token: lowercase Cyrillic runs with '+' kept
    only right before a vowel, and the token's final . , ! ? (if any, else ""). Anything else goes."""
    t = token.lower()
    words = []
    for part in re.findall(r"[а-яё+]+", t):
        part = fix_plus(part, limit=None)
        if re.search(r"[а-яё]", part):
            words.append(part)
    m = re.search(r"([.,!?])[^а-яё]*$", t)
    return words, (m.group(1) if m else "")


def festival_text(tokens: list[str]) -> tuple[str, list[int]]:
    """The sanitised text to send and, for each Festival token in it, the index of its input token.

    Punctuation of a token that sanitises to nothing moves to the previous word (if it has none).
    The result holds only Cyrillic letters, '+', single spaces and single . , ! ? after a word."""
    out: list[str] = []
    owner: list[int] = []
    for i, token in enumerate(tokens):
        words, punct = clean_token(token)
        if not words:
            if punct and out and out[-1][-1] not in ".,!?":
                out[-1] += punct
            continue
        out.extend(words[:-1])
        out.append(words[-1] + punct)
        owner.extend([i] * len(words))
    return " ".join(out), owner


# -------------------------------------------------------------------------------------------- voice

class FestivalVoice:
    """``festival:<name>``: Festival's unit-selection Russian voice, 16 kHz."""

    native_rate = False   # rate is Praat overlap-add on the output, not the voice's own (see module doc)

    def __init__(self, name: str):
        self.spec = f"festival:{name}"
        self.sample_rate = SAMPLE_RATE
        self.voice_fn = f"voice_{VOICES[name]}"
        self.timeout = CALL_TIMEOUT_S

    def synthesize(self, tokens: list[str], rate: float = 1.0) -> Synthesis:
        """Say ``tokens``; ``rate`` multiplies the duration (pitch kept). Raises Unsayable naming the
        text when there is nothing Festival can say in it, EngineError when the process fails."""
        text, owner = festival_text(tokens)
        if not text:
            raise Unsayable(f"festival: nothing sayable in {' '.join(tokens)[:120]!r} (it needs Cyrillic words); "
                           "normalise digits and foreign words to Russian first")
        audio, token_spans = self._run(text)
        spans = _map_spans(tokens, text, owner, token_spans, audio, self.sample_rate)
        if rate and abs(rate - 1.0) > 1e-3:
            audio, spans = _stretch(audio, self.sample_rate, rate, spans)
        return Synthesis(audio=audio, sample_rate=self.sample_rate, word_spans=spans)

    def warm_up(self) -> None:
        """Start a process and load the voice into it now (about a second), not at the first phrase."""
        pool = processes.pool(self.voice_fn)
        pool.release(pool.acquire())

    def close(self) -> None:
        """Stop this voice's idle processes (up to ~0.55 GB each); the next synthesis starts one again."""
        processes.pool(self.voice_fn).close()

    def _run(self, text: str) -> tuple[np.ndarray, list[list[tuple[float, float]]] | None]:
        """Audio and per-Festival-token word spans for a sanitised text, retrying once on a dead process."""
        # Utterance does not evaluate its arguments: the text must be a literal in the form
        scheme = f'(vc_synth (Utterance Text "{text}") "{{wav}}")'
        pool = processes.pool(self.voice_fn)
        for attempt in (1, 2):
            proc = pool.acquire()
            try:
                proc.wav.unlink(missing_ok=True)
                # The name alone: festival runs in its work folder, whose path may hold any character
                # (a quote in --temp-dir would end the Scheme string).
                out = proc.request(scheme.replace("{wav}", proc.wav.name), self.timeout)
                audio = _read_wav(proc.wav, self.sample_rate)
            except TimeoutError as exc:
                raise EngineError(f"festival: {exc} for {text[:120]!r}; the process was stopped, nothing was "
                                  "stored; rerun (a busy machine: fewer --workers)") from None
            except BrokenPipeError as exc:
                interrupt.check()
                if "control-c interrupt" in str(exc):  # signalled from outside: a stop, not a crash to retry
                    raise _interrupted(text) from None
                if attempt == 2:
                    raise EngineError(f"festival: {exc} twice while saying {text[:120]!r}; nothing was stored; "
                                      "rerun, and check memory (dmesg) if it repeats") from None
                log.warning("festival process died (%s); retrying on a fresh one", exc)
                continue
            finally:
                pool.release(proc)
            if "control-c interrupt" in out:
                proc.kill()  # it was signalled from outside; a fresh process takes the next phrase
                raise _interrupted(text)
            if audio is None and processes.first_error(out) == "no message":
                raise EngineError(f"festival wrote no audio for {text[:120]!r} and gave no reason; nothing was "
                                  "stored; rerun")
            if audio is None or len(audio) == 0:
                # Festival's front end rejects the text itself (it says why: a letter-to-sound rule that does
                # not match, a Scheme error), or says it in 0 s
                raise Unsayable(f"festival: no audio for {text[:120]!r}, it cannot say it ({processes.first_error(out)}); "
                                "rephrase or drop the word it cannot read")
            return audio, _parse_tokens(out)
        raise AssertionError("unreachable")


def _interrupted(text: str) -> EngineError:
    return EngineError(f"festival was interrupted (SIGINT) while saying {text[:120]!r}; nothing was stored; rerun")


def _read_wav(path: Path, sample_rate: int) -> np.ndarray | None:
    if not path.exists():
        return None
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getframerate() != sample_rate:
            raise TTSError(f"festival wrote an unexpected wave ({w.getframerate()} Hz, {w.getnchannels()} ch, "
                           f"{8 * w.getsampwidth()} bit); expected {sample_rate} Hz mono 16-bit")
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def _parse_tokens(out: str) -> list[list[tuple[float, float]]] | None:
    """Per Festival token, the (start, end) of each of its words, from the ``@@VC-TOK`` lines."""
    result = []
    for line in out.splitlines():
        if line.startswith("@@VC-TOK"):
            words = []
            for pair in line.split()[1:]:
                try:
                    a, b = pair.split(":")
                    words.append((float(a), float(b)))
                except ValueError:
                    return None
            result.append(words)
    return result


def _map_spans(tokens: list[str], text: str, owner: list[int], token_spans, audio: np.ndarray,
               sample_rate: int) -> list[tuple[float, float]]:
    """One (start, end) per input token; see the module doc for the rules."""
    duration = len(audio) / sample_rate
    spans: list[tuple[float, float] | None] = [None] * len(tokens)
    if token_spans is not None and len(token_spans) == len(owner):
        for i, words in zip(owner, token_spans):
            said = [(a, b) for a, b in words if b > a]
            if said:
                lo, hi = said[0][0], said[-1][1]
                prev = spans[i]
                spans[i] = (min(prev[0], lo), max(prev[1], hi)) if prev else (lo, hi)
    else:
        log.warning("festival: token count differs for %r; word spans estimated by character count", text[:80])
        said_words = [w for ws in (token_spans or []) for w in ws if w[1] > w[0]]
        start, end = (said_words[0][0], said_words[-1][1]) if said_words else nonsilent_span(audio, sample_rate)
        weights = [len("".join(clean_token(t)[0]).replace("+", "")) for t in tokens]
        total = sum(weights) or 1
        t = start
        for i, wgt in enumerate(weights):
            if wgt:
                spans[i], t = (t, t + (end - start) * wgt / total), t + (end - start) * wgt / total
    # fill gaps with zero-length spans, keep order, clip to the audio
    result: list[tuple[float, float]] = []
    first = next((s[0] for s in spans if s), 0.0)
    last_end = first
    for s in spans:
        if s is None:
            s = (last_end, last_end)
        a = min(max(s[0], last_end), duration)
        b = min(max(s[1], a), duration)
        result.append((a, b))
        last_end = b
    return result


def _stretch(audio: np.ndarray, sample_rate: int, rate: float, spans: list[tuple[float, float]]):
    """Time-scale by ``rate`` keeping pitch (Praat's Lengthen (overlap-add)); spans scaled alike."""
    try:
        from ..praat import call, parselmouth
    except ImportError:
        raise VoiceError("festival rate control needs praat-parselmouth: pip install praat-parselmouth") from None
    rate = float(min(max(rate, 0.25), 4.0))
    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sample_rate)
    from ..praat import seeded

    with seeded():
        out = call(sound, "Lengthen (overlap-add)", 75, 600, rate)
    stretched = np.clip(out.values[0], -1.0, 1.0).astype(np.float32)
    k = len(stretched) / max(1, len(audio))
    duration = len(stretched) / sample_rate
    return stretched, [(min(a * k, duration), min(b * k, duration)) for a, b in spans]


# ------------------------------------------------------------------------------------------ registry

def _installed(name: str) -> tuple[bool, str]:
    if shutil.which("festival") is None:
        return False, f"festival is not installed; {processes.INSTALL_HINT}"
    if not any(Path(d).glob(f"*/{VOICES[name]}") for d in _VOICE_DIRS if Path(d).is_dir()):
        return False, f"the festival voice {VOICES[name]} is not installed; {processes.INSTALL_HINT}"
    return True, "Festival, Russian male voice (festvox-ru, unit selection), 16 kHz; offline, the default"


def list_voices(models_dir: Path | None = None) -> list[VoiceInfo]:
    """The Festival voices, with whether Festival and the voice data are installed."""
    return [VoiceInfo(f"festival:{name}", *_installed(name)) for name in VOICES]


def load(name: str, *, device: str = "cpu", models_dir: Path | None = None) -> FestivalVoice:
    """A FestivalVoice; checks the install (processes start on the first synthesis)."""
    ok, detail = _installed(name)
    if not ok:
        raise VoiceError(f"voice festival:{name}: {detail}")
    return FestivalVoice(name)

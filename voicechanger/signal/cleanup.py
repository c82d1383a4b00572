"""The analysis copy of a recording: what pitch tracking and speech detection read, with the sounds
that are not the speaker taken out. Never the audio that is heard.

- Rumble and mains hum: a high-pass under the lowest speech F0 (HIGH_PASS_HZ) and, where the long-term
  spectrum shows mains hum (50 or 60 Hz and its harmonics standing out of their neighbourhood), a
  narrow notch on each harmonic that stands out. Zero-phase (forward-backward), so no onset moves.
  A 50 Hz hum with harmonics at 10 dB SNR otherwise gives an autocorrelation tracker a steady
  100/150 Hz "voice" under a man's speech.
- A pitch track that holds a hum harmonic steady (hum_track): what a tracker reads in hum the comb
  missed; no speaker holds one frequency within a percent for that long.
- Sounds that are not speech in the frames an onset search reads (speech_levels): a knock's or a
  handling thump's energy lies mostly under SPEECH_BAND_HZ, a ring or dial tone is one steady line.
"""

from __future__ import annotations

import numpy as np

from .levels import frame_db, frame_length, power_db, true_runs

__all__ = ["HIGH_PASS_HZ", "SPEECH_BAND_HZ", "mains_hz", "analysis_copy", "hum_track", "speech_levels"]

HIGH_PASS_HZ = 70.0      # under the lowest speech F0 we follow (low male voices reach ~75 Hz)
SPEECH_BAND_HZ = 150.0   # a frame whose energy lies mostly below this is a thump or rumble, not speech
_MAINS = (50.0, 60.0)
_HUM_TOP_HZ = 1000.0     # harmonics looked for (and notched) up to here
_STANDS_OUT_DB = 10.0    # a harmonic this far over the median of its +-12 Hz neighbourhood is hum
_MIN_HARMONICS = 2       # mains hum shows at least this many standing-out harmonics
_NOTCH_BW_HZ = 2.0       # each notch's -3 dB width
_BLOCK_S = 30.0          # filtered this much at a time
_PAD_S = 2.0             # ... with this much context each side (the notches ring for ~0.2 s)
_SPECTRUM_S = 60.0       # the long-term spectrum reads at most this much audio, spread over the signal
_STEADY_LOG = 0.012      # a hum track's log-F0 spread (about 0.2 semitone)
_STEADY_S = 0.2          # ... held at least this long
_NEAR_HUM = 0.03         # ... within 3 % of a mains harmonic
_THUMP_S = 0.11          # a thump is judged over this much (a frame alone swings 0.15-0.9)
_THUMP_SHARE = 0.3
_TONE_SHARE = 0.8        # a frame with this share of its power in one spectral line
_TONE_S = 0.3            # ... for this long
_TONE_HOLD = 0.01        # ... at one frequency (within 1 %) is a tone: a ring or dial tone
_LOBE_HZ = 100.0         # half the main lobe of a 20 ms Hann window


def _spectrum(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, power) of the long-term spectrum at 0.5 Hz resolution (1 Hz for short audio),
    from at most _SPECTRUM_S of audio spread evenly over it."""
    from scipy.signal import welch

    seg = 2 * sr if len(audio) >= 8 * sr else sr
    if len(audio) > _SPECTRUM_S * sr:  # evenly spaced pieces: hum is steady, speech is not
        pieces = int(_SPECTRUM_S * sr) // seg
        starts = np.linspace(0, len(audio) - seg, pieces).astype(int)
        x = np.concatenate([np.asarray(audio[s:s + seg], dtype=np.float64) for s in starts])
    else:
        x = np.asarray(audio, dtype=np.float64)
    return welch(x, fs=sr, nperseg=min(seg, len(x)))


def _standing_out(freqs: np.ndarray, power: np.ndarray, fundamental: float) -> list[float]:
    """The harmonics of ``fundamental`` (their measured frequencies) that stand out of their
    neighbourhood by _STANDS_OUT_DB."""
    step = float(freqs[1] - freqs[0])
    found = []
    for k in range(1, int(_HUM_TOP_HZ // fundamental) + 1):
        centre = k * fundamental
        near = np.abs(freqs - centre) <= max(1.0, step)
        around = (np.abs(freqs - centre) <= 12.0) & (np.abs(freqs - centre) > 2.5 + step)
        if not near.any() or around.sum() < 4:
            continue
        peak = int(np.flatnonzero(near)[np.argmax(power[near])])
        if power_db(power[peak]) - power_db(float(np.median(power[around]))) > _STANDS_OUT_DB:
            found.append(float(freqs[peak]))
    return found


def mains_hz(audio: np.ndarray, sr: int) -> tuple[float, list[float]] | None:
    """(mains fundamental, 50 or 60 Hz; the frequencies of its harmonics that stand out) when the
    long-term spectrum shows mains hum, else None. Under a second of audio tells nothing."""
    if len(audio) < sr:
        return None
    freqs, power = _spectrum(audio, sr)
    best = max(((f, _standing_out(freqs, power, f)) for f in _MAINS), key=lambda found: len(found[1]))
    return best if len(best[1]) >= _MIN_HARMONICS else None


def analysis_copy(audio: np.ndarray, sr: int) -> np.ndarray:
    """``audio`` (float32) high-passed at HIGH_PASS_HZ, with each standing-out mains harmonic
    notched (mains_hz), forward-backward (no delay). Filtered _BLOCK_S at a time with _PAD_S of
    context on each side, so an hour-long chunk needs no more memory than its float32 copy."""
    from scipy.signal import butter, iirnotch, sosfiltfilt, tf2sos

    n = len(audio)
    if n < int(0.1 * sr):
        return np.array(audio, dtype=np.float32)
    sections = [butter(4, HIGH_PASS_HZ, btype="highpass", fs=sr, output="sos")]
    hum = mains_hz(audio, sr)
    for line in hum[1] if hum else []:
        if HIGH_PASS_HZ < line < sr / 2 - _NOTCH_BW_HZ:
            sections.append(tf2sos(*iirnotch(line, line / _NOTCH_BW_HZ, fs=sr)))
    sos = np.vstack(sections)
    out = np.empty(n, dtype=np.float32)
    block, pad = int(_BLOCK_S * sr), int(_PAD_S * sr)
    for start in range(0, n, block):
        lo, hi, end = max(start - pad, 0), min(start + block + pad, n), min(start + block, n)
        out[start:end] = sosfiltfilt(sos, np.asarray(audio[lo:hi], dtype=np.float64))[start - lo : end - lo]
    return out


def hum_track(f0: np.ndarray, step: float) -> np.ndarray:
    """The frames of a pitch track (Hz, 0 unvoiced; ``step`` s apart) in voiced runs that hold one
    frequency within 3 % of a mains harmonic (50 or 60 Hz, up to the 4th) steady for _STEADY_S: hum,
    not a voice."""
    out = np.zeros(len(f0), dtype=bool)
    for i, j in true_runs(f0 > 0):
        if (j - i) * step < _STEADY_S:
            continue
        log = np.log(f0[i:j])
        held = float(np.exp(np.median(log)))
        lines = np.array([k * m for m in _MAINS for k in range(1, 5)])
        if np.std(log) < _STEADY_LOG and np.min(np.abs(lines / held - 1.0)) < _NEAR_HUM:
            out[i:j] = True
    return out


def _frames(audio: np.ndarray, sr: int, win_s: float, hop_s: float) -> np.ndarray:
    """The Hann-windowed frames that levels.frame_db measures (audio shorter than one: one frame)."""
    w, h = frame_length(win_s, sr), frame_length(hop_s, sr)
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < w:
        x = np.pad(x, (0, w - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, w)[::h] * np.hanning(w)


def speech_levels(audio: np.ndarray, sr: int, *, win_s: float = 0.02,
                  hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Frame centres (s) and level in dB (as levels.frame_db gives them) of the frames that may be
    speech; the frames of a thump or rumble (_thumps) or of a steady tone (_tones) read as the floor
    (the 10th-percentile level), so that an onset search passes over them."""
    t, db = frame_db(audio, sr, win_s=win_s, hop_s=hop_s)
    if len(db):
        n_fft = max(1024, 1 << int(np.ceil(np.log2(frame_length(win_s, sr)))))  # bins fine enough for a tone
        spectra = np.abs(np.fft.rfft(_frames(audio, sr, win_s, hop_s), n_fft, axis=1)) ** 2
        freqs = np.fft.rfftfreq(n_fft, 1 / sr)
        db[_thumps(spectra, freqs < SPEECH_BAND_HZ, hop_s) | _tones(spectra, freqs, hop_s)] = float(np.percentile(db, 10))
    return t, db


def _thumps(spectra: np.ndarray, low: np.ndarray, hop_s: float) -> np.ndarray:
    """Frames whose neighbourhood (_THUMP_S) has more than _THUMP_SHARE of its power under
    SPEECH_BAND_HZ (``low``: those bins). Speech never has (a man's at 80 Hz: at most 0.27 of it there,
    over 13,000 frames), a knock and its rumble have 0.36-0.8."""
    k = max(int(round(_THUMP_S / hop_s)), 1)
    return _around(spectra[:, low].sum(axis=1), k) > _THUMP_SHARE * (_around(spectra.sum(axis=1), k) + 1e-30)


def _around(values: np.ndarray, k: int) -> np.ndarray:
    """The sum of ``values`` over ``k`` neighbours centred on each (fewer at the edges)."""
    return np.convolve(values, np.ones(k), mode="full")[(k - 1) // 2 : (k - 1) // 2 + len(values)]


def _tones(spectra: np.ndarray, freqs: np.ndarray, hop_s: float) -> np.ndarray:
    """Frames in runs of at least _TONE_S whose power lies mostly (_TONE_SHARE) in one spectral line
    (the window's main lobe about the peak) that holds its frequency within _TONE_HOLD. A vowel can be
    as pure for a while (an "и" whose first formant sits on its F0), but its pitch moves."""
    step = float(freqs[1] - freqs[0])
    lobe = max(int(round(_LOBE_HZ / step)), 1)
    peak = np.clip(np.argmax(spectra, axis=1), 1, spectra.shape[1] - 2)
    cum = np.concatenate([np.zeros((len(spectra), 1)), np.cumsum(spectra, axis=1)], axis=1)
    rows = np.arange(len(spectra))
    lo, hi = np.maximum(peak - lobe, 0), np.minimum(peak + lobe + 1, spectra.shape[1])
    share = (cum[rows, hi] - cum[rows, lo]) / (cum[:, -1] + 1e-30)
    # the line's frequency, between bins (a parabola through the log powers about the peak)
    a, b, c = (np.log(spectra[rows, peak + d] + 1e-30) for d in (-1, 0, 1))
    line = (peak + 0.5 * (a - c) / np.where(np.abs(a - 2 * b + c) > 1e-12, a - 2 * b + c, 1e-12)) * step
    out = np.zeros(len(spectra), dtype=bool)
    for i, j in true_runs(share > _TONE_SHARE):
        # the frames of the run at its line's frequency (not its edges, where the line starts or stops)
        held = np.abs(line[i:j] / float(np.median(line[i:j])) - 1.0) <= _TONE_HOLD
        for first, last in true_runs(held):
            if (last - first) * hop_s >= _TONE_S:
                out[i + first : i + last] = True
    return out

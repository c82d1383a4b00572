"""Who speaks when: speaker embeddings (Resemblyzer's voice encoder) of the speech Silero finds,
clustered, smoothed into turns; each speaker's register from Praat's pitch.

The encoder is Resemblyzer's (PyPI resemblyzer 0.1.4, Apache-2.0): a 3-layer LSTM (40 -> 256) and a
linear layer with ReLU on 40-band mel power frames (25 ms / 10 ms at 16 kHz), L2-normalised. Its
weights (pretrained.pt) ship inside the wheel. The network is rebuilt here (a few lines of torch) and
the wheel's file loaded into it, without importing the package: that would import librosa (numba,
~1 s) and webrtcvad for its own preprocessing, which the Silero VAD here replaces. The mel frames of a
whole recording are computed once and windows are slices of them.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Sequence, TypedDict, cast

import numpy as np

from ..errors import VoiceError
from ..phrases import Phrase, Word

RATE = 16000                # the encoder's sample rate
_N_FFT = 400                # 25 ms
_HOP = 160                  # 10 ms
_N_MELS = 40
_TARGET_DBFS = -30.0        # Resemblyzer normalises its input to this level (per window here)


class Speaker(TypedDict):
    label: str          # "Speaker 1", ... numbered in order of first appearance
    gender: str         # "female" | "male" (median F0 against GENDER_SPLIT_HZ)
    median_f0: float    # Hz, over the speaker's voiced speech
    f0_low: float       # Hz, 5th percentile
    f0_high: float      # Hz, 95th percentile
    seconds: float      # speech time attributed to them


Turn = tuple[float, float, str]


class SpeakerMap(TypedDict):
    speakers: list[Speaker]
    turns: list[list]   # [start, end, label], sorted, non-overlapping, covering the speech found


class SpeakerModelMissing(VoiceError):
    """The speaker encoder (Resemblyzer's weights) is not installed."""


# --------------------------------------------------------------------------- the encoder

_lock = threading.Lock()
_model = None


def weights_path() -> Path:
    """Resemblyzer's pretrained.pt, found without importing the package (see the module's docstring)."""
    spec = importlib.util.find_spec("resemblyzer")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    raise SpeakerModelMissing(
        "speaker detection needs Resemblyzer's voice encoder (PyPI resemblyzer 0.1.4, its pretrained.pt), "
        "which is not installed: run `make install` (or `.venv/bin/pip install resemblyzer==0.1.4`)")


def _build(path: Path):
    import torch

    class VoiceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(_N_MELS, 256, 3, batch_first=True)
            self.linear = torch.nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            packed = torch.nn.utils.rnn.pack_padded_sequence(mels, lengths, batch_first=True,
                                                             enforce_sorted=False)
            _out, (hidden, _cell) = self.lstm(packed)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    except Exception as exc:  # a truncated or foreign file
        raise SpeakerModelMissing(f"speaker encoder {path}: cannot be read ({exc}); reinstall it: "
                                  "`.venv/bin/pip install --force-reinstall resemblyzer==0.1.4`") from None
    model = VoiceEncoder()
    # The checkpoint also holds the training loss's similarity scale and bias; the encoder has no use for them.
    model.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))})
    return model.eval()


def encoder():
    """The voice encoder, loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            _model = _build(weights_path())
        return _model


# --------------------------------------------------------------------------- features

_mel_basis: np.ndarray | None = None


def _hz_to_mel(hz: float | np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def mel_basis() -> np.ndarray:
    """The 40 x 201 filterbank librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) gives (Slaney
    scale and area normalisation), which the encoder was trained on."""
    global _mel_basis
    if _mel_basis is None:
        freqs = np.fft.rfftfreq(_N_FFT, 1.0 / RATE)
        edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), _N_MELS + 2))
        widths = np.diff(edges)
        ramps = edges[:, None] - freqs[None, :]
        lower = -ramps[:-2] / widths[:-1, None]
        upper = ramps[2:] / widths[1:, None]
        weights = np.maximum(0.0, np.minimum(lower, upper))
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
        _mel_basis = weights.astype(np.float32)
    return _mel_basis


def mel_frames(audio: np.ndarray, ranges: list[tuple[int, int]] | None = None) -> np.ndarray:
    """(frames, 40) mel power of 16 kHz audio, as librosa.feature.melspectrogram computes it for
    Resemblyzer (centred 25 ms Hann frames every 10 ms, reflect-padded). With ``ranges`` only the
    frames inside those [first, last) ranges are computed (the rest stay zero): the speech, not the
    pauses."""
    from scipy.fft import rfft

    audio = np.asarray(audio, dtype=np.float32)
    padded = np.pad(audio, _N_FFT // 2, mode="reflect" if len(audio) > _N_FFT // 2 else "constant")
    count = 1 + (len(padded) - _N_FFT) // _HOP
    frames = np.lib.stride_tricks.as_strided(padded, (count, _N_FFT), (padded.strides[0] * _HOP,
                                                                       padded.strides[0]), writeable=False)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)
    out = np.zeros((count, _N_MELS), dtype=np.float32)
    for first, last in _blocks(ranges if ranges is not None else [(0, count)], count):
        spectrum = rfft(frames[first:last] * window, axis=1, workers=1)  # float32 in, complex64 out
        out[first:last] = (spectrum.real ** 2 + spectrum.imag ** 2) @ mel_basis().T
    return out


def _blocks(ranges: list[tuple[int, int]], count: int, size: int = 2000) -> list[tuple[int, int]]:
    """The ranges merged, clipped to [0, count) and cut into blocks of at most ``size`` frames (a few MB
    of spectrum at a time)."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        first, last = max(0, first), min(count, last)
        if last <= first:
            continue
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, min(a + size, b)) for first, b in merged for a in range(first, b, size)]


def _frame_power(audio: np.ndarray, frames: int) -> np.ndarray:
    """Mean square of the samples each 10 ms frame is centred on (for per-window level normalisation)."""
    audio = np.asarray(audio, dtype=np.float64)
    whole = len(audio) // _HOP
    power = np.zeros(frames)
    if whole:
        power[: min(whole, frames)] = np.mean(audio[: whole * _HOP].reshape(whole, _HOP) ** 2, axis=1)[:frames]
    return power


def _to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if rate == RATE:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(RATE, rate)
    return resample_poly(audio, RATE // g, rate // g).astype(np.float32)


def embed_frames(mels: np.ndarray, power: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """(windows, 256) embeddings of mel-frame ranges [first, last), each brought to -30 dBFS first."""
    import torch

    if not windows:
        return np.zeros((0, 256), dtype=np.float32)
    lengths = [last - first for first, last in windows]
    batch = np.zeros((len(windows), max(lengths), _N_MELS), dtype=np.float32)
    target = 10 ** (_TARGET_DBFS / 10)
    for k, (first, last) in enumerate(windows):
        level = float(np.mean(power[first:last])) if last > first else 0.0
        batch[k, : last - first] = mels[first:last] * (target / max(level, 1e-10))
    with torch.inference_mode():
        out = encoder()(torch.from_numpy(batch), torch.tensor(lengths))
    return out.numpy()


def embed(audio: np.ndarray, rate: int) -> np.ndarray:
    """One L2-normalised speaker embedding (256 floats) of a stretch of speech: the mean of its 1.6 s
    windows' embeddings (Resemblyzer's embed_utterance), renormalised. Loads the encoder once per
    process (thread-safe)."""
    audio = _to_rate(audio, rate)
    mels = mel_frames(audio)
    power = _frame_power(audio, len(mels))
    windows = _span_windows(0, len(mels), _EMBED_WIN, _EMBED_WIN // 2)
    vectors = embed_frames(mels, power, windows)
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


_EMBED_WIN = 160   # frames: Resemblyzer's partial utterance (1.6 s)


def _span_windows(first: int, last: int, size: int, hop: int) -> list[tuple[int, int]]:
    """Windows of ``size`` frames every ``hop`` over [first, last), the last one ending at ``last``;
    one window of the whole range when it is shorter than ``size``."""
    if last - first <= size:
        return [(first, last)]
    starts = list(range(first, last - size + 1, hop))
    if starts[-1] + size < last:
        starts.append(last - size)
    return [(s, s + size) for s in starts]


# --------------------------------------------------------------------------- windows

_WIN = 150          # frames per window inside speech (1.5 s)
_WIN_HOP = 150      # no overlap: the encoder's cost is what the stage costs (see find_speakers)
_MIN_SPAN = 40      # speech shorter than 0.4 s gets no embedding of its own; its neighbours label it


def speech_windows(spans: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Mel-frame windows over the speech spans (seconds)."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        first, last = int(round(start * 100)), int(round(end * 100))
        if last - first >= _MIN_SPAN:
            out += _span_windows(first, last, _WIN, _WIN_HOP)
    return out


# --------------------------------------------------------------------------- clustering

_MAX_SPLIT = 16         # partitions tried (more than the 12 speakers a setting may ask for)
# Normalised similarity (see normalised_similarity) at or above which two clusters are one speaker.
# Measured on the test voices: two women through the phone codec 0.874 (clean 0.83), a man's
# expressive monologue split in two 0.894, a clean monologue 0.911, through the codec 0.931, at
# 10 dB SNR 0.959: a narrow gap, with 0.885 in it.
_SAME = 0.885
_MIN_SPEAKER_S = 8.0    # a cluster with less speech than this is not a speaker of its own
_KMEANS_ROUNDS = 8


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def normalised_similarity(E: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """How alike two clusters' voices are, whatever their sizes: the mean similarity between their
    windows over the geometric mean of the mean similarity inside each. One speaker's two halves come
    out ~0.97-1.0 (clean against phone codec 0.97); two women of similar register 0.77-0.84, a woman
    and a man ~0.65 (measured on the test voices). A plain centroid cosine grows with the clusters'
    sizes; this does not."""
    inner = [_inner(E[m]) for m in (a, b)]
    between = float(np.mean(E[a] @ E[b].T))
    return between / float(np.sqrt(max(inner[0] * inner[1], 1e-6)))


def _inner(X: np.ndarray) -> float:
    n = len(X)
    if n < 2:
        return 0.75  # one window: a typical speaker's own window-to-window similarity
    sims = X @ X.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _refine(E: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spherical k-means from a first partition: each window to its nearest (weighted) centroid."""
    for _ in range(_KMEANS_ROUNDS):
        names = np.unique(labels)
        centroids = _unit(np.stack([(E[labels == c] * weights[labels == c, None]).sum(0) for c in names]))
        new = names[np.argmax(E @ centroids.T, axis=1)]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _absorb_small(E: np.ndarray, labels: np.ndarray, weights: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Clusters with under _MIN_SPEAKER_S of speech handed to the nearest big one (outliers: a laugh, a
    cough, a window across two voices), unless no cluster is big."""
    totals = {c: float(seconds[labels == c].sum()) for c in np.unique(labels)}
    big = [c for c, s in totals.items() if s >= _MIN_SPEAKER_S]
    if not big or len(big) == len(totals):
        return labels
    centroids = _unit(np.stack([(E[labels == c] * weights[labels == c, None]).sum(0) for c in big]))
    nearest = np.array(big)[np.argmax(E @ centroids.T, axis=1)]
    return np.where(np.isin(labels, big), labels, nearest)


def _partition(E: np.ndarray, tree: np.ndarray, k: int, weights: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    labels = fcluster(tree, k, criterion="maxclust")
    labels = _refine(E, labels, weights)
    return _refine(E, _absorb_small(E, labels, weights, seconds), weights)


def _distinct(E: np.ndarray, labels: np.ndarray) -> bool:
    names = np.unique(labels)
    return all(normalised_similarity(E, labels == a, labels == b) < _SAME
               for i, a in enumerate(names) for b in names[i + 1:])


def cluster(E: np.ndarray, seconds: np.ndarray, count: int | None) -> np.ndarray:
    """A speaker index per window. ``count`` None: the partition with the most clusters (each with
    _MIN_SPEAKER_S of speech) that are all distinct voices; else ``count`` clusters (fewer where there
    are fewer windows)."""
    from scipy.cluster.hierarchy import linkage

    n = len(E)
    if n < 2 or count == 1:
        return np.zeros(n, dtype=int)
    weights = np.minimum(seconds / (_WIN / 100), 1.0)
    tree = linkage(E.astype(np.float64), method="average", metric="cosine")
    if count is not None:
        from scipy.cluster.hierarchy import fcluster

        return _renumber(_refine(E, fcluster(tree, min(count, n), criterion="maxclust"), weights))
    best = np.zeros(n, dtype=int)
    for k in range(2, min(_MAX_SPLIT, n) + 1):
        labels = _partition(E, tree, k, weights, seconds)
        found = len(np.unique(labels))
        # every speaker needs _MIN_SPEAKER_S of speech: in a recording shorter than two of those
        # (a 3 s prompt) _absorb_small finds no big cluster and would keep a split of one voice
        big = all(seconds[labels == c].sum() >= _MIN_SPEAKER_S for c in np.unique(labels))
        if found > len(np.unique(best)) and big and _distinct(E, labels):
            best = labels
        elif found > len(np.unique(best)) + 3:  # far past the last valid partition: splitting voices now
            break
    return _renumber(best)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """0, 1, ... in order of first appearance."""
    order = {c: k for k, c in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[c] for c in labels.tolist()], dtype=int)


# --------------------------------------------------------------------------- turns

# Viterbi over the windows in time order: a window's score for a speaker is its similarity to the
# speaker's centroid (weighted by how much speech it holds); changing speaker costs _SWITCH inside one
# stretch of speech and _SWITCH_AT_PAUSE across a pause, where turns usually change.
_SWITCH = 0.25
_SWITCH_AT_PAUSE = 0.04
_JOIN_S = 2.0       # a speaker's consecutive pieces closer than this are one turn


def _smooth(E: np.ndarray, labels: np.ndarray, weights: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """The most likely label sequence; ``breaks[i]``: a pause lies between window i-1 and i."""
    names = np.unique(labels)
    if len(names) < 2:
        return labels
    centroids = _unit(np.stack([(E[labels == c] * weights[labels == c, None]).sum(0) for c in names]))
    score = (E @ centroids.T) * weights[:, None]
    n, k = score.shape
    total, back = score[0].copy(), np.zeros((n, k), dtype=int)
    for i in range(1, n):
        cost = _SWITCH_AT_PAUSE if breaks[i] else _SWITCH
        moves = total[:, None] - cost * (1 - np.eye(k))
        back[i] = np.argmax(moves, axis=0)
        total = moves[back[i], np.arange(k)] + score[i]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(total))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return names[path]


def _pieces(spans: list[tuple[float, float]], windows: list[tuple[int, int]], labels: np.ndarray
            ) -> list[tuple[float, float, int]]:
    """Speech cut into (start, end, speaker) pieces: each window's stretch, its span's edges kept; a
    span too short for a window takes the label of the nearest window."""
    if not windows:
        return []
    centres = np.array([(a + b) / 200 for a, b in windows])
    out = []
    for start, end in spans:
        inside = [i for i, (a, b) in enumerate(windows) if a / 100 >= start - 0.011 and b / 100 <= end + 0.011]
        if not inside:
            out.append((start, end, int(labels[np.argmin(np.abs(centres - (start + end) / 2))])))
            continue
        edges = [start] + [windows[i][0] / 100 for i in inside[1:]] + [end]
        out += [(edges[j], edges[j + 1], int(labels[i])) for j, i in enumerate(inside)]
    return [(a, b, c) for a, b, c in out if b > a]


def _turns(pieces: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Consecutive pieces of one speaker (closer than _JOIN_S) as one turn."""
    out: list[tuple[float, float, int]] = []
    for start, end, who in pieces:
        if out and out[-1][2] == who and start - out[-1][1] < _JOIN_S:
            out[-1] = (out[-1][0], end, who)
        else:
            out.append((start, end, who))
    return out


# --------------------------------------------------------------------------- register

GENDER_SPLIT_HZ = 165.0     # median F0 below: a man's voice (men ~85-155 Hz, women ~165-255 Hz)
_PITCH_SECONDS = 60.0       # of each speaker's speech, spread over their pieces: enough for percentiles
_PITCH_STEP_S = 0.02


def register(audio: np.ndarray, pieces: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(5th percentile, median, 95th percentile) F0 in Hz of the speech in ``pieces`` (Praat's two-pass
    pitch, as the prosody engine measures a speaker); zeros when nothing is voiced."""
    from .prosody import robust_contour

    total = sum(b - a for a, b in pieces)
    stride = max(1, int(total // _PITCH_SECONDS))
    chosen = pieces[::stride]
    parts = [audio[int(a * RATE) : int(b * RATE)] for a, b in chosen]
    if not parts:
        return 0.0, 0.0, 0.0
    joined = np.concatenate(parts)[: int(_PITCH_SECONDS * RATE * 1.5)]
    _times, f0 = robust_contour(joined, RATE, step=_PITCH_STEP_S)
    voiced = f0[f0 > 0]
    if len(voiced) < 10:
        return 0.0, 0.0, 0.0
    low, mid, high = np.percentile(voiced, [5, 50, 95])
    return float(low), float(mid), float(high)


def _speaker(label: str, audio: np.ndarray, pieces: list[tuple[float, float]]) -> Speaker:
    low, mid, high = register(audio, pieces)
    return Speaker(label=label, gender="male" if 0 < mid < GENDER_SPLIT_HZ else "female",
                   median_f0=round(mid, 1), f0_low=round(low, 1), f0_high=round(high, 1),
                   seconds=round(sum(b - a for a, b in pieces), 2))


# --------------------------------------------------------------------------- the whole recording

def label(index: int) -> str:
    return f"Speaker {index + 1}"


def find_speakers(audio: np.ndarray, rate: int, count: int | None = None,
                  spans: list[tuple[float, float]] | None = None) -> SpeakerMap:
    """Who speaks when in a whole recording (mono float32 at ``rate``); ``count`` None: found from the
    recording. ``spans``: the speech (seconds), when the caller has Silero's already."""
    from ..activity import vad_spans

    audio = _to_rate(audio, rate)
    spans = vad_spans(audio, RATE) if spans is None else spans
    windows = speech_windows(spans)
    mels = mel_frames(audio, windows)
    if not windows:
        return SpeakerMap(speakers=[], turns=[])
    E = embed_frames(mels, _frame_power(audio, len(mels)), windows)
    seconds = np.array([(b - a) / 100 for a, b in windows])
    labels = cluster(E, seconds, count)
    weights = np.minimum(seconds / (_WIN / 100), 1.0)
    breaks = np.array([i > 0 and windows[i][0] != windows[i - 1][1] for i in range(len(windows))])
    labels = _renumber(_smooth(E, labels, weights, breaks))
    pieces = _pieces(spans, windows, labels)
    order = {who: k for k, who in enumerate(dict.fromkeys(p[2] for p in pieces))}
    speakers = [_speaker(label(order[who]), audio, [(a, b) for a, b, w in pieces if w == who]) for who in order]
    turns = [[round(a, 3), round(b, 3), label(order[who])] for a, b, who in _turns(pieces)]
    return SpeakerMap(speakers=speakers, turns=turns)


# --------------------------------------------------------------------------- phrases

_SPLIT_S = 0.8      # a phrase is split where another speaker holds at least this much of it


def _held(start: float, end: float, turns: list[list]) -> dict[str, float]:
    """Seconds of [start, end] each label's turns hold."""
    out: dict[str, float] = {}
    for a, b, who in turns:
        overlap = min(end, b) - max(start, a)
        if overlap > 0:
            out[who] = out.get(who, 0.0) + overlap
    return out


def _owner(start: float, end: float, turns: list[list]) -> str:
    """The label holding most of [start, end]; the nearest turn's where none touches it."""
    held = _held(start, end, turns)
    if held:
        return max(held, key=lambda who: held[who])
    if not turns:
        return label(0)
    middle = (start + end) / 2
    return min(turns, key=lambda t: max(t[0] - middle, middle - t[1]))[2]


def _word_runs(words: list[Word], turns: list[list]) -> list[tuple[str, list[Word]]]:
    """The words grouped into runs of one owner; runs under _SPLIT_S merged into a neighbour."""
    runs: list[tuple[str, list[Word]]] = []
    for word in words:
        who = _owner(float(word["start"]), float(word["end"]), turns)
        if runs and runs[-1][0] == who:
            runs[-1][1].append(word)
        else:
            runs.append((who, [word]))
    while len(runs) > 1:
        lengths = [float(ws[-1]["end"]) - float(ws[0]["start"]) for _who, ws in runs]
        k = int(np.argmin(lengths))
        if lengths[k] >= _SPLIT_S:
            break
        if k == 0 or (k + 1 < len(runs) and lengths[k + 1] > lengths[k - 1]):
            into = k + 1
        else:
            into = k - 1
        first, second = sorted((k, into))
        who = runs[into][0]
        runs[first : second + 1] = [(who, runs[first][1] + runs[second][1])]
    return runs


def _piece(phrase: Phrase, who: str, words: list[Word]) -> Phrase:
    rest: dict[str, Any] = {k: v for k, v in phrase.items() if k not in ("start", "end", "text", "words")}
    text = " ".join(" ".join(str(w["word"]).split()) for w in words)
    return cast(Phrase, {"start": words[0]["start"], "end": words[-1]["end"], "text": text, "words": words,
                         **rest, "speaker": who})


def label_phrases(phrases: Sequence[Phrase], turns: list[list]) -> list[Phrase]:
    """Each phrase with the label of the speaker holding most of its time, as a new dict; a phrase
    holding a turn change (another speaker holds >= _SPLIT_S of it) is split at the word boundary
    nearest the change, each piece timed and worded by its words. A phrase that already names its
    speaker (a user's script) is kept as it is."""
    out: list[Phrase] = []
    for phrase in phrases:
        if "speaker" in phrase:
            out.append(cast(Phrase, dict(phrase)))
            continue
        words = list(phrase.get("words") or [])
        runs = _word_runs(words, turns) if len(words) > 1 else []
        if len(runs) > 1:
            out += [_piece(phrase, who, ws) for who, ws in runs]
        else:
            out.append(cast(Phrase, {**phrase, "speaker": _owner(float(phrase["start"]), float(phrase["end"]), turns)}))
    return out

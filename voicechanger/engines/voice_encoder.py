"""Speaker embeddings: Resemblyzer's voice encoder, rebuilt here, on mel frames computed here.

The encoder is Resemblyzer's (PyPI resemblyzer 0.1.4, Apache-2.0): a 3-layer LSTM (40 -> 256) and a
linear layer with ReLU on 40-band mel power frames (25 ms / 10 ms at 16 kHz), L2-normalised. Its
weights (pretrained.pt) ship inside the wheel. The network is rebuilt here (a few lines of torch), the
wheel's file loaded into it and exported to ONNX once, into the models folder (``prepare_encoder``,
which `make install` runs); the pipeline runs it with onnxruntime, which faster-whisper's VAD already
loads, and never imports torch (~1.2 s) for it. The package itself is not imported either: that would
import librosa (numba, ~1 s) and webrtcvad for its own preprocessing, which the Silero VAD here
replaces. The mel frames of a whole recording are computed once and windows are slices of them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import VoiceError
from ..paths import models_dir

RATE = 16000                # the encoder's sample rate
_N_FFT = 400                # 25 ms
_HOP = 160                  # 10 ms
_N_MELS = 40
_TARGET_DBFS = -30.0        # Resemblyzer normalises its input to this level (per window here)

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


def encoder_path() -> Path:
    """Where the encoder, exported to ONNX from the wheel's weights, lives in the models folder."""
    return models_dir() / f"resemblyzer-{importlib.metadata.version('resemblyzer')}" / _ONNX_NAME


# The exported graph's layout; a change to _export_onnx gets a new name, so an old file is never read.
_ONNX_NAME = "encoder-v1.onnx"


def _export_onnx(weights: Path) -> bytes:
    """Resemblyzer's network rebuilt in torch, its weights loaded, exported to ONNX: a 3-layer LSTM
    over (windows, frames, 40) zero-padded mel frames, whose output at each window's ``last`` frame
    (the hidden state there: the LSTM runs forward) goes through the linear layer, ReLU and L2 norm."""
    import tempfile

    import torch

    class VoiceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(_N_MELS, 256, 3, batch_first=True)
            self.linear = torch.nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
            out, _state = self.lstm(mels)
            raw = torch.relu(self.linear(out[torch.arange(out.shape[0]), last]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
    except Exception as exc:  # a truncated or foreign file
        raise SpeakerModelMissing(f"speaker encoder {weights}: cannot be read ({exc}); reinstall it: "
                                  "`.venv/bin/pip install --force-reinstall resemblyzer==0.1.4`") from None
    model = VoiceEncoder()
    # The checkpoint also holds the training loss's similarity scale and bias; the encoder has no use for them.
    model.load_state_dict({k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))})
    model.eval()
    example = (torch.zeros(2, 30, _N_MELS), torch.tensor([29, 9]))
    with torch.no_grad(), warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")  # the exporter's notes on LSTMs with a batch size
        out = Path(folder) / _ONNX_NAME
        try:
            torch.onnx.export(model, example, out, input_names=["mels", "last"], output_names=["embedding"],
                              dynamic_axes={"mels": {0: "windows", 1: "frames"}, "last": {0: "windows"}},
                              opset_version=17, dynamo=False)
        except Exception as exc:  # onnx missing, or an exporter that changed
            raise SpeakerModelMissing(f"speaker encoder: cannot export it to ONNX ({exc}); "
                                      "run `make install`") from None
        return out.read_bytes()


def prepare_encoder() -> Path:
    """The encoder's ONNX file in the models folder, exported unless it is there (`make install` runs this)."""
    path = encoder_path()
    if not path.is_file():
        data = _export_onnx(weights_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_bytes(data)
        os.replace(part, path)
    return path


def _session(model: Path | bytes):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # The LSTM's products split over the threads give the same bits for any count (checked: 1 and 2).
    options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                        providers=["CPUExecutionProvider"])


def _load():
    """The ONNX session, from the models folder, or exported now where it is missing (kept in memory
    when the folder is read-only)."""
    path = encoder_path()
    if not path.is_file():
        try:
            path = prepare_encoder()
        except OSError:
            return _session(_export_onnx(weights_path()))
    try:
        return _session(path)
    except Exception as exc:  # a truncated or foreign file
        raise SpeakerModelMissing(f"speaker encoder {path}: cannot be read ({exc}); delete it and run "
                                  "`make install`") from None


def encoder():
    """The voice encoder (an onnxruntime session), loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            _model = _load()
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


def frame_power(audio: np.ndarray, frames: int) -> np.ndarray:
    """Mean square of the samples each 10 ms frame is centred on (for per-window level normalisation)."""
    audio = np.asarray(audio, dtype=np.float32)  # no float64 copy: an hour of it is 460 MB
    whole = len(audio) // _HOP
    power = np.zeros(frames)
    if whole:
        rows = audio[: whole * _HOP].reshape(whole, _HOP)
        power[: min(whole, frames)] = (np.einsum("ij,ij->i", rows, rows, dtype=np.float64) / _HOP)[:frames]
    return power


def to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if rate == RATE:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(RATE, rate)
    return resample_poly(audio, RATE // g, rate // g).astype(np.float32)


def embed_frames(mels: np.ndarray, power: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """(windows, 256) embeddings of mel-frame ranges [first, last), each brought to -30 dBFS first.
    Windows go to the encoder in order of length, so that a call pads its windows little."""
    out = np.zeros((len(windows), 256), dtype=np.float32)
    target = 10 ** (_TARGET_DBFS / 10)
    order = sorted(range(len(windows)), key=lambda k: windows[k][1] - windows[k][0])
    for at in range(0, len(order), _BATCH):
        part = order[at : at + _BATCH]
        lengths = np.array([windows[k][1] - windows[k][0] for k in part], dtype=np.int64)
        batch = np.zeros((len(part), max(int(lengths.max()), 1), _N_MELS), dtype=np.float32)
        for row, k in enumerate(part):
            first, last = windows[k]
            level = float(np.mean(power[first:last])) if last > first else 0.0
            batch[row, : last - first] = mels[first:last] * (target / max(level, 1e-10))
        out[part] = encoder().run(None, {"mels": batch, "last": np.maximum(lengths - 1, 0)})[0]
    return out


# Windows per call of the encoder: the LSTM keeps its output for every frame of a call, so one call over
# an hour's windows would take gigabytes; this many keep it small at no cost in speed.
_BATCH = 256


def embed(audio: np.ndarray, rate: int) -> np.ndarray:
    """One L2-normalised speaker embedding (256 floats) of a stretch of speech: the mean of its 1.6 s
    windows' embeddings (Resemblyzer's embed_utterance), renormalised. Loads the encoder once per
    process (thread-safe)."""
    audio = to_rate(audio, rate)
    mels = mel_frames(audio)
    power = frame_power(audio, len(mels))
    windows = span_windows(0, len(mels), _EMBED_WIN, _EMBED_WIN // 2)
    vectors = embed_frames(mels, power, windows)
    mean = vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


_EMBED_WIN = 160   # frames: Resemblyzer's partial utterance (1.6 s)


def span_windows(first: int, last: int, size: int, hop: int) -> list[tuple[int, int]]:
    """Windows of ``size`` frames every ``hop`` over [first, last), the last one ending at ``last``;
    one window of the whole range when it is shorter than ``size``."""
    if last - first <= size:
        return [(first, last)]
    starts = list(range(first, last - size + 1, hop))
    if starts[-1] + size < last:
        starts.append(last - size)
    return [(s, s + size) for s in starts]


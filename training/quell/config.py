"""The one place for the STFT framing and the model families; export.py writes the card from it.

Two framings exist. "sqrt-hann" (the first models): a 512-point √Hann window for analysis and
its dual for synthesis, so the engine's algorithmic delay is fftSize − hop = 384 samples.
"low-delay" (Mauler & Martin 2011): the same 512-sample analysis span, but the window rises
over all of it and falls in the last `taper` samples, and the synthesis window covers only the
frame's last hop + taper samples, so the delay is the taper alone. Analysis × synthesis is a
flat-top window (sin² rise, 1, cos² fall) whose copies at the hop sum to one: perfect
reconstruction with a mask of ones.
"""
import math

import numpy as np

SAMPLE_RATE = 16000
FFT_SIZE = 512
HOP_SIZE = 128
N_BINS = FFT_SIZE // 2 + 1
FAMILIES = ["gru", "lstm", "rnn", "cnn"]

LOW_DELAY = {"window": "low-delay", "fftSize": FFT_SIZE, "hopSize": HOP_SIZE, "synthesisSize": HOP_SIZE + 32}
LEGACY = {"window": "sqrt-hann", "fftSize": FFT_SIZE, "hopSize": HOP_SIZE, "synthesisSize": FFT_SIZE}
FRAMING = LOW_DELAY  # what new models train on


def framing_of(config):
    """The framing a checkpoint was trained on (checkpoints from before it was recorded: legacy)."""
    return config.get("framing", LEGACY)


def windows(framing):
    """(analysis, synthesis), both fftSize long, float64; synthesis is zero before the last synthesisSize samples."""
    n_fft, hop, size = framing["fftSize"], framing["hopSize"], framing["synthesisSize"]
    n = np.arange(n_fft)
    if framing["window"] == "sqrt-hann":
        # float32 first: the engine computes the window in float32
        analysis = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)).astype(np.float32).astype(np.float64)
        envelope = np.zeros(n_fft)
        for k in range(0, n_fft, hop):
            envelope += np.roll(analysis ** 2, k)
        return analysis, analysis / envelope
    if framing["window"] != "low-delay":
        raise ValueError(f"unknown window {framing['window']!r}")
    taper = size - hop
    if not 0 < taper <= hop:
        raise ValueError(f"low-delay synthesisSize must be in (hop, 2·hop], got {size}")
    rise = n_fft - taper
    analysis = np.where(n < rise, np.sin(0.5 * math.pi * n / rise),
                        np.cos(0.5 * math.pi * (n - rise + 0.5) / taper))
    flat_top = np.zeros(n_fft)
    m = np.arange(size)
    flat_top[n_fft - size:] = np.where(
        m < taper, np.sin(0.5 * math.pi * (m + 0.5) / taper) ** 2,
        np.where(m < hop, 1.0, np.cos(0.5 * math.pi * (m - hop + 0.5) / taper) ** 2))
    analysis = analysis.astype(np.float32).astype(np.float64)
    synthesis = np.where(flat_top > 0, flat_top / np.maximum(analysis, 1e-12), 0.0)
    return analysis, synthesis


def delay_samples(framing, mask_latency):
    """Output sample n is input sample n − this, in the engine (file mode: mask_latency 0)."""
    return framing["synthesisSize"] - framing["hopSize"] + mask_latency * framing["hopSize"]

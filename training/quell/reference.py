"""Python reference of the engine's file pipeline, in NumPy, for the parity tests.

Mirrors src/dsp: frames of fftSize samples every hop (zeros before the first sample), the
framing's analysis window, real FFT, the model's mask (not stepped on frames of digital
silence), inverse FFT, the synthesis window over the frame's synthesis span, overlap-add, and
removal of the algorithmic delay so the output is aligned with the input.
"""
import copy
import wave

import numpy as np
import torch

from .config import FRAMING, SAMPLE_RATE, windows


def frames(x, framing=FRAMING):
    """Frames as the streaming engine sees them (zeros before the first sample)."""
    n_fft, hop = framing["fftSize"], framing["hopSize"]
    hops = -(-len(x) // hop) + n_fft // hop
    padded = np.concatenate([np.zeros(n_fft - hop), x, np.zeros(hops * hop - len(x))])
    return np.stack([padded[f * hop:f * hop + n_fft] for f in range(hops)])


def magnitudes(x, framing=FRAMING):
    analysis, _ = windows(framing)
    spec = np.fft.rfft(frames(x, framing) * analysis, axis=1)
    return spec, np.abs(spec)


def denoise(model, x, framing=FRAMING):
    """Whole-sequence model, NumPy STFT; output has x's length and is time-aligned with it."""
    n_fft, hop, size = framing["fftSize"], framing["hopSize"], framing["synthesisSize"]
    _, synthesis = windows(framing)
    spec, mag = magnitudes(x, framing)
    mag32 = mag.astype(np.float32)
    # the engine does not step the model on digital silence (a frame of exact zeros): its state
    # is held and its mask changes nothing heard (zeros in, zeros out), so the model runs on the
    # other frames only
    sound = (mag32 != 0).any(axis=1)
    mask = np.ones_like(mag)
    with torch.no_grad():
        # the engine's float32 magnitudes, through the model in float64: the reference's own rounding stays out
        exact = copy.deepcopy(model).double()
        if sound.any():
            mask[sound] = exact(torch.from_numpy(mag32[sound]).double()[None])[0].numpy()
    y_frames = np.fft.irfft(spec * mask, n_fft, axis=1) * synthesis
    out = np.zeros((len(y_frames) - 1) * hop + n_fft)
    for f, frame in enumerate(y_frames):
        out[f * hop:f * hop + n_fft] += frame
    delay = n_fft - hop  # frame f's last sample is input sample (f + 1)·hop − 1
    return out[delay:delay + len(x)]


def write_wav(path, x, rate=SAMPLE_RATE):
    """16-bit mono WAV; returns the samples as the engine will read them back."""
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm.astype(np.float64) / 32768

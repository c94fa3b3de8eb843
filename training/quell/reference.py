"""Python reference of the engine's file pipeline, in NumPy, for the parity tests.

Mirrors src/dsp: a 384-sample silent history, 512-point frames every 128 samples, sqrt-Hann
analysis, real FFT, the model's mask, inverse FFT, the dual synthesis window, overlap-add,
and removal of the fixed delay so the output is aligned with the input.
"""
import wave

import numpy as np
import torch

FFT_SIZE, HOP_SIZE = 512, 128


def windows():
    n = np.arange(FFT_SIZE)
    analysis = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / FFT_SIZE)).astype(np.float32).astype(np.float64)
    envelope = np.zeros(FFT_SIZE)
    for k in range(0, FFT_SIZE, HOP_SIZE):
        envelope += np.roll(analysis ** 2, k)
    return analysis, analysis / envelope


def frames(x):
    """Frames as the streaming engine sees them (zeros before the first sample)."""
    hops = -(-len(x) // HOP_SIZE) + (FFT_SIZE // HOP_SIZE)
    padded = np.concatenate([np.zeros(FFT_SIZE - HOP_SIZE), x, np.zeros(hops * HOP_SIZE - len(x))])
    return np.stack([padded[f * HOP_SIZE:f * HOP_SIZE + FFT_SIZE] for f in range(hops)])


def magnitudes(x):
    analysis, _ = windows()
    spec = np.fft.rfft(frames(x) * analysis, axis=1)
    return spec, np.abs(spec)


def denoise(model, x):
    """Whole-sequence model, NumPy STFT; output has x's length and is time-aligned with it."""
    analysis, synthesis = windows()
    spec, mag = magnitudes(x)
    with torch.no_grad():
        mask = model(torch.from_numpy(mag.astype(np.float32))[None])[0].double().numpy()
    y_frames = np.fft.irfft(spec * mask, FFT_SIZE, axis=1) * synthesis
    out = np.zeros((len(y_frames) - 1) * HOP_SIZE + FFT_SIZE)
    for f, frame in enumerate(y_frames):
        out[f * HOP_SIZE:f * HOP_SIZE + FFT_SIZE] += frame
    delay = FFT_SIZE - HOP_SIZE
    return out[delay:delay + len(x)]


def write_wav(path, x, rate=16000):
    """16-bit mono WAV; returns the samples as the engine will read them back."""
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm.astype(np.float64) / 32768

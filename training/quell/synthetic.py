"""Synthetic speech-like audio: voiced harmonics under moving formants, with pauses.

Used for the tiny training run in CI (no downloads) and for test fixtures.
"""
import numpy as np

from .config import SAMPLE_RATE


def speech_like(seconds, rng):
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    t = 0
    while t < n:
        dur = int(rng.uniform(0.2, 0.6) * SAMPLE_RATE)
        tt = np.arange(dur) / SAMPLE_RATE
        f0 = rng.uniform(90, 240) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 4) * tt))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        formants = [rng.uniform(300, 900), rng.uniform(900, 2500), rng.uniform(2500, 3500)]
        syllable = np.zeros(dur)
        for k in range(1, 40):
            fk = f0 * k
            amp = sum(np.exp(-0.5 * ((fk - f) / 120) ** 2) for f in formants) / k ** 0.5
            syllable += amp * np.sin(k * phase) * (fk < 7800)
        syllable *= np.hanning(dur)
        m = min(dur, n - t)
        out[t:t + m] = syllable[:m]
        t += dur + int(rng.uniform(0.02, 0.4) * SAMPLE_RATE)
    return (out / (np.sqrt(np.mean(out ** 2)) + 1e-9) * 0.05).astype(np.float32)


def synthetic_split(rng, n_speech=40, n_noise=8):
    speech = [speech_like(rng.uniform(1, 3), rng) for _ in range(n_speech)]
    noise = [(f"synthetic:{i}", rng.standard_normal(SAMPLE_RATE * 2).astype(np.float32)
              * np.linspace(0.5, 1.5, SAMPLE_RATE * 2).astype(np.float32)) for i in range(n_noise)]
    return speech, noise

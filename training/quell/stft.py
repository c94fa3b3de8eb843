"""The STFT of the engine, in PyTorch: 16 kHz, 512-point frames, hop 128, sqrt-Hann windows.

The analysis window times the synthesis window is a periodic Hann, whose copies at hop 128
sum to 2; the synthesis window is scaled by 1/2 so that a mask of ones reconstructs exactly.
"""
import math

import torch

SAMPLE_RATE, FFT_SIZE, HOP_SIZE = 16000, 512, 128


def sqrt_hann():
    n = torch.arange(FFT_SIZE, dtype=torch.float64)
    return torch.sqrt(0.5 - 0.5 * torch.cos(2 * math.pi * n / FFT_SIZE)).float()


def stft(x):
    """[B, N] -> complex [B, T, 257]."""
    spec = torch.stft(x, FFT_SIZE, HOP_SIZE, window=sqrt_hann().to(x.device), center=True,
                      pad_mode="constant", return_complex=True)
    return spec.transpose(1, 2)


def istft(spec, length):
    """complex [B, T, 257] -> [B, length]; torch normalises by the window envelope itself."""
    return torch.istft(spec.transpose(1, 2), FFT_SIZE, HOP_SIZE, window=sqrt_hann().to(spec.device),
                       center=True, length=length)

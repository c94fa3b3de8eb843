"""The engine's STFT in PyTorch, for training: frames exactly as the streaming engine makes
them (zeros before the first sample, one frame per hop ending at the newest sample), the
framing's analysis window, and overlap-add of each frame's synthesis span, aligned to the input
(the algorithmic delay removed). The windows come from config.py, as in the card.
"""
import torch
from torch.nn import functional as F

from .config import FRAMING, windows

_cache = {}


def _windows(framing, device):
    key = (tuple(sorted(framing.items())), str(device))
    if key not in _cache:
        a, s = windows(framing)
        _cache[key] = (torch.tensor(a, dtype=torch.float32, device=device),
                       torch.tensor(s[framing["fftSize"] - framing["synthesisSize"]:], dtype=torch.float32, device=device))
    return _cache[key]


def stft(x, framing=FRAMING):
    """[B, N] -> complex [B, frames, bins]; frame f ends at sample (f + 1)·hop. Frames go on past
    the end until every input sample is inside a whole synthesis span."""
    n_fft, hop, size = framing["fftSize"], framing["hopSize"], framing["synthesisSize"]
    analysis, _ = _windows(framing, x.device)
    count = -(-(x.shape[-1] + size - hop) // hop)
    padded = F.pad(x, (n_fft - hop, count * hop - x.shape[-1]))
    frames = padded.unfold(-1, n_fft, hop) * analysis
    return torch.fft.rfft(frames, dim=-1)


def istft(spec, length, framing=FRAMING):
    """complex [B, frames, bins] -> [B, length], time-aligned with stft's input."""
    n_fft, hop, size = framing["fftSize"], framing["hopSize"], framing["synthesisSize"]
    _, synthesis = _windows(framing, spec.device)
    frames = torch.fft.irfft(spec, n_fft, dim=-1)[..., n_fft - size:] * synthesis  # [B, T, size]
    total = (frames.shape[1] - 1) * hop + size
    out = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, size), stride=(1, hop))
    out = out.reshape(spec.shape[0], total)
    delay = size - hop
    return F.pad(out, (0, max(0, delay + length - total)))[:, delay:delay + length]

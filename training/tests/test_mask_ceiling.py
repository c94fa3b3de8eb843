"""The ideal gain masks that `mask_ceiling.py` scores as the ceiling of what a model's mask can do."""
import unittest

import torch

from mask_ceiling import ideal_masks
from quell.config import FRAMING
from quell.stft import istft
from train import si_sdr


class IdealMaskTest(unittest.TestCase):
    def test_masks_keep_the_voice_remove_noise_and_lift_si_sdr(self):
        torch.manual_seed(3)
        t = torch.arange(16000) / 16000
        voice = 0.1 * torch.sin(2 * torch.pi * 220 * t) * (torch.sin(2 * torch.pi * 3 * t) > 0)
        noise = 0.05 * torch.randn(16000)
        y, masks = ideal_masks(voice, voice)
        for mask_name, mask in masks.items():  # a clean voice is left alone
            self.assertGreater(si_sdr(istft(y * mask, len(voice), FRAMING)[0], voice), 40, mask_name)
        for mask_name, mask in ideal_masks(noise, torch.zeros_like(noise))[1].items():
            self.assertLess(float(mask.max()), 1e-3, mask_name)  # noise alone is removed
        y, masks = ideal_masks(voice + noise, voice)
        before = si_sdr(voice + noise, voice)
        for mask_name, mask in masks.items():
            after = si_sdr(istft(y * mask, len(voice), FRAMING)[0], voice)
            self.assertGreater(after - before, 6, mask_name)

"""The training mixtures: the SNR range a run asks for is the SNR its mixtures have."""
import unittest

import numpy as np

from quell.data import Mixer
from quell.synthetic import synthetic_split


def mixture_snr_db(mix, clean):
    noise = mix - clean
    noise = noise - noise.mean()  # a cheap microphone's DC offset is not noise the SNR counts
    return 10 * np.log10(np.mean(clean ** 2) / (np.mean(noise ** 2) + 1e-20))


class MixtureSnrTest(unittest.TestCase):
    def test_mixtures_follow_the_snr_range(self):
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        for snr in (-10.0, 20.0):
            mixer = Mixer(speech, noise, seed=4, snr_range=(snr, snr))
            snrs = []
            for _ in range(30):
                mix, clean = mixer.item(16000, kind="mix")
                snrs.append(mixture_snr_db(mix, clean))
            # the median: an impact laid over speech, or clipping, moves a few items far off
            self.assertLess(abs(np.median(snrs) - snr), 2.0, f"asked {snr} dB, got {np.round(snrs, 1)}")


if __name__ == "__main__":
    unittest.main()

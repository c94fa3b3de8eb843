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


class SpeedTest(unittest.TestCase):
    def test_speed_moves_the_pitch_by_the_speed(self):
        # a 200 Hz voice played at 1.15 speaks at 230 Hz, and at 0.85 at 170 Hz
        tone = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32)
        for speed in (0.85, 1.0, 1.15):
            mixer = Mixer([tone], [("hum:x", tone)], seed=1, speed_range=(speed, speed))
            played = mixer.speed(tone)
            spectrum = np.abs(np.fft.rfft(played * np.hanning(len(played))))
            peak = np.argmax(spectrum) * 16000 / len(played)
            self.assertLess(abs(peak - 200 * speed), 3, f"speed {speed}: peak at {peak:.1f} Hz")
            self.assertLess(abs(len(played) - len(tone) / speed), 2)


if __name__ == "__main__":
    unittest.main()

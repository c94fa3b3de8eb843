"""The image-source rooms that training puts speech and noise in."""
import unittest

import numpy as np

from quell.rooms import SPEED_OF_SOUND, shoebox_rir

RATE = 16000


def decay_time(ir):
    """RT60 from the Schroeder energy decay curve's −5 to −25 dB slope (T20)."""
    energy = np.cumsum(ir[::-1] ** 2)[::-1]
    edc = 10 * np.log10(energy / energy[0] + 1e-30)
    return 3 * (np.argmax(edc < -25) - np.argmax(edc < -5)) / RATE


def direct_to_reverberant_db(ir):
    return 10 * np.log10(ir[0] ** 2 / np.sum(ir[1:] ** 2))


class ShoeboxRoomTest(unittest.TestCase):
    def test_direct_sound_first_at_unit_gain_and_decay_at_the_rooms_rt60(self):
        rng = np.random.default_rng(1)
        for rt60 in (0.3, 0.6):
            ir = shoebox_rir(rng, RATE, rt60=rt60)
            self.assertAlmostEqual(ir[0], 1.0, places=6)
            self.assertTrue(np.all(np.isfinite(ir)))
            self.assertLess(abs(decay_time(ir) - rt60), 0.25 * rt60)

    def test_first_reflection_of_a_known_room_comes_when_geometry_says(self):
        # source and microphone 1 m apart, 1 m above the floor: the floor echo travels √(1 + 4) m
        ir = shoebox_rir(np.random.default_rng(2), RATE, rt60=0.4, dims=[6, 5, 3], source=[2, 2.5, 1], mic=[3, 2.5, 1])
        expected = (np.sqrt(5) - 1) / SPEED_OF_SOUND * RATE
        first = np.argmax(np.abs(ir[1:]) > 1e-6) + 1
        self.assertLessEqual(abs(first - expected), 1)

    def test_a_talker_near_the_microphone_is_drier_than_a_noise_across_the_room(self):
        rng = np.random.default_rng(3)
        near = np.median([direct_to_reverberant_db(shoebox_rir(rng, RATE, rt60=0.6, near=True)) for _ in range(20)])
        far = np.median([direct_to_reverberant_db(shoebox_rir(rng, RATE, rt60=0.6)) for _ in range(20)])
        self.assertGreater(near, far + 3)


if __name__ == "__main__":
    unittest.main()

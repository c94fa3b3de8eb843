"""What every checkpoint is scored on: the validation split's own noise, a part whose noise is all
of the varied kinds (which the split's own noise lacks), and the dB a model takes from noise alone."""
import json
import os
import subprocess
import tempfile
import unittest
from unittest import mock

import numpy as np

from quell.config import FRAMING
from quell.data import Mixer
from quell.synthetic import synthetic_split
from tests.test_parity import TINY_TRAINING, ConstantMask
from train import validate, validation_set


def val_split():
    return synthetic_split(np.random.default_rng(0), 10, 3)


class ValidationSetTest(unittest.TestCase):
    def test_the_plain_part_is_what_it_was_and_the_varied_part_is_all_varied_noise(self):
        segments = []  # (the mixer's variety share, whether the segment came from a varied kind)
        varied_calls = []
        real_segment = Mixer.noise_segment

        def noise_segment(mixer, length):
            before = len(varied_calls)
            x = real_segment(mixer, length)
            segments.append((mixer.noise_variety, len(varied_calls) > before))
            return x

        patches = [mock.patch.object(Mixer, "noise_segment", noise_segment)]
        for kind in set(Mixer.VARIED_KINDS):
            real = getattr(Mixer, kind)
            patches.append(mock.patch.object(
                Mixer, kind, lambda mixer, length, real=real: varied_calls.append(1) or real(mixer, length)))
        for p in patches:
            p.start()
        try:
            val_set = validation_set(val_split(), 16000, synthetic=True)
        finally:
            for p in patches:
                p.stop()
        plain = [(n, c) for n, c, part in val_set if part == "plain"]
        varied = [(n, c) for n, c, part in val_set if part == "varied"]
        self.assertEqual(len(plain) + len(varied), len(val_set))
        self.assertGreater(len(varied), 0)
        # the plain part is the seed-7 mixtures as before: scores of older checkpoints compare with it
        before = Mixer(*val_split(), seed=7)
        for noisy, clean in plain:
            expected_noisy, expected_clean = before.batch(len(noisy), 16000)
            np.testing.assert_array_equal(noisy, expected_noisy)
            np.testing.assert_array_equal(clean, expected_clean)
        from_varied = [was for share, was in segments if share == 1.0]
        from_plain = [was for share, was in segments if share == 0.0]
        self.assertGreater(len(from_varied), 0)
        self.assertTrue(all(from_varied), "a noise segment of the varied part was of an ordinary kind")
        self.assertFalse(any(from_plain), "a noise segment of the plain part was of a varied kind")

    def test_the_scores_see_a_mask_that_only_turns_everything_down(self):
        val_set = validation_set(val_split(), 16000, synthetic=True)
        self.assertTrue(any((c ** 2).mean() == 0 for _, clean, _ in val_set for c in clean), "no noise-only clip")
        passed = validate(ConstantMask(1.0), val_set, FRAMING, "cpu")
        quieter = validate(ConstantMask(0.1), val_set, FRAMING, "cpu")
        self.assertAlmostEqual(passed["noise_removed"], 0.0, delta=0.1)
        # a gain of 0.1 everywhere takes 20 dB from noise alone and changes no SI-SDR
        self.assertAlmostEqual(quieter["noise_removed"], 20.0, delta=0.5)
        for scores in (passed, quieter):
            for name in ("fresh", "stream", "varied"):
                self.assertAlmostEqual(scores[name], 0.0, delta=0.1, msg=name)

    def test_a_run_logs_the_varied_part_and_noise_alone_for_each_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            run = subprocess.run(TINY_TRAINING + ["--steps", "2", "--out", tmp], check=True, capture_output=True, text=True)
            self.assertIn("varied noise", run.stdout)
            self.assertIn("dB removed", run.stdout)
            with open(os.path.join(tmp, "history.json")) as f:
                record = json.load(f)["history"][-1]
            for name in ("varied", "noise_removed", "ema_varied", "ema_noise_removed"):
                self.assertTrue(np.isfinite(record[name]), name)


if __name__ == "__main__":
    unittest.main()

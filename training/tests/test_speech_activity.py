"""--vad-weight, --vad-onset-weight and --band-weight: the training-only targets beside the masks,
their frames and bands, and runs that carry them."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from quell.config import FRAMING  # noqa: E402
from quell.model import build  # noqa: E402
from quell.stft import stft  # noqa: E402
from train import ONSET_SECONDS, SPEECH_BANDS, SpeechActivity, SpeechBands, erb_band_pooling, stepped_order  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
TINY = [sys.executable, os.path.join(ROOT, "training/train.py"), "--synthetic", "--batch", "2", "--seconds", "1",
        "--hidden", "16"]


def spectra(noisy, clean):
    """What the training loop hands the heads: the noisy and the clean signal's spectra."""
    return stft(noisy, FRAMING), stft(clean, FRAMING)


class Targets(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = build("gru", 16, 2, level_norm=True)
        self.head = SpeechActivity(self.model)
        n = 16000
        t = torch.arange(n) / 16000
        # a tone for the first half second (the "voice"), then nothing; noise all along
        self.clean = torch.where(t < 0.5, 0.1 * torch.sin(2 * torch.pi * 220 * t), torch.zeros(n)).unsqueeze(0)
        self.noise = 0.01 * torch.randn(1, n)

    def guesses_are(self, noisy, wanted):
        """Set the head to guess `wanted` [B, T] (1 speech, 0 not, 0.5 unsure: logits of ±10 or 0) and
        return its loss on `noisy`."""
        self.head.hidden_seen = (wanted * 20 - 10).unsqueeze(-1).expand(*wanted.shape, 16) / 16
        self.head.linear.weight.data.fill_(1.0)  # the guess is the sum of the hidden state
        self.head.linear.bias.data.zero_()
        return float(self.head.loss(*spectra(noisy, self.clean), FRAMING))

    def voiced(self):
        """1 for frames wholly inside the first half second, 0 wholly after it, 0.5 for those across."""
        first = (torch.arange(self.clean.shape[1]) < 8000).to(torch.float32).unsqueeze(0)
        sees = lambda x: (stft(x, FRAMING).abs() > 0).any(-1).to(torch.float32)  # noqa: E731
        inside, after = sees(first) * (1 - sees(1 - first)), sees(1 - first) * (1 - sees(first))
        return inside + 0.5 * (1 - inside - after)

    def test_the_voice_frames_are_the_targets(self):
        noisy = self.clean + self.noise
        voiced = self.voiced()
        across = int((voiced == 0.5).sum())
        self.assertLessEqual(across, 4)
        # the frames across the edge cost ln 2 each whatever the target; the rest nothing when right
        unsure = across * 0.6931 / voiced.shape[1]
        self.assertLess(self.guesses_are(noisy, voiced), unsure + 0.01)
        self.assertGreater(self.guesses_are(noisy, 1 - voiced), 4)

    def test_frames_of_digital_silence_are_not_scored(self):
        # the model is not stepped on them, as in the engine; they are moved after the others
        noisy = (self.clean + self.noise).clone()
        noisy[:, 12000:] = 0
        silent, order = stepped_order(stft(noisy, FRAMING).abs())
        self.assertTrue(bool(silent.any()))
        voiced = self.voiced()
        across = int((voiced == 0.5).sum())
        # right on the stepped frames, in the order stepped; wrong on every silent one, which must not count
        wanted = torch.where(silent, 1.0, voiced).gather(1, order)
        unsure = across * 0.6931 / int((~silent).sum())
        self.assertLess(self.guesses_are(noisy, wanted), unsure + 0.01)

    def test_noise_alone_has_no_speech(self):
        self.clean = torch.zeros_like(self.clean)
        frames = stft(self.noise, FRAMING).shape[1]
        self.assertLess(self.guesses_are(self.noise, torch.zeros(1, frames)), 0.01)
        self.assertGreater(self.guesses_are(self.noise, torch.ones(1, frames)), 4)


class Onsets(unittest.TestCase):
    def test_the_first_frames_and_those_after_a_voice_starts_or_stops_weigh_more(self):
        head = SpeechActivity(build("gru", 16, 2, level_norm=True), onset_weight=4.0)
        span = round(ONSET_SECONDS * 16000 / FRAMING["hopSize"])
        active = torch.zeros(1, 200)
        active[0, 100:150] = 1  # a voice from frame 100 to 149
        weight = head.frame_weights(active, FRAMING)[0]
        self.assertTrue(torch.all(weight[:span] == 4))  # the item's start
        self.assertTrue(torch.all(weight[span:100] == 1))
        self.assertTrue(torch.all(weight[100:100 + span] == 4))  # the voice starts
        self.assertTrue(torch.all(weight[150:150 + span] == 4))  # and stops
        self.assertTrue(torch.all(weight[150 + span:] == 1))

    def test_a_wrong_guess_at_an_onset_costs_more_than_elsewhere(self):
        model = build("gru", 16, 2, level_norm=True)
        plain, onsets = SpeechActivity(model), SpeechActivity(model, onset_weight=4.0)
        n = 16000
        clean = torch.zeros(1, n)
        clean[0, 8000:] = 0.1 * torch.sin(2 * torch.pi * 220 * torch.arange(8000) / 16000)
        noisy = clean + 0.01 * torch.randn(1, n)
        frames = stft(noisy, FRAMING).shape[1]
        start = next(t for t in range(frames) if float(plain.targets(*spectra(noisy, clean))[0, t]) == 1)
        for head in (plain, onsets):
            head.linear.weight.data.fill_(1.0)
            head.linear.bias.data.zero_()
        # right everywhere but the voice's first frame, guessed silent there
        wanted = plain.targets(*spectra(noisy, clean)).clone()
        wanted[0, start] = 0
        hidden = (wanted * 20 - 10).unsqueeze(-1).expand(1, frames, 16) / 16
        plain.hidden_seen = onsets.hidden_seen = hidden
        missed_plain = float(plain.loss(*spectra(noisy, clean), FRAMING))
        missed_onsets = float(onsets.loss(*spectra(noisy, clean), FRAMING))
        # one wrong frame of `frames`; at an onset it weighs 4 of a total that grows by 3 per onset frame
        self.assertAlmostEqual(missed_plain, 10 / frames, places=3)
        self.assertGreater(missed_onsets, missed_plain * 1.5)


class Bands(unittest.TestCase):
    def test_every_bin_is_in_one_band_and_the_bands_widen_with_frequency(self):
        pooling = erb_band_pooling()
        self.assertEqual(tuple(pooling.shape), (257, SPEECH_BANDS))
        self.assertTrue(torch.all(pooling.sum(1) == 1))
        widths = pooling.sum(0)
        self.assertTrue(torch.all(widths >= 1))
        self.assertTrue(torch.all(widths[1:] >= widths[:-1]))
        self.assertGreater(float(widths[-1]), 4 * float(widths[0]))

    def test_a_band_is_speech_where_the_voice_is_louder_than_the_noise(self):
        head = SpeechBands(build("gru", 16, 2, level_norm=True))
        n = 16000
        t = torch.arange(n) / 16000
        clean = 0.1 * torch.sin(2 * torch.pi * 220 * t).unsqueeze(0)  # a low tone all along
        # a high tone as loud as the voice: its band is noise's, the voice's band is the voice's
        noise = 0.1 * torch.sin(2 * torch.pi * 6000 * t).unsqueeze(0)
        target = head.targets(*spectra(clean + noise, clean))[0, 10:-10]  # away from the edges
        freqs = torch.arange(257) * 8000 / 256
        band_of = lambda f: int(erb_band_pooling()[int(torch.argmin((freqs - f).abs()))].argmax())  # noqa: E731
        self.assertTrue(torch.all(target[:, band_of(220)] == 1))
        self.assertTrue(torch.all(target[:, band_of(6000)] == 0))
        # noise alone is noise in every band; a clean voice is speech only where it has energy
        self.assertEqual(float(head.targets(*spectra(noise, torch.zeros_like(noise))).sum()), 0.0)
        alone = head.targets(*spectra(clean, clean))[0, 10:-10]
        self.assertTrue(torch.all(alone[:, band_of(220)] == 1))


class Runs(unittest.TestCase):
    def test_a_run_keeps_its_head_when_resumed_and_exports_the_same_graph(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(TINY + ["--steps", "2", "--vad-weight", "0.1", "--out", tmp], check=True, capture_output=True)
            first = torch.load(os.path.join(tmp, "last.pt"), map_location="cpu")
            self.assertEqual(first["state"]["vad_weight"], 0.1)
            self.assertIn("vad_head", first)
            run = subprocess.run(TINY + ["--steps", "4", "--out", tmp], check=True, capture_output=True, text=True)
            self.assertIn("speech activity", run.stdout)
            resumed = torch.load(os.path.join(tmp, "last.pt"), map_location="cpu")
            self.assertEqual(resumed["state"]["step"], 4)
            self.assertFalse(torch.equal(first["vad_head"]["linear.weight"], resumed["vad_head"]["linear.weight"]))
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(ROOT, "training/export.py"), "--checkpoint",
                            os.path.join(tmp, "last.pt"), "--out", out], check=True, capture_output=True)
            with open(out + ".json") as f:
                card = json.load(f)
            without_head = sum(p.numel() for p in build("gru", 16, 2, level_norm=True).parameters())
            self.assertEqual(card["parameters"], without_head)

    def test_a_run_without_it_cannot_take_it_up_and_the_cnn_has_no_recurrent_layer(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(TINY + ["--steps", "1", "--out", tmp], check=True, capture_output=True)
            refused = subprocess.run(TINY + ["--steps", "2", "--vad-weight", "0.1", "--out", tmp], capture_output=True,
                                     text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--vad-weight", refused.stderr)
            self.assertIn("last.pt was trained without it", refused.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            refused = subprocess.run(TINY + ["--arch", "cnn", "--steps", "1", "--vad-weight", "0.1", "--out", tmp],
                                     capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--vad-weight reads the last recurrent layer", refused.stderr)


    def test_a_resumed_run_may_take_up_the_bands_but_not_drop_a_head(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(TINY + ["--steps", "2", "--vad-weight", "0.1", "--out", tmp], check=True, capture_output=True)
            run = subprocess.run(TINY + ["--steps", "4", "--band-weight", "0.1", "--vad-onset-weight", "3", "--out", tmp],
                                 check=True, capture_output=True, text=True)
            self.assertIn("band_head taken up", run.stdout)
            self.assertIn("speech bands", run.stdout)
            taken = torch.load(os.path.join(tmp, "last.pt"), map_location="cpu")
            self.assertEqual((taken["state"]["band_weight"], taken["state"]["vad_onset_weight"]), (0.1, 3.0))
            # resumed again with both heads, it keeps them and their weights move
            subprocess.run(TINY + ["--steps", "6", "--out", tmp], check=True, capture_output=True)
            again = torch.load(os.path.join(tmp, "last.pt"), map_location="cpu")
            self.assertEqual(again["state"]["step"], 6)
            self.assertFalse(torch.equal(taken["band_head"]["linear.weight"], again["band_head"]["linear.weight"]))
            dropped = subprocess.run(TINY + ["--steps", "8", "--band-weight", "0", "--out", tmp], capture_output=True,
                                     text=True)
            self.assertNotEqual(dropped.returncode, 0)
            self.assertIn("--band-weight 0", dropped.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            refused = subprocess.run(TINY + ["--steps", "1", "--vad-onset-weight", "3", "--out", tmp],
                                     capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--vad-onset-weight", refused.stderr)


if __name__ == "__main__":
    unittest.main()

"""The training mixtures: the SNR range a run asks for is the SNR its mixtures have."""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

from quell.data import Mixer
from quell.synthetic import synthetic_split
from tests.test_parity import TINY_TRAINING, run_and_resume


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


class NoiseAfterSpeechTest(unittest.TestCase):
    def test_the_talker_stops_and_a_noise_about_as_loud_takes_over(self):
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        rng = np.random.default_rng(0)
        voice = np.concatenate([np.zeros(100), rng.standard_normal(15900)]).astype(np.float32) * 0.1
        quiet_noise = rng.standard_normal(16000).astype(np.float32) * 1e-3
        mixer = Mixer(speech, noise, seed=5)
        for _ in range(20):
            kept, noise_out = mixer.noise_takes_over(voice, quiet_noise)
            stopped = np.flatnonzero(kept[100:] == 0)
            self.assertGreater(len(stopped), 0, "the talker never stopped")
            cut = 100 + stopped[0]
            self.assertTrue(0.25 * 16000 < cut < 0.85 * 16000, f"cut at {cut}")
            self.assertTrue(np.all(kept[cut:] == 0))
            np.testing.assert_array_equal(kept[:cut], voice[:cut])
            after = noise_out[cut + 200:]  # past the 10 ms crossfade
            level_db = 10 * np.log10(np.mean(after ** 2) / np.mean(voice[:cut] ** 2))
            self.assertLess(abs(level_db), 10.5, f"the noise that took over is {level_db:.1f} dB from the voice")

    def test_with_no_share_no_random_number_is_drawn_for_it(self):
        # Evaluation sets are made from a seed: with the option off, their mixtures must be the ones
        # made before it existed. A share too small ever to fire still draws a number per mixture,
        # which moves every draw after it: its mixtures differ from those of no share only if no
        # share draws nothing.
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        # The same holds for --noise-variety, --speech-first and --noise-after-quiet (drawn only for
        # the items whose noise starts late, so the batch is large enough to hold some).
        off = Mixer(speech, noise, seed=9).batch(16, 8000)
        for option in ("noise_after_speech", "noise_variety", "speech_first", "noise_after_quiet"):
            drawn = Mixer(speech, noise, seed=9, **{option: 1e-12}).batch(16, 8000)
            self.assertFalse(np.array_equal(off[0], drawn[0]), option)



class SpeechFirstTest(unittest.TestCase):
    def test_the_voice_starts_at_the_first_sample_in_the_share_asked_and_the_batch_says_where(self):
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        mixer = Mixer(speech, noise, seed=5, speech_first=0.4)
        noisy, clean, first = mixer.batch_marked(300, 16000)
        # (an item muted whole by a stretch of digital silence has no voice left to start)
        has_speech = np.abs(clean).max(-1) > 0
        # where the voice is first within 40 dB of its peak (an EQ's pre-echo is not the voice)
        starts = np.array([np.flatnonzero(np.abs(c) > 0.01 * np.abs(c).max())[0] if h else -1
                           for c, h in zip(clean, has_speech)])
        first = first & has_speech
        # all but those whose start a muted microphone's digital silence (8 % of items) took
        late = starts[first] >= 512  # within the first frame (the synthetic voices fade in)
        self.assertLess(late.mean(), 0.1, f"marked items whose voice starts late: {starts[first][late]}")
        self.assertAlmostEqual(first[has_speech].mean(), 0.4, delta=0.08)
        # the others keep their pause before the voice: on average a quarter of a second
        self.assertGreater(np.median(starts[has_speech & ~first]), 1000)

    def test_the_teachers_are_not_matched_where_they_are_untaught(self):
        from train import clean_where_untaught
        from quell.config import FRAMING
        from quell.stft import stft
        import torch
        clean = torch.randn(3, 4000)
        teacher = stft(torch.randn(3, 4000), FRAMING)
        target = clean_where_untaught(teacher, stft(clean, FRAMING), torch.tensor([False, True, False]))
        torch.testing.assert_close(target[1], stft(clean, FRAMING)[1])
        torch.testing.assert_close(target[[0, 2]], teacher[[0, 2]])


class NoiseAfterQuietTest(unittest.TestCase):
    def test_a_late_noise_follows_another_quiet_sound_in_the_share_asked_and_the_batch_marks_it(self):
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        for share in (0.0, 1.0):
            mixer = Mixer(speech, noise, seed=5, noise_after_quiet=share)
            marked, quiet_first = 0, 0
            for _ in range(300):
                mix, _ = mixer.item(32000, kind="noise_only")
                if not mixer.untaught:
                    continue
                marked += 1
                # before the earliest onset (a twentieth of the item) the room is quiet, not silent
                head, tail = mix[:1500] - mix[:1500].mean(), mix[16000:] - mix[16000:].mean()
                quiet_first += 0 < np.mean(head ** 2) < np.mean(tail ** 2) * 10 ** -1.5
            if share == 0.0:
                self.assertEqual(marked, 0, "the same noise quieter is what the teachers know: unmarked")
            else:
                # a third of the items with noise start it late (Mixer.item), and with the whole
                # share each of them after another sound
                self.assertAlmostEqual(marked / 300, 0.3, delta=0.07)
                # less the few that a muted microphone's digital silence or a burst in the tail took
                self.assertGreater(quiet_first / marked, 0.85, f"{quiet_first} of {marked}")

    def test_the_quiet_stretch_is_not_the_noise_itself_quieter(self):
        # A hum before a hum would teach a level change again: the stretch before a late noise,
        # brought up to the noise's level, has a spectrum of its own.
        speech, noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)
        hum = Mixer(speech, noise, seed=1).hum(32000).astype(np.float32)
        mixer = Mixer(speech, [("hum:a", hum)], seed=8, noise_after_quiet=1.0)
        mixer.NOISE_KINDS = ["file"]
        differs = 0
        for _ in range(100):
            mix, _ = mixer.item(32000, kind="noise_only")
            if not mixer.untaught:
                continue
            spectrum = lambda x: np.log(np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2 + 1e-20)
            head, tail = mix[:1600], mix[-1600:]
            differs += np.corrcoef(spectrum(head - head.mean()), spectrum(tail - tail.mean()))[0, 1] < 0.9
        self.assertGreater(differs, 10)


def frame_energy_db(x, frame=160):
    frames = x[:len(x) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-30)


class NoiseVarietyTest(unittest.TestCase):
    def setUp(self):
        self.speech, self.noise = synthetic_split(np.random.default_rng(3), n_speech=10, n_noise=4)

    def test_strikes_are_sharp_events_over_a_faint_room_not_digital_silence(self):
        mixer = Mixer(self.speech, self.noise, seed=6)
        for _ in range(10):
            x = mixer.strikes(64000)
            self.assertEqual(len(x), 64000)
            self.assertTrue(np.isfinite(x).all())
            energy = frame_energy_db(x)  # 10 ms frames
            self.assertGreater(np.max(np.diff(energy)), 15, "no strike starts sharply (15 dB within 10 ms)")
            self.assertGreater(energy.max() - energy.min(), 20, "the strikes never die away")
            self.assertGreater(np.min(np.abs(x[:64000 // 160 * 160]).reshape(-1, 160).max(1)), 0,
                               "exact zeros between strikes")

    def test_tones_hold_their_energy_in_a_few_bins(self):
        mixer = Mixer(self.speech, self.noise, seed=7)
        for _ in range(10):
            x = mixer.tones(64000)
            frames = x[:63488].reshape(-1, 512) * np.hanning(512)
            power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
            loud = power.sum(1) > 1e-3 * power.sum(1).max()  # beeps' gaps aside
            top = np.sort(power[loud], axis=1)[:, -12:].sum(1) / power[loud].sum(1)
            self.assertGreater(np.median(top), 0.8, "a tone spread over the spectrum like a noise")

    def test_a_recast_recording_keeps_its_length_and_is_played_at_half_to_twice_its_speed(self):
        tone = np.sin(2 * np.pi * 1000 * np.arange(48000) / 16000).astype(np.float32)
        mixer = Mixer(self.speech, [("hum:tone", tone)], seed=8)
        peaks = []
        for length in (100, 3000, 32000) * 20:
            x = mixer.recast(length)
            self.assertEqual(len(x), length)
            self.assertTrue(np.isfinite(x).all())
            if length == 32000:
                peaks.append(np.argmax(np.abs(np.fft.rfft(x * np.hanning(length)))) * 16000 / length)
        self.assertGreaterEqual(min(peaks), 480)
        self.assertLessEqual(max(peaks), 2020)
        self.assertGreater(max(peaks) - min(peaks), 400, f"the speed never changed: {peaks}")

    def test_the_share_of_varied_noise_is_the_share_asked(self):
        mixer = Mixer(self.speech, self.noise, seed=9, noise_variety=0.3)
        varied = []
        for kind in set(Mixer.VARIED_KINDS):
            setattr(mixer, kind, lambda length, kind=kind: varied.append(kind) or np.zeros(length))
        for _ in range(1000):
            mixer.noise_segment(800)
        self.assertAlmostEqual(len(varied) / 1000, 0.3, delta=0.05)
        self.assertEqual(set(varied), set(Mixer.VARIED_KINDS))

    def test_a_run_keeps_its_variety_when_resumed_and_a_share_out_of_range_is_refused_by_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            for recipe in run_and_resume(tmp, "--noise-variety", "0.5"):
                self.assertIn("varied noise in 0.5 of noise segments", recipe)
            self.assertEqual(json.load(open(os.path.join(tmp, "summary.json")))["noise_variety"], 0.5)
            refused = subprocess.run(TINY_TRAINING + ["--steps", "1", "--noise-variety", "1.5", "--out", tmp],
                                     capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--noise-variety 1.5", refused.stderr)


class SpeechRoomsTest(unittest.TestCase):
    def test_the_share_of_voices_in_a_room_is_the_share_asked_and_a_run_keeps_it(self):
        speech, noise = synthetic_split(np.random.default_rng(4), n_speech=10, n_noise=4)
        for asked, share in ((None, 0.3), (0.6, 0.6)):  # None: the default
            mixer = Mixer(speech, noise, seed=6, **({} if asked is None else {"speech_rooms": asked}))
            rooms = []
            reverb = mixer.reverb
            mixer.reverb = lambda x, near=False: (rooms.append(near), reverb(x, near))[1]
            for _ in range(1000):
                mixer.item(800, kind="speech_only")
            # speech alone draws no noise, so every room is the voice's own, a near one
            self.assertTrue(all(rooms))
            self.assertAlmostEqual(len(rooms) / 1000, share, delta=0.05)
        with tempfile.TemporaryDirectory() as tmp:
            for recipe in run_and_resume(tmp, "--speech-rooms", "0.6"):
                self.assertIn("a voice in a room in 0.6 of them", recipe)
            fresh = subprocess.run(TINY_TRAINING + ["--steps", "1", "--out", os.path.join(tmp, "fresh")], check=True,
                                   capture_output=True, text=True)
            self.assertIn("a voice in a room in 0.3 of them", fresh.stdout)


if __name__ == "__main__":
    unittest.main()

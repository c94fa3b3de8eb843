"""The core promise in PyTorch: stepping frame by frame with carried state equals running the
whole sequence, for every model family; and the training recipe runs end to end."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from quell import reference  # noqa: E402
from quell.config import FRAMING, SAMPLE_RATE, framing_of  # noqa: E402
from quell.model import build  # noqa: E402

FAMILIES = ["gru", "lstm", "rnn", "cnn"]
# train.py on synthetic data, small and short: the recipe's options, run end to end in seconds
TINY_TRAINING = [sys.executable, os.path.join(os.path.dirname(HERE), "train.py"), "--synthetic", "--batch", "2",
                 "--seconds", "1", "--hidden", "16"]


def stream(model, mag):
    states = model.zero_states(mag.shape[0])
    states = [s.to(mag.dtype) for s in states]
    out = []
    for t in range(mag.shape[1]):
        mask, *states = model.step(mag[:, t], *states)
        out.append(mask)
    return torch.stack(out, 1)


class ConstantMask(torch.nn.Module):
    """A stand-in model whose mask is one gain everywhere, so what a loss term adds is plain."""

    def __init__(self, gain):
        super().__init__()
        self.gain = gain

    def forward(self, mag):
        return torch.full_like(mag, self.gain)


def voice_and_noise(seed):
    """A second of a voiced, syllable-like tone and of white noise 20 dB under its peak."""
    t = np.arange(16000) / 16000
    voice = torch.tensor(np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) * 0.1, dtype=torch.float32)[None]
    noise = torch.tensor(np.random.default_rng(seed).standard_normal((1, 16000)) * 0.01, dtype=torch.float32)
    return voice, noise


def extra_loss(term, gain, noisy, clean):
    """What train.loss_fn adds, with `term` (e.g. {"level_weight": 0.5}), for a mask of one gain."""
    from train import loss_fn
    with_term, *_ = loss_fn(ConstantMask(gain), noisy, clean, FRAMING, sdr_weight=0, **term)
    without, *_ = loss_fn(ConstantMask(gain), noisy, clean, FRAMING, sdr_weight=0)
    return float(with_term - without)


def run_and_resume(out, option, value):
    """A tiny training run with `option value`, then the same run resumed without it: what each printed."""
    run = subprocess.run(TINY_TRAINING + ["--steps", "2", option, value, "--out", out], check=True, capture_output=True, text=True)
    resumed = subprocess.run(TINY_TRAINING + ["--steps", "3", "--out", out], check=True, capture_output=True, text=True)
    return run.stdout, resumed.stdout


def plain_then_fine_tuned(tmp, option):
    """A tiny run with the voicing view in tmp/plain, then one from its best.pt with `option` added
    in tmp/tuned: (plain's folder, tuned's folder, what the second run printed)."""
    plain, tuned = os.path.join(tmp, "plain"), os.path.join(tmp, "tuned")
    subprocess.run(TINY_TRAINING + ["--steps", "2", "--voicing", "--out", plain], check=True, capture_output=True)
    run = subprocess.run(TINY_TRAINING + ["--steps", "2", "--init", os.path.join(plain, "best.pt"), option, "--out", tuned],
                         check=True, capture_output=True, text=True)
    return plain, tuned, run.stdout


def assert_part_keeps_the_masks(checkpoint, part, mag):
    """A model with `part` (config entries) added to `checkpoint`'s weights, as train.py --init adds
    it (the part's own weights as built, at zero), gives the checkpoint's masks."""
    start = torch.load(checkpoint)
    before = build(**start["config"]).eval()
    before.load_state_dict(start["model"])
    after = build(**{**start["config"], **part}).eval()
    after.load_state_dict(start["model"], strict=False)
    with torch.no_grad():
        torch.testing.assert_close(after(mag), before(mag))


class StreamingEqualsWholeSequence(unittest.TestCase):
    def check(self, family, dtype, tolerance):
        torch.manual_seed(0)
        model = build(family, hidden=32, layers=2).to(dtype).eval()
        mag = torch.rand(2, 300, 257, dtype=dtype) * 4  # longer than the CNN's receptive field
        with torch.no_grad():
            whole = model(mag)
            steps = stream(model, mag)
        diff = (whole - steps).abs().max().item()
        self.assertLessEqual(diff, tolerance, f"{family}: {diff}")

    def test_float64_exact(self):
        for family in FAMILIES:
            self.check(family, torch.float64, 1e-6)

    def test_float32_as_shipped(self):
        for family in FAMILIES:
            self.check(family, torch.float32, 1e-5 if family == "cnn" else 1e-6)

    def test_level_normalised_models_stream_like_their_whole_sequence(self):
        for family in FAMILIES:
            for noise_floor, local_snr, refiner in ((False, False, 0), (True, False, 0), (True, True, 0), (False, False, 4),
                                                    (True, True, 4)):
                torch.manual_seed(0)
                model = build(family, hidden=32, layers=2, level_norm=True, noise_floor=noise_floor,
                              local_snr=local_snr, refiner=refiner).double().eval()
                with torch.no_grad():  # the added parts start at zero, where they would do nothing to check
                    if local_snr:
                        model.snr_slope.weight.normal_(0, 0.1)
                        model.snr_slope.bias.normal_(0, 0.5)
                    if refiner:
                        model.refiner[2].weight.normal_(0, 0.5)
                mag = torch.rand(2, 300, 257, dtype=torch.float64) * 4
                with torch.no_grad():
                    diff = (model(mag) - stream(model, mag)).abs().max().item()
                self.assertLessEqual(diff, 1e-9, f"{family}, noise floor {noise_floor}, local SNR {local_snr}, refiner {refiner}")

    def test_models_in_bands_stream_like_their_whole_sequence(self):
        for family in ("gru", "lstm", "rnn"):
            torch.manual_seed(0)
            model = build(family, hidden=32, layers=2, level_norm=True, voicing=True, bands=True).double().eval()
            mag = torch.rand(2, 300, 257, dtype=torch.float64) * 4
            with torch.no_grad():
                diff = (model(mag) - stream(model, mag)).abs().max().item()
            self.assertLessEqual(diff, 1e-9, family)

    def test_the_local_snr_opens_a_bin_as_it_rises_over_its_floor(self):
        # A slope of one on each bin's log power over its noise floor and a fixed threshold, the
        # rest of the logits zero: in steady noise the masks sit near a half; a noise 20 dB louder
        # in a few bins opens those bins at once and leaves the others as they were
        from quell.config import HOP_SIZE, SAMPLE_RATE
        per_second = SAMPLE_RATE // HOP_SIZE
        model = build("gru", hidden=8, layers=1, level_norm=True, noise_floor=True, local_snr=True).double().eval()
        with torch.no_grad():
            model.decoder.weight.zero_()
            model.decoder.bias.fill_(-3.0)
            model.snr_slope.bias.fill_(1.0)
        rng = np.random.default_rng(1)
        mag = torch.from_numpy(np.abs(rng.standard_normal((1, 2 * per_second, 257)) +
                                      1j * rng.standard_normal((1, 2 * per_second, 257))))
        mag[:, per_second:, 60:64] *= 10
        with torch.no_grad():
            mask = model(mag)[0]
        before = float(mask[per_second - 20:per_second].median())
        louder, rest = mask[per_second:per_second + 10, 60:64], mask[per_second:per_second + 10, 100:200]
        self.assertLess(abs(before - 0.5), 0.15)
        self.assertGreater(float(louder.median()), 0.95)
        self.assertLess(abs(float(rest.median()) - before), 0.05)

    def test_level_normalised_features_ignore_the_input_level(self):
        # A quiet voice and a loud one must look alike to the model: −45 dBFS vs −6 dBFS.
        for noise_floor in (False, True):
            model = build("gru", hidden=16, layers=1, level_norm=True, noise_floor=noise_floor).double().eval()
            mag = torch.rand(1, 200, 257, dtype=torch.float64) + 0.1
            with torch.no_grad():
                quiet = model(mag * 10 ** (-45 / 20))
                loud = model(mag * 10 ** (-6 / 20))
            # only the log floor (1e-10 in power) tells them apart
            self.assertLessEqual((quiet - loud).abs().max().item(), 1e-4, f"noise floor {noise_floor}")

    def test_the_noise_floor_stays_under_a_voice_and_comes_back_in_a_pause(self):
        # Two seconds of steady noise, a second of a tone 30 dB above it in a few bins, then the
        # noise again: the floor rises at most 6 dB in that second and is back within 3 dB of where
        # it was a tenth of a second after the tone stops; the running mean, by contrast, climbs.
        from quell.config import HOP_SIZE, SAMPLE_RATE
        from quell.model import Features
        per_second = SAMPLE_RATE // HOP_SIZE
        rng = np.random.default_rng(0)
        noise = np.abs(rng.standard_normal((1, 4 * per_second, 257)) + 1j * rng.standard_normal((1, 4 * per_second, 257)))
        mag = torch.from_numpy(noise)
        tone = slice(2 * per_second, 3 * per_second)
        mag[:, tone, 40:44] *= 10 ** (30 / 20)
        features = Features(level_norm=True, noise_floor=True).double()
        views, _ = features.raw(mag)
        log_power = torch.log(mag * mag + 1e-10)
        floor = (log_power - views[..., 2 * 257:])[0, :, 40:44].mean(-1) / math.log(10) * 10  # dB
        mean = (log_power - views[..., 257:2 * 257])[0, :, 40:44].mean(-1) / math.log(10) * 10
        before = float(floor[2 * per_second - 1])
        self.assertLessEqual(float(floor[tone].max()) - before, 6.0 + 1e-6)
        self.assertGreater(float(mean[tone].max()) - float(mean[2 * per_second - 1]), 15.0)
        self.assertLessEqual(abs(float(floor[3 * per_second + per_second // 10]) - before), 3.0)

    def test_training_carries_state_like_the_stream(self):
        # Training with --carry runs clip after clip from the states the last one left: two
        # halves through run() are the whole sequence, and a reset row is a fresh start.
        sys.path.insert(0, os.path.dirname(HERE))
        from train import carried_states, streams_kept

        for family in ["gru", "lstm", "rnn"]:
            torch.manual_seed(0)
            model = build(family, hidden=16, layers=2, level_norm=True).double().eval()
            mag = torch.rand(3, 120, 257, dtype=torch.float64) * 4
            with torch.no_grad():
                whole = model(mag)
                first, after = model.run(mag[:, :50], model.zero_states(3))
                second, _ = model.run(mag[:, 50:], [s.double() for s in after])
                self.assertLessEqual((torch.cat([first, second], 1) - whole).abs().max().item(), 1e-9, family)
                rng = np.random.default_rng(0)
                states = carried_states(model, after, streams_kept(3, 0.5, rng))
                reset = [i for i in range(3) if float(states[-1][i, 0]) == 0]  # level_count 0: afresh
                again, _ = model.run(mag[:, 50:], states)
                fresh = model(mag[:, 50:])
                for i in range(3):
                    same = (again[i] - (fresh[i] if i in reset else second[i])).abs().max().item()
                    self.assertLessEqual(same, 1e-9, f"{family} row {i}")

    def test_masks_are_gains_in_0_1(self):
        for family in FAMILIES:
            model = build(family, hidden=16, layers=1).eval()
            with torch.no_grad():
                mask = model(torch.rand(1, 20, 257) * 100)
            self.assertTrue(bool(((mask >= 0) & (mask <= 1)).all()))


class RecipeRuns(unittest.TestCase):
    def test_tiny_training_run_and_export(self):
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, os.path.join(root, "training/train.py"), "--synthetic", "--steps", "4",
                            "--batch", "2", "--seconds", "1", "--hidden", "16", "--carry", "--out", tmp], check=True,
                           capture_output=True)
            self.assertTrue(os.path.exists(os.path.join(tmp, "best.pt")))
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(tmp, "best.pt"), "--out", out], check=True, capture_output=True)
            onnx.checker.check_model(onnx.load(out + ".onnx"))
            card = json.load(open(out + ".json"))
            self.assertEqual(card["fftSize"], 512)
            # one tensor in (the magnitudes, then the state), one out (the mask, then the next state)
            values = [1, 257 + 2 * 16 + 258]
            self.assertEqual((card["input"], card["output"]), ({"name": "magnitudes_and_state", "shape": values},
                                                               {"name": "mask_and_state", "shape": values}))
            graph = onnx.load(out + ".onnx").graph
            for ends, io in ((graph.input, card["input"]), (graph.output, card["output"])):
                self.assertEqual([(e.name, [d.dim_value for d in e.type.tensor_type.shape.dim]) for e in ends],
                                 [(io["name"], io["shape"])])
            self.assertEqual(card["window"], "low-delay")
            self.assertEqual(card["stateLayout"], [{"name": "h0", "values": 16}, {"name": "h1", "values": 16},
                                                   {"name": "level_mean", "values": 257}, {"name": "level_count", "values": 1}])
            golden = np.fromfile(out + ".golden.bin", "<f4")
            self.assertEqual(golden.size, 2 * 257 * card["golden"]["frames"])

    def test_export_builds_in_the_gain_that_keeps_a_clean_voice_at_its_level(self):
        # --mask-gain auto measures the level at which the model hands on speech alone and builds
        # in the gain that undoes it: the masks are the model's times that gain, at most one
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, os.path.join(root, "training/train.py"), "--synthetic", "--steps", "4",
                            "--batch", "2", "--seconds", "1", "--hidden", "16", "--out", tmp], check=True,
                           capture_output=True)
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(tmp, "best.pt"), "--out", out, "--mask-gain", "auto", "--synthetic"],
                           check=True, capture_output=True)
            card = json.load(open(out + ".json"))
            gain, levels = card["maskGain"]["value"], card["maskGain"]["cleanSpeechLevelDb"]
            self.assertGreaterEqual(gain, 1.0)
            self.assertLessEqual(abs(levels["with"]), abs(levels["without"]) + 1e-6, levels)
            shipped = torch.load(out + ".pt")
            self.assertEqual(shipped["config"]["mask_gain"], gain)
            gained, plain = build(**shipped["config"]).eval(), build(**{**shipped["config"], "mask_gain": 1.0}).eval()
            gained.load_state_dict(shipped["model"])
            plain.load_state_dict(shipped["model"])
            mag = torch.rand(1, 50, 257) * 4
            with torch.no_grad():
                torch.testing.assert_close(gained(mag), (plain(mag) * gain).clamp(max=1.0))
            # the graph carries it: the golden masks are the gained model's
            golden = np.fromfile(out + ".golden.bin", "<f4").reshape(2, -1, 257)
            with torch.no_grad():
                expected = gained(torch.from_numpy(golden[0].copy())[None].double().float())[0].numpy()
            np.testing.assert_allclose(golden[1], expected, atol=1e-4)
            nodes = [n.op_type for n in onnx.load(out + ".onnx").graph.node]
            self.assertEqual(nodes[-4:], ["Sigmoid", "Mul", "Min", "Concat"])  # the Concat packs mask and state
            refused = subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                                      os.path.join(tmp, "best.pt"), "--out", out, "--mask-gain", "0.5"],
                                     capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--mask-gain 0.5", refused.stderr)

    def test_the_mean_of_two_runs_is_their_weights_averaged_and_exports_naming_them(self):
        # training/average.py: two runs of one model, averaged, validated and exported; a model of
        # another size is refused by name
        root = os.path.dirname(os.path.dirname(HERE))
        train = TINY_TRAINING
        with tempfile.TemporaryDirectory() as tmp:
            a, b, wide = (os.path.join(tmp, n) for n in ("a", "b", "wide"))
            subprocess.run(train + ["--steps", "2", "--out", a], check=True, capture_output=True)
            subprocess.run(train + ["--steps", "3", "--lr", "3e-3", "--out", b], check=True, capture_output=True)
            mean = os.path.join(tmp, "mean.pt")
            run = subprocess.run([sys.executable, os.path.join(root, "training/average.py"), "--synthetic", "--out", mean,
                                  os.path.join(a, "last.pt"), os.path.join(b, "last.pt") + ":ema"],
                                 check=True, capture_output=True, text=True)
            self.assertIn("mean of 2 models: validation", run.stdout)
            ck = torch.load(mean, map_location="cpu")
            wa = torch.load(os.path.join(a, "last.pt"), map_location="cpu")["model"]
            wb = torch.load(os.path.join(b, "last.pt"), map_location="cpu")["ema"]
            for k in ("rnn.weight_hh_l1", "decoder.weight"):
                self.assertTrue(torch.allclose(ck["model"][k], (wa[k] + wb[k]) / 2))
            self.assertFalse(torch.equal(wa["decoder.weight"], wb["decoder.weight"]))
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint", mean, "--out", out],
                           check=True, capture_output=True)
            training = json.load(open(out + ".json"))["training"]
            self.assertTrue(training["weights"].startswith("mean of "))
            self.assertEqual([s["weights"] for s in training["sources"]], ["raw", "moving average"])
            self.assertEqual(training["log"], ["training/checkpoints/a/history.json", "training/checkpoints/b/history.json"])
            self.assertIn("validation_delta_si_sdr_db", training)
            subprocess.run(train + ["--steps", "1", "--hidden", "12", "--out", wide], check=True, capture_output=True)
            refused = subprocess.run([sys.executable, os.path.join(root, "training/average.py"), "--synthetic", "--out", mean,
                                      os.path.join(a, "last.pt"), os.path.join(wide, "last.pt")], capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn(f"{os.path.join(wide, 'last.pt')}: ", refused.stderr)
            self.assertIn("is not the model of", refused.stderr)

    def test_a_cnn_run_resumes_without_its_arch_and_refuses_carried_state_by_name(self):
        # a resumed run is the family its checkpoint holds: `--out DIR --minutes M` alone goes on
        train = TINY_TRAINING
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(train + ["--arch", "cnn", "--steps", "2", "--out", tmp], check=True, capture_output=True)
            subprocess.run(train + ["--steps", "3", "--out", tmp], check=True, capture_output=True)
            resumed = torch.load(os.path.join(tmp, "last.pt"), map_location="cpu")
            self.assertEqual((resumed["config"]["arch"], resumed["state"]["step"]), ("cnn", 3))
            refused = subprocess.run(train + ["--steps", "4", "--carry", "--out", tmp], capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--carry needs a recurrent family", refused.stderr)

    def test_training_from_mixing_workers(self):
        # --workers: batches mixed in other processes (a GPU outpaces one mixing core)
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, os.path.join(root, "training/train.py"), "--synthetic", "--steps", "3",
                            "--batch", "2", "--seconds", "1", "--hidden", "16", "--workers", "1", "--out", tmp],
                           check=True, capture_output=True)
            summary = json.load(open(os.path.join(tmp, "summary.json")))
            self.assertEqual(summary["steps"], 3)
            self.assertTrue(os.path.exists(os.path.join(tmp, "best.pt")))

    def test_a_one_layer_model_from_a_two_layer_teacher(self):
        # --shrink-from starts a model with fewer layers from a trained one's encoder and first
        # layer; --teacher also teaches it the bigger model's output, carried stream by stream
        train = TINY_TRAINING
        with tempfile.TemporaryDirectory() as tmp:
            big, small = os.path.join(tmp, "big"), os.path.join(tmp, "small")
            subprocess.run(train + ["--steps", "2", "--out", big], check=True, capture_output=True)
            teacher = os.path.join(big, "best.pt")
            run = subprocess.run(train + ["--steps", "3", "--layers", "1", "--shrink-from", teacher, "--teacher", teacher,
                                          "--distill-weight", "0.5", "--out", small], check=True, capture_output=True, text=True)
            self.assertIn("taught also to match", run.stdout)
            ck = torch.load(os.path.join(small, "last.pt"), map_location="cpu")
            self.assertEqual(ck["config"]["layers"], 1)
            old = torch.load(teacher, map_location="cpu")["model"]
            self.assertIn("rnn.weight_hh_l1", old)
            self.assertNotIn("rnn.weight_hh_l1", ck["model"])
            summary = json.load(open(os.path.join(small, "summary.json")))
            self.assertEqual((summary["teacher"], summary["distill_weight"]), (teacher, 0.5))
            self.assertEqual(summary["steps"], 3)
            narrow = os.path.join(tmp, "narrow")
            subprocess.run(train + ["--steps", "2", "--hidden", "12", "--shrink-from", teacher, "--out", narrow],
                           check=True, capture_output=True)
            ck = torch.load(os.path.join(narrow, "last.pt"), map_location="cpu")
            self.assertEqual((ck["config"]["layers"], ck["config"]["hidden"]), (2, 12))
            self.assertEqual(tuple(ck["model"]["rnn.weight_hh_l1"].shape), (36, 12))
            wider = subprocess.run(train + ["--steps", "1", "--hidden", "32", "--shrink-from", teacher, "--out",
                                            os.path.join(tmp, "wider")], capture_output=True, text=True)
            self.assertNotEqual(wider.returncode, 0)
            self.assertIn(f"--shrink-from {teacher}: 2×16, smaller than --layers 2 --hidden 32", wider.stderr)
            # --grow-from goes the other way: wider, same depth; narrower is refused by name
            grown = os.path.join(tmp, "grown")
            run = subprocess.run(train + ["--steps", "1", "--hidden", "24", "--grow-from", teacher, "--out", grown],
                                 check=True, capture_output=True, text=True)
            self.assertIn(f"2×24 grown from {teacher}", run.stdout)
            self.assertEqual(tuple(torch.load(os.path.join(grown, "last.pt"), map_location="cpu")["model"]["rnn.weight_hh_l1"].shape),
                             (72, 24))
            shrunk = subprocess.run(train + ["--steps", "1", "--hidden", "12", "--grow-from", teacher, "--out",
                                             os.path.join(tmp, "shrunk")], capture_output=True, text=True)
            self.assertNotEqual(shrunk.returncode, 0)
            self.assertIn(f"--grow-from {teacher}: 2×16; --layers must be the same and --hidden wider", shrunk.stderr)
            # --low-snr-teacher: a second teacher for loud noise; the run records it, and without
            # --teacher (what it would take over from) it is refused by name
            blended = os.path.join(tmp, "blended")
            run = subprocess.run(train + ["--steps", "2", "--init", teacher, "--teacher", teacher, "--low-snr-teacher",
                                          teacher, "--out", blended],
                                 check=True, capture_output=True, text=True)
            self.assertIn("taught at low SNR by", run.stdout)
            self.assertEqual(json.load(open(os.path.join(blended, "summary.json")))["low_snr_teacher"], teacher)
            alone = subprocess.run(train + ["--steps", "1", "--low-snr-teacher", teacher, "--out", os.path.join(tmp, "alone")],
                                   capture_output=True, text=True)
            self.assertNotEqual(alone.returncode, 0)
            self.assertIn("--low-snr-teacher needs --teacher", alone.stderr)

    def test_a_noise_floor_local_snr_or_refiner_added_to_a_trained_model_starts_from_its_masks(self):
        # --init OLD --noise-floor: the old model's weights, the new view's encoder columns at zero,
        # so before any step the masks are the old model's; the run trains on and exports a graph
        # that carries the floor as one more part of its state
        from train import init_with_new_views
        root = os.path.dirname(os.path.dirname(HERE))
        train = TINY_TRAINING
        with tempfile.TemporaryDirectory() as tmp:
            plain, floored = os.path.join(tmp, "plain"), os.path.join(tmp, "floored")
            subprocess.run(train + ["--steps", "2", "--out", plain], check=True, capture_output=True)
            old = torch.load(os.path.join(plain, "best.pt"), map_location="cpu")
            before = build(**old["config"]).eval()
            before.load_state_dict(old["model"])
            after = build(**{**old["config"], "noise_floor": True}).eval()
            init_with_new_views(after, old["model"], (torch.randn(3 * 257), torch.rand(3 * 257) + 0.5))
            mag = torch.rand(1, 100, 257) * 4
            with torch.no_grad():
                torch.testing.assert_close(after(mag), before(mag))
            run = subprocess.run(train + ["--steps", "2", "--init", os.path.join(plain, "best.pt"), "--noise-floor",
                                          "--out", floored], check=True, capture_output=True, text=True)
            self.assertIn("added: the noise floor", run.stdout)
            self.assertTrue(torch.load(os.path.join(floored, "last.pt"))["config"]["noise_floor"])
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(floored, "best.pt"), "--out", out], check=True, capture_output=True)
            card = json.load(open(out + ".json"))
            self.assertEqual(card["stateLayout"][-1], {"name": "noise_floor", "values": 257})
            self.assertEqual(card["input"]["shape"], [1, 257 + 2 * 16 + 258 + 257])
            legacy = subprocess.run(train + ["--steps", "1", "--legacy", "--noise-floor", "--out", os.path.join(tmp, "legacy")],
                                    capture_output=True, text=True)
            self.assertNotEqual(legacy.returncode, 0)
            self.assertIn("--noise-floor needs the level-normalised features", legacy.stderr)

            # --init FLOORED --local-snr: the slopes start at zero, so the masks are FLOORED's; they
            # learn at a higher rate than the rest; the export carries them; without a floor, refused
            local = os.path.join(tmp, "local")
            run = subprocess.run(train + ["--steps", "2", "--init", os.path.join(floored, "last.pt"), "--local-snr",
                                          "--out", local], check=True, capture_output=True, text=True)
            self.assertIn("added: the local SNR", run.stdout)
            assert_part_keeps_the_masks(os.path.join(floored, "last.pt"), {"local_snr": True}, mag)
            ck = torch.load(os.path.join(local, "last.pt"))
            self.assertTrue(ck["config"]["local_snr"])
            self.assertEqual([g.get("rate_scale", 1.0) for g in ck["opt"]["param_groups"]], [1.0, 10.0])
            self.assertGreater(float(ck["model"]["snr_slope.bias"].abs().max()), 0.0)  # it trained
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(local, "last.pt"), "--out", out], check=True, capture_output=True)
            nodes = [n.op_type for n in onnx.load(out + ".onnx").graph.node]
            self.assertEqual(nodes[-6:], ["Gemm", "Sub", "Mul", "Add", "Sigmoid", "Concat"])
            bare = subprocess.run(train + ["--steps", "1", "--local-snr", "--out", os.path.join(tmp, "bare")],
                                  capture_output=True, text=True)
            self.assertNotEqual(bare.returncode, 0)
            self.assertIn("--local-snr reads each bin's log power over its noise floor", bare.stderr)

            # --init PLAIN --refiner 4: the same, for the per-bin network after the decoder
            refined = os.path.join(tmp, "refined")
            run = subprocess.run(train + ["--steps", "2", "--init", os.path.join(plain, "best.pt"), "--refiner", "4",
                                          "--out", refined], check=True, capture_output=True, text=True)
            self.assertIn("added: the refiner", run.stdout)
            assert_part_keeps_the_masks(os.path.join(plain, "best.pt"), {"refiner": 4}, mag)
            ck = torch.load(os.path.join(refined, "last.pt"))
            self.assertEqual(ck["config"]["refiner"], 4)
            self.assertGreater(float(ck["model"]["refiner.2.weight"].abs().max()), 0.0)  # it trained
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(refined, "last.pt"), "--out", out], check=True, capture_output=True)
            nodes = [n.op_type for n in onnx.load(out + ".onnx").graph.node]
            self.assertEqual(nodes[-8:], ["Sub", "Concat", "Gemm", "PRelu", "Gemm", "Add", "Sigmoid", "Concat"])
            for bad in (["--refiner", "0"], ["--refiner", "4", "--legacy"]):
                refused = subprocess.run(train + ["--steps", "1", *bad, "--out", os.path.join(tmp, "bad")],
                                         capture_output=True, text=True)
                self.assertNotEqual(refused.returncode, 0)
                self.assertIn(f"--refiner {bad[1]}: a number of channels of at least 1", refused.stderr)

    def test_a_skip_added_to_a_trained_model_starts_from_its_masks_and_exports_as_one_concat(self):
        # --init OLD --skip: the decoder's second map, from the encoder's output, starts at zero, so
        # the masks are OLD's; it learns at the added parts' rate; the graph gains one Concat before
        # the decoder's Gemm (the fixture quell-fixture-parts holds it to PyTorch in TypeScript)
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            plain, skipped, stdout = plain_then_fine_tuned(tmp, "--skip")
            self.assertIn("added: the skip around the recurrent layers", stdout)
            assert_part_keeps_the_masks(os.path.join(plain, "best.pt"), {"skip": True}, torch.rand(1, 100, 257) * 4)
            ck = torch.load(os.path.join(skipped, "last.pt"))
            self.assertTrue(ck["config"]["skip"])
            self.assertEqual([g.get("rate_scale", 1.0) for g in ck["opt"]["param_groups"]], [1.0, 10.0])
            self.assertGreater(float(ck["model"]["skip.weight"].abs().max()), 0.0)  # it trained
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(skipped, "last.pt"), "--out", out], check=True, capture_output=True)
            nodes = [n.op_type for n in onnx.load(out + ".onnx").graph.node]
            self.assertEqual(nodes[-4:], ["Concat", "Gemm", "Sigmoid", "Concat"])
            self.assertIn("skip", json.load(open(out + ".json"))["description"])
            refused = subprocess.run(TINY_TRAINING + ["--steps", "1", "--skip", "--arch", "cnn", "--out", os.path.join(tmp, "bad")],
                                     capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--skip: the cnn family has no recurrent layers to go around", refused.stderr)

    def test_dropout_acts_while_training_only_and_a_resumed_run_keeps_it(self):
        # eval() turns it off, so validation, export and the step graph see the trained weights alone
        model = build("gru", hidden=16, layers=2, level_norm=True, voicing=True)
        mag = torch.rand(1, 50, 257) * 4
        with torch.no_grad():
            plain = model.eval()(mag)
            model.set_dropout(0.25)
            torch.testing.assert_close(model(mag), plain)
            model.train()
            self.assertFalse(torch.allclose(model(mag), plain))
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            for recipe in run_and_resume(out, "--dropout", "0.25"):
                self.assertIn("dropout 0.25,", recipe)
            self.assertEqual(json.load(open(os.path.join(out, "summary.json")))["dropout"], 0.25)
            refused = subprocess.run(TINY_TRAINING + ["--steps", "1", "--dropout", "0.2", "--arch", "cnn", "--out",
                                                      os.path.join(tmp, "cnn")], capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("--dropout: the cnn family has no recurrent layers to drop units of", refused.stderr)

    def test_the_voicing_view_tells_a_voiced_frame_from_noise_at_any_level_from_the_first_frame(self):
        from quell.model import VOICING_RANGES, voicing
        rng = np.random.default_rng(3)
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        vowel = sum(np.sin(2 * np.pi * 140 * k * t + rng.uniform(0, 6)) / k for k in range(1, 28))
        noise = rng.standard_normal(SAMPLE_RATE)

        def view(x):
            _, mag = reference.magnitudes(x.astype(np.float32))
            return voicing(torch.log(torch.from_numpy(mag.astype(np.float64)) ** 2 + 1e-10))

        loud, quiet, hiss = view(vowel), view(vowel * 0.01), view(noise)
        self.assertEqual(loud.shape[-1], VOICING_RANGES)
        torch.testing.assert_close(loud[5:-5], quiet[5:-5], atol=1e-3, rtol=0)  # level-independent
        # the vowel's period (114 samples) stands out in its range in every frame; the noise has no such peak
        self.assertGreater(float(loud[5:-5].amax(-1).min()), 2 * float(hiss[5:-5].amax(-1).max()))

    def test_a_voicing_view_added_to_a_trained_model_starts_from_its_masks_and_exports(self):
        # --init OLD --voicing: the old masks before any step; the graph computes the view itself
        # (the fixture quell-fixture-parts holds it to PyTorch in the TypeScript parity tests)
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            plain, voiced = os.path.join(tmp, "plain"), os.path.join(tmp, "voiced")
            subprocess.run(TINY_TRAINING + ["--steps", "2", "--out", plain], check=True, capture_output=True)
            run = subprocess.run(TINY_TRAINING + ["--steps", "2", "--init", os.path.join(plain, "best.pt"), "--voicing",
                                                  "--out", voiced], check=True, capture_output=True, text=True)
            self.assertIn("added: the voicing view", run.stdout)
            ck = torch.load(os.path.join(voiced, "last.pt"))
            self.assertTrue(ck["config"]["voicing"])
            self.assertGreater(float(ck["model"]["encoder.0.weight"][:, -8:].abs().max()), 0.0)  # it trained
            from train import init_with_new_views
            old = torch.load(os.path.join(plain, "best.pt"), map_location="cpu")
            before = build(**old["config"]).eval()
            before.load_state_dict(old["model"])
            after = build(**{**old["config"], "voicing": True}).eval()
            n = old["model"]["features.mean"].numel()
            init_with_new_views(after, old["model"], (torch.randn(n + 8), torch.rand(n + 8) + 0.5))
            mag = torch.rand(1, 100, 257) * 4
            with torch.no_grad():
                torch.testing.assert_close(after(mag), before(mag))
            out = os.path.join(tmp, "model")
            subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint",
                            os.path.join(voiced, "last.pt"), "--out", out], check=True, capture_output=True)
            nodes = [n.op_type for n in onnx.load(out + ".onnx").graph.node]
            self.assertIn("ReduceMax", nodes)
            self.assertIn("voicing", json.load(open(out + ".json"))["description"])
            for bad, message in ((["--voicing", "--legacy"], "--voicing is read beside the level-normalised features"),
                                 (["--voicing", "--arch", "cnn"], "--voicing: the cnn family's graph does not have it"),
                                 (["--noise-floor", "--init", os.path.join(voiced, "last.pt")],
                                  "that model reads the voicing view already; start from one without it")):
                refused = subprocess.run(TINY_TRAINING + ["--steps", "1", *bad, "--out", os.path.join(tmp, "bad")],
                                         capture_output=True, text=True)
                self.assertNotEqual(refused.returncode, 0)
                self.assertIn(message, refused.stderr)

    def test_bands_taken_up_by_a_trained_model_start_near_its_masks_and_cost_the_graph_nothing(self):
        # --init OLD --bands: OLD's weights summed into the bands (train.py init_with_bands); the
        # exported graph has the same nodes as OLD's, the band maps folded into its weights (the
        # fixture quell-fixture-bands holds the fold to PyTorch in the TypeScript parity tests)
        from quell.model import BAND_SPLIT
        from train import feature_stats, init_with_bands
        from quell.data import Mixer
        from quell.synthetic import synthetic_split
        from quell.stft import stft
        root = os.path.dirname(os.path.dirname(HERE))
        with tempfile.TemporaryDirectory() as tmp:
            plain, banded, stdout = plain_then_fine_tuned(tmp, "--bands")
            self.assertIn("its views and masks in bands", stdout)
            self.assertTrue(torch.load(os.path.join(banded, "last.pt"))["config"]["bands"])
            old = torch.load(os.path.join(plain, "best.pt"), map_location="cpu")
            before = build(**old["config"]).eval()
            before.load_state_dict(old["model"])
            after = build(**{**old["config"], "bands": True}).eval()
            mixer = Mixer(*synthetic_split(np.random.default_rng(0), 10, 3), seed=1)
            framing = framing_of(old["config"])
            init_with_bands(after, old["model"], feature_stats(after, mixer, 4, 16000, framing))
            noisy, _ = mixer.batch(4, 16000)
            mag = stft(torch.from_numpy(noisy), framing).abs()
            with torch.no_grad():
                gap = (after(mag) - before(mag)).abs()
                # what a model reads and masks as before, the bands change little; the low bins,
                # their own bands, least
                self.assertLess(float(gap.mean()), 0.02)
                self.assertLess(float(gap[..., :BAND_SPLIT].mean()), float(gap[..., BAND_SPLIT:].mean()))
            graphs = []
            for ck in (os.path.join(plain, "last.pt"), os.path.join(banded, "last.pt")):
                out = os.path.join(tmp, os.path.basename(os.path.dirname(ck)))
                subprocess.run([sys.executable, os.path.join(root, "training/export.py"), "--checkpoint", ck, "--out", out],
                               check=True, capture_output=True)
                graphs.append([n.op_type for n in onnx.load(out + ".onnx").graph.node])
            self.assertEqual(graphs[0], graphs[1])
            self.assertIn("bands above 2 kHz", json.load(open(out + ".json"))["description"])
            for bad, message in ((["--bands", "--legacy"], "--bands: the recurrent families' level-normalised graph has them"),
                                 (["--bands", "--arch", "cnn"], "--bands: the recurrent families' level-normalised graph has them"),
                                 (["--bands", "--refiner", "4", "--init", os.path.join(plain, "best.pt")],
                                  "add the bands alone, then the rest from that run")):
                refused = subprocess.run(TINY_TRAINING + ["--steps", "1", *bad, "--out", os.path.join(tmp, "bad")],
                                         capture_output=True, text=True)
                self.assertNotEqual(refused.returncode, 0)
                self.assertIn(message, refused.stderr)

    def test_the_speech_loss_term_counts_speech_taken_away_and_nothing_else(self):
        # --speech-weight: a mask that takes speech away costs more with it; passing a clean voice
        # whole, or removing noise alone, costs nothing more
        voice, noise = voice_and_noise(3)

        def extra(gain, noisy, clean):
            return extra_loss({"speech_weight": 1.0}, gain, noisy, clean)

        self.assertAlmostEqual(extra(1.0, voice, voice), 0.0, places=6)
        self.assertAlmostEqual(extra(0.1, noise, torch.zeros_like(noise)), 0.0, places=6)
        self.assertGreater(extra(0.3, voice + noise, voice), 10 * max(extra(1.0, voice + noise, voice), 1e-4))

    def test_the_level_term_is_the_voices_change_of_level_squared(self):
        # --level-weight: a mask that halves a clean voice costs (20·log10 0.5)² more with it; one
        # that passes it whole costs nothing more; noise alone (no voice to keep) and a voice in
        # loud noise (where keeping it quieter is the price of less noise) never fire it
        voice, noise = voice_and_noise(4)

        def extra(gain, noisy, clean):
            return extra_loss({"level_weight": 0.5}, gain, noisy, clean)

        self.assertAlmostEqual(extra(1.0, voice, voice), 0.0, places=4)
        self.assertAlmostEqual(extra(0.5, voice, voice), 0.5 * (20 * np.log10(0.5)) ** 2, delta=0.05)
        self.assertAlmostEqual(extra(0.1, noise, torch.zeros_like(noise)), 0.0, places=6)
        loud = noise * float(voice.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt())  # 0 dB SNR
        self.assertAlmostEqual(extra(0.5, voice + loud, voice), 0.0, places=6)
        self.assertGreater(extra(0.5, voice + loud * 0.1, voice), 10)  # 20 dB SNR: it fires

    def test_two_teachers_blend_by_each_items_snr(self):
        # --low-snr-teacher: noise alone and loud noise take the low-SNR teacher's output, a clean
        # voice and a clear one the teacher's, and halfway between (7.5 dB) half of each
        from train import teacher_blend

        voice, noise = voice_and_noise(5)
        noise = noise * float(voice.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt())  # 0 dB SNR
        items = [(noise, torch.zeros_like(noise)), (voice + noise * 10 ** (5 / 20), voice),
                 (voice + noise * 10 ** (-7.5 / 20), voice), (voice + noise * 0.1, voice), (voice, voice)]
        noisy, clean = torch.cat([n for n, _ in items]), torch.cat([c for _, c in items])
        teacher, low = torch.zeros(5, 3, 4), torch.ones(5, 3, 4)
        share = teacher_blend(teacher, low, noisy, clean)[:, 0, 0].tolist()
        for got, want in zip(share, [1.0, 1.0, 0.5, 0.0, 0.0]):
            self.assertAlmostEqual(got, want, places=3)

    def test_shrinking_to_the_same_size_is_the_same_model_and_what_is_dropped_is_folded(self):
        # shrink_from slices every gate's rows and every reader's columns alike: at the old size
        # nothing changes; a unit dropped leaves its mean output behind in its readers' biases
        sys.path.insert(0, os.path.dirname(HERE))
        from train import shrink_from

        torch.manual_seed(0)
        big = build("gru", hidden=16, layers=2, level_norm=True).eval()
        mag = torch.rand(4, 80, 257) ** 3 * 3
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "big.pt")
            torch.save({"model": big.state_dict(), "config": {"arch": "gru", "hidden": 16, "layers": 2, "level_norm": True}}, path)
            same = build("gru", hidden=16, layers=2, level_norm=True).eval()
            shrink_from(same, path, mag)
            narrow, blind = (build("gru", hidden=12, layers=2, level_norm=True).eval() for _ in range(2))
            shrink_from(narrow, path, mag)
            shrink_from(blind, path)  # by the weights alone, nothing folded
        with torch.no_grad():
            reference = big(mag)
            self.assertLessEqual((same(mag) - reference).abs().max().item(), 1e-6)
            self.assertLess((narrow(mag) - reference).abs().mean().item(), 0.7 * (blind(mag) - reference).abs().mean().item())

    def test_a_grown_model_computes_what_the_narrower_one_did(self):
        # grow_from keeps every old unit's gate rows and reads no new unit anywhere yet, in every
        # recurrent family and with the views and bands the default has; the new units are live
        sys.path.insert(0, os.path.dirname(HERE))
        from train import grow_from

        torch.manual_seed(0)
        mag = torch.rand(2, 60, 257) ** 3 * 3
        for arch in ("gru", "lstm", "rnn"):
            config = {"arch": arch, "hidden": 12, "layers": 2, "level_norm": True, "voicing": True, "bands": True}
            narrow = build(**config).eval()
            with torch.no_grad():
                for p in narrow.parameters():
                    p.add_(torch.randn_like(p) * 0.1)  # not the fresh initialisation: a trained model's weights differ
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "narrow.pt")
                torch.save({"model": narrow.state_dict(), "config": config}, path)
                wide = build(**{**config, "hidden": 20}).eval()
                grow_from(wide, path)
            with torch.no_grad():
                self.assertLessEqual((wide(mag) - narrow(mag)).abs().max().item(), 1e-6, arch)
                new_rows = wide.rnn.weight_hh_l1.view(-1, 20, 20)[:, 12:, :]
                self.assertGreater(new_rows.abs().min().item() + new_rows.abs().mean().item(), 0, arch)


if __name__ == "__main__":
    unittest.main()


class ShippedModels(unittest.TestCase):
    def test_every_shipped_model_streams_like_its_whole_sequence(self):
        sys.path.insert(0, os.path.dirname(HERE))
        from parity import torch_stage

        models = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models")
        index = json.load(open(os.path.join(models, "index.json")))
        for entry in index["models"]:
            # in float64, so that what is left is a difference between the two paths, not float32
            # rounding, which grows with the weights
            worst = max(torch_stage(os.path.join(models, entry), torch.float64))
            self.assertLessEqual(worst, 1e-9, f"{entry}: {worst}")


class ReferencePipeline(unittest.TestCase):
    def test_digital_silence_is_not_stepped(self):
        """Like the engine: zeros before a signal (whole hops of them) change nothing after them."""
        from quell.config import HOP_SIZE

        torch.manual_seed(0)
        model = build("gru", hidden=32, layers=1, level_norm=True).eval()
        x = np.random.default_rng(1).standard_normal(8000) * 0.05
        lead = 30 * HOP_SIZE
        y = reference.denoise(model, x)
        z = reference.denoise(model, np.concatenate([np.zeros(lead), x]))
        np.testing.assert_allclose(z[lead:], y, atol=1e-12)

    def test_training_skips_digital_silence_like_the_engine(self):
        """What training's enhance() gives after a stretch of zeros (whole hops) is what it gives
        without them, in a batch beside a row without silence, and such a row's state is not carried."""
        from quell.config import HOP_SIZE
        from train import enhance

        torch.manual_seed(0)
        model = build("gru", hidden=32, layers=1, level_norm=True).double().eval()
        x = torch.from_numpy(np.random.default_rng(2).standard_normal((2, 6000)) * 0.05)
        lead = 20 * HOP_SIZE
        batch = torch.cat([torch.zeros(2, lead, dtype=x.dtype), x], 1)
        batch[1] = torch.cat([x[1], x[1, :lead]])  # a row with no silence
        with torch.no_grad():
            alone, _, _ = enhance(model, x[:1], FRAMING)
            both, _, after = enhance(model, batch, FRAMING, model.zero_states(2))
            unmoved, _, _ = enhance(model, batch[1:], FRAMING)
        np.testing.assert_allclose(both[0, lead:].numpy(), alone[0].numpy(), atol=1e-10)
        np.testing.assert_allclose(both[1].numpy(), unmoved[0].numpy(), atol=1e-10)
        self.assertTrue(all(float(s[..., 0, :].abs().max() if s.dim() == 3 else s[0].abs().max()) == 0 for s in after))
        self.assertTrue(all(float(s[..., 1, :].abs().max() if s.dim() == 3 else s[1].abs().max()) > 0 for s in after))

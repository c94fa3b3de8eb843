"""A data pack for a lent GPU (pack_data.py → unpack_data.py) gives back every clip it kept, under
its name, at its length, in its place: a clip shifted or swapped would train on wrong targets."""
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

from quell.synthetic import speech_like
from train import si_sdr

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)


def pack(tmp, splits, *options):
    """pack_data.py run on a prepared cache of `splits` written under tmp; the pack is tmp/pack."""
    os.makedirs(os.path.join(tmp, "cache", "prepared"), exist_ok=True)
    for split, clips in splits.items():
        with open(os.path.join(tmp, "cache", "prepared", f"{split}.pkl"), "wb") as f:
            pickle.dump(clips, f)
    return subprocess.run([sys.executable, os.path.join(TRAINING, "pack_data.py"), "--out", os.path.join(tmp, "pack"),
                           "--no-decoder-debs", *options],
                          capture_output=True, text=True, env=dict(os.environ, QUELL_CACHE=os.path.join(tmp, "cache")))


@unittest.skipUnless(shutil.which("flac"), "needs Debian's flac")
class PackRoundTrip(unittest.TestCase):
    def test_every_clip_comes_back_where_it_was(self):
        rng = np.random.default_rng(5)
        splits = {
            "speech_train": [(f"{source}/clip{i}", speech_like(rng.uniform(0.5, 2), rng))
                             for source in ("game", "prompts") for i in range(4)],
            "babble_train": [("talkers/a", speech_like(1.0, rng))],
            "noise_train": [("hum:mains", np.sin(np.arange(16000) * 2 * np.pi * 50 / 16000).astype(np.float32)),
                            ("keyboard:desk", rng.standard_normal(12000).astype(np.float32) * 0.1)],
            "speech_val": [("prompts/val", speech_like(1.0, rng))],
            "noise_val": [("fan:val", rng.standard_normal(8000).astype(np.float32))],
        }
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(pack(tmp, splits).returncode, 0)
            subprocess.run([sys.executable, os.path.join(TRAINING, "unpack_data.py"), os.path.join(tmp, "pack"),
                            os.path.join(tmp, "out")], check=True, capture_output=True)
            for split, clips in splits.items():
                with open(os.path.join(tmp, "out", "prepared", f"{split}.pkl"), "rb") as f:
                    back = pickle.load(f)
                self.assertEqual([n for n, _ in back], [n for n, _ in clips], split)
                for (name, original), (_, decoded) in zip(clips, back):
                    self.assertEqual(len(decoded), len(original), name)
                    # 12 bits keep about 50 dB; a clip shifted by a few samples, or another clip, is near 0
                    self.assertGreater(float(si_sdr(torch.from_numpy(decoded).double(), torch.from_numpy(original).double())), 40, name)

    def test_parts_of_a_pack_unpack_to_the_whole(self):
        # --part K/N: the data of more than one call's 64 MiB, sent in turn; unpacked together they
        # hold every clip the whole pack holds, each once, each itself
        rng = np.random.default_rng(7)
        splits = {"speech_train": [(f"{source}/clip{i}", speech_like(rng.uniform(0.5, 1.5), rng))
                                   for source in ("a", "b", "c") for i in range(3)],
                  "noise_val": [("fan:val", rng.standard_normal(8000).astype(np.float32))]}
        splits.update({split: [(f"{split}/x", speech_like(1.0, rng))] for split in ("babble_train", "noise_train", "speech_val")})
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(pack(tmp, splits).returncode, 0)
            os.rename(os.path.join(tmp, "pack"), os.path.join(tmp, "whole"))
            parts = []
            for k in (1, 2, 3):
                self.assertEqual(pack(tmp, splits, "--part", f"{k}/3").returncode, 0)
                parts.append(os.path.join(tmp, f"part{k}"))
                os.rename(os.path.join(tmp, "pack"), parts[-1])
            with open(os.path.join(parts[0], "index.json")) as f:
                self.assertEqual(len(json.load(f)["speech_train"]), 3)
            subprocess.run([sys.executable, os.path.join(TRAINING, "unpack_data.py"), *parts, os.path.join(tmp, "joined")],
                           check=True, capture_output=True)
            subprocess.run([sys.executable, os.path.join(TRAINING, "unpack_data.py"), os.path.join(tmp, "whole"),
                            os.path.join(tmp, "one")], check=True, capture_output=True)
            for split, clips in splits.items():
                loaded = {}
                for name in ("joined", "one"):
                    with open(os.path.join(tmp, name, "prepared", f"{split}.pkl"), "rb") as f:
                        loaded[name] = dict(pickle.load(f))
                self.assertEqual(sorted(loaded["joined"]), sorted(n for n, _ in clips), split)
                for name, audio in loaded["one"].items():
                    np.testing.assert_array_equal(loaded["joined"][name], audio)
            result = pack(tmp, splits, "--part", "4/3")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("--part 4/3", result.stderr)

    def test_a_split_can_keep_fewer_minutes_and_a_wrong_cap_is_named(self):
        rng = np.random.default_rng(6)
        splits = {"speech_train": [(f"{source}/clip{i}", speech_like(1.0, rng)) for source in ("a", "b") for i in range(6)]}
        splits.update({split: [(f"{split}/x", speech_like(1.0, rng))] for split in
                       ("babble_train", "noise_train", "speech_val", "noise_val")})
        with tempfile.TemporaryDirectory() as tmp:
            # 2.4 s of each source: three of its six one-second clips
            self.assertEqual(pack(tmp, splits, "--minutes", "speech_train=0.04").returncode, 0)
            with open(os.path.join(tmp, "pack", "index.json")) as f:
                kept = [name for name, _ in json.load(f)["speech_train"]]
            self.assertEqual(sorted(name.split("/")[0] for name in kept), ["a"] * 3 + ["b"] * 3)
            for wrong in ("speech=1", "speech_train=lots"):
                result = pack(tmp, splits, "--minutes", wrong)
                self.assertNotEqual(result.returncode, 0, wrong)
                self.assertIn(f"--minutes {wrong}", result.stderr)


if __name__ == "__main__":
    unittest.main()

"""Pack a subset of the prepared data small enough to carry to a machine that cannot fetch it (a
GPU lent for a few minutes, with nothing but its own image): Opus at 24 kbit/s, ten times smaller
than the float32 cache. Every speech source stays, each capped at --cap minutes of randomly
chosen clips (many short clips keep many talkers); every training noise file stays, since noise
is where unseen data hurts most. The Opus decoder travels along as Debian packages.

    python3 training/pack_data.py [--out .cache/pack] [--cap 10]
    → OUT/{split}.opus, OUT/index.json (each clip's name and length), OUT/debs/*.deb
Needs Debian's opus-tools (opusenc).

training/unpack_data.py turns a pack back into a prepared cache that train.py reads
(QUELL_CACHE). Opus is not waveform-exact (about 16 dB SI-SDR against the original), but the
decoded audio is both the clean target and the speech in the mixture, so the model learns from
a consistent pair.
"""
import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE  # noqa: E402
from quell.data import source_of  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
DECODER_DEBS = ["opus-tools", "libopusfile0", "libopusenc0", "libflac12", "libogg0", "libopus0", "libssl3"]
# split → share of each source kept: training speech and babble capped per source, noise whole
SPLITS = {"speech_train": "cap", "babble_train": 15, "noise_train": None, "speech_val": 8, "noise_val": 6}


def pick(clips, minutes, rng, by_source):
    """Random clips up to `minutes` in all, or per source with by_source."""
    groups = {}
    for i, (name, _) in enumerate(clips):
        groups.setdefault(source_of(name) if by_source else "all", []).append(i)
    keep = []
    for members in groups.values():
        total = 0
        for i in rng.permutation(members):
            if total >= minutes * 60 * SAMPLE_RATE:
                break
            keep.append(int(i))
            total += len(clips[i][1])
    return sorted(keep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(CACHE, "pack"))
    ap.add_argument("--cap", type=float, default=10, help="minutes of training speech kept per source")
    ap.add_argument("--bitrate", type=int, default=24, help="Opus bit rate, kbit/s")
    ap.add_argument("--decoder-debs", action=argparse.BooleanOptionalAction, default=True,
                    help="fetch the decoder's Debian packages into the pack (for a machine without opusdec)")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "debs"), exist_ok=True)
    rng = np.random.default_rng(0)
    index = {}
    for split, minutes in SPLITS.items():
        with open(os.path.join(CACHE, "prepared", f"{split}.pkl"), "rb") as f:
            clips = pickle.load(f)
        if minutes is not None:
            capped = args.cap if minutes == "cap" else minutes
            clips = [clips[i] for i in pick(clips, capped, rng, by_source=minutes == "cap")]
        # peak-normalised: the mixer sets every level itself, and quiet clips would waste the codec
        audio = np.concatenate([a / (np.abs(a).max() + 1e-9) * 0.5 for _, a in clips]).astype(np.float32)
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            sf.write(wav.name, audio, SAMPLE_RATE, subtype="FLOAT")
            subprocess.run(["opusenc", "--quiet", "--bitrate", str(args.bitrate), wav.name,
                            os.path.join(args.out, f"{split}.opus")], check=True)
        index[split] = [[name, len(a)] for name, a in clips]
        size = os.path.getsize(os.path.join(args.out, f"{split}.opus")) / 1e6
        print(f"{split}: {len(clips)} clips, {len(audio) / SAMPLE_RATE / 60:.1f} min, {size:.1f} MB", flush=True)
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f)
    if args.decoder_debs:
        subprocess.run(["apt-get", "download", *DECODER_DEBS], cwd=os.path.join(args.out, "debs"), check=True)


if __name__ == "__main__":
    main()

"""Pack a subset of the prepared data small enough to carry to a machine that cannot fetch it (a
GPU lent for a few minutes, with nothing but its own image, and a 64 MiB limit on what travels):
FLAC of clips quantised to 12 bits (57 dB SNR), a sixth of the float32 cache. Every speech source
stays, each capped at a few minutes of randomly chosen clips (many short clips keep many
talkers); every noise category stays, each capped likewise. The decoder travels along as Debian
packages.

    python3 training/pack_data.py [--out .cache/pack] [--scale 1] [--init ARCH=CHECKPOINT ...]
    → OUT/{split}.flac, OUT/index.json (each clip's name and length), OUT/debs/*.deb, OUT/init/ARCH.pt
Needs Debian's flac.

More than one call's 64 MiB (the whole prepared data is about 330 MB): `--part K/N` writes the
K-th of N packs that hold the same selection between them, each a pack of its own; sent in
turn to one warm machine, `unpack_data.py PART1 PART2 … CACHE` puts them back together.

Why not a lossy codec: a pack in 24 kbit/s Opus held five times the audio, but every model
fine-tuned on it, with or without the noise-alone term, kept clean speech worse on the unseen
sources (models/README.md): a speech codec's output, as the clean target, teaches the model
that what the codec leaves out (breath, a room's floor, fine detail) is not speech.

training/unpack_data.py turns a pack back into a prepared cache that train.py reads (QUELL_CACHE).
"""
import argparse
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE  # noqa: E402
from quell.data import source_of  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
DECODER_DEBS = ["flac", "libflac12", "libogg0"]
BITS = 12
# split → (minutes kept, per what): about 50 MB in all
SPLITS = {"speech_train": (2.5, "source"), "babble_train": (4, "all"), "noise_train": (8, "category"),
          "speech_val": (4, "all"), "noise_val": (3, "all")}


def group_of(name, per):
    if per == "source":
        return source_of(name)
    return name.split(":")[0] if per == "category" else "all"


def pick(clips, minutes, rng, per):
    """Random clips up to `minutes` in each group (`per` clip source, noise category, or all)."""
    groups = {}
    for i, (name, _) in enumerate(clips):
        groups.setdefault(group_of(name, per), []).append(i)
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
    ap.add_argument("--scale", type=float, default=1, help="times the minutes kept of each split")
    ap.add_argument("--minutes", action="append", default=[], metavar="SPLIT=MINUTES",
                    help="minutes kept per group of one split instead of its default (e.g. speech_train=3.5)")
    ap.add_argument("--init", action="append", default=[], metavar="ARCH=CHECKPOINT",
                    help="weights a family's run starts from, kept as OUT/init/ARCH.pt (remote_train.sh)")
    ap.add_argument("--part", metavar="K/N",
                    help="only the K-th of N packs that share the selection out between them (every N-th clip of each "
                         "split from the K-th on): several calls' worth of data, unpack_data.py joins them")
    ap.add_argument("--decoder-debs", action=argparse.BooleanOptionalAction, default=True,
                    help="fetch the decoder's Debian packages into the pack (for a machine without flac)")
    args = ap.parse_args()
    for entry in args.init:
        if "=" not in entry or not os.path.isfile(entry.split("=", 1)[1]):
            ap.error(f"--init {entry}: expected ARCH=CHECKPOINT with an existing checkpoint file")
    minutes_of = {split: minutes for split, (minutes, _) in SPLITS.items()}
    for entry in args.minutes:
        split, _, value = entry.partition("=")
        if split not in SPLITS:
            ap.error(f"--minutes {entry}: no split {split!r} (one of {', '.join(SPLITS)})")
        try:
            minutes_of[split] = float(value)
        except ValueError:
            ap.error(f"--minutes {entry}: expected SPLIT=MINUTES, a number of minutes")
    part, parts = 1, 1
    if args.part:
        try:
            part, parts = (int(v) for v in args.part.split("/"))
        except ValueError:
            ap.error(f"--part {args.part}: expected K/N, two whole numbers")
        if not 1 <= part <= parts:
            ap.error(f"--part {args.part}: K must be between 1 and N")
    missing = [split for split in SPLITS if not os.path.isfile(os.path.join(CACHE, "prepared", f"{split}.pkl"))]
    if missing:
        ap.error(f"{os.path.join(CACHE, 'prepared')} lacks {', '.join(missing)}: run training/prepare_data.py first")
    os.makedirs(os.path.join(args.out, "debs"), exist_ok=True)
    rng = np.random.default_rng(0)
    index = {}
    for split, (_, per) in SPLITS.items():
        minutes = minutes_of[split]
        with open(os.path.join(CACHE, "prepared", f"{split}.pkl"), "rb") as f:
            clips = pickle.load(f)
        clips = [clips[i] for i in pick(clips, minutes * args.scale, rng, per)]
        # every N-th clip: each part has some of every source, and the parts of one selection
        # (the same rng) never overlap
        clips = clips[part - 1::parts]
        # peak-normalised: the mixer sets every level itself, and quiet clips would lose bits
        audio = np.concatenate([np.zeros(0, np.float32)] + [a / (np.abs(a).max() + 1e-9) * 0.5 for _, a in clips])
        step = 2.0 ** (1 - BITS)  # on the 16-bit grid, with the low bits zero: FLAC stores no zeros
        quantised = (np.round(audio / step) * step * 32768).astype(np.int16)
        path = os.path.join(args.out, f"{split}.flac")
        sf.write(path, quantised, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
        index[split] = [[name, len(a)] for name, a in clips]
        print(f"{split}: {len(clips)} clips, {len(audio) / SAMPLE_RATE / 60:.1f} min, "
              f"{os.path.getsize(path) / 1e6:.1f} MB", flush=True)
    os.makedirs(os.path.join(args.out, "init"), exist_ok=True)
    for entry in args.init:
        arch, path = entry.split("=", 1)
        checkpoint = torch.load(path, map_location="cpu")
        # the weights alone: the optimiser's moments and the average would double what travels
        torch.save({"model": checkpoint["model"], "config": checkpoint["config"]}, os.path.join(args.out, "init", f"{arch}.pt"))
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f)
    if args.decoder_debs:
        subprocess.run(["apt-get", "download", *DECODER_DEBS], cwd=os.path.join(args.out, "debs"), check=True)


if __name__ == "__main__":
    main()

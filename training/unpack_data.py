"""Turn a pack from pack_data.py back into a prepared cache that train.py reads.

    python3 training/unpack_data.py PACK [PACK...] CACHE      (then: QUELL_CACHE=CACHE python3 training/train.py ...)

Several packs (the parts of `pack_data.py --part K/N`) make one cache: each split's clips, pack
after pack.

Decodes with the system's flac, or else with the Debian packages the pack carries, unpacked
into a private folder (never over the system's own libraries).
"""
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE  # noqa: E402


def decoder(pack):
    """(flac command, environment)."""
    if shutil.which("flac"):
        return "flac", dict(os.environ)
    root = tempfile.mkdtemp(prefix="flac-")
    debs = sorted(os.listdir(os.path.join(pack, "debs")))
    if not debs:
        sys.exit(f"no flac on this machine and no Debian packages in {pack}/debs")
    for deb in debs:
        subprocess.run(["dpkg", "-x", os.path.join(pack, "debs", deb), root], check=True)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr", "lib", "x86_64-linux-gnu"))
    return os.path.join(root, "usr", "bin", "flac"), env


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    packs, cache = sys.argv[1:-1], sys.argv[-1]
    indexes = []
    for pack in packs:
        if not os.path.isfile(os.path.join(pack, "index.json")):
            sys.exit(f"{pack}: no index.json here, so not a pack from training/pack_data.py")
        with open(os.path.join(pack, "index.json")) as f:
            indexes.append(json.load(f))
    splits = list(indexes[0])
    for pack, index in zip(packs, indexes):
        if list(index) != splits:
            sys.exit(f"{pack} holds the splits {', '.join(index)}, {packs[0]} holds {', '.join(splits)}: not parts of one pack")
    flac, env = decoder(packs[0])
    os.makedirs(os.path.join(cache, "prepared"), exist_ok=True)

    def decode(pack, split, clips):
        if not clips:  # a part can hold none of a small split's clips
            return []
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            subprocess.run([flac, "--decode", "--silent", "--force", "-o", wav.name,
                            os.path.join(pack, f"{split}.flac")], check=True, env=env)
            rate, audio = wavfile.read(wav.name)
        audio = audio.astype(np.float32) / 32768
        if rate != SAMPLE_RATE or len(audio) < sum(n for _, n in clips):
            sys.exit(f"{pack}/{split}.flac decoded to {len(audio)} samples at {rate} Hz; its index.json expects "
                     f"{sum(n for _, n in clips)} at {SAMPLE_RATE}")
        ends = np.cumsum([n for _, n in clips])
        return [(name, audio[end - n:end]) for (name, n), end in zip(clips, ends)]

    def unpack(split):
        out = [clip for pack, index in zip(packs, indexes) for clip in decode(pack, split, index[split])]
        with open(os.path.join(cache, "prepared", f"{split}.pkl"), "wb") as f:
            pickle.dump(out, f)
        return f"{split}: {len(out)} clips, {sum(len(a) for _, a in out) / SAMPLE_RATE / 60:.1f} min"

    with ThreadPoolExecutor() as pool:  # one decoder process per split
        for line in pool.map(unpack, splits):
            print(line, flush=True)


if __name__ == "__main__":
    main()

"""How far a gain mask can go: the ideal masks, computed from each mixture's own clean speech,
applied on the noisy phase with the shipped framing, scored as `npm run eval` scores a model
(ΔSI-SDR by input SNR). A model's mask is in [0, 1] per bin and frame, as these are; what a
model falls short of this ceiling is the model's, not the contract's.

    python3 training/mask_ceiling.py [SET]      (default: unseen; run make_eval_set.py first)

- ratio mask: |S| / |Y|, clipped to [0, 1];
- phase-sensitive mask: |S| cos(∠S − ∠Y) / |Y|, clipped to [0, 1] (the best real gain on noisy phase).
"""
import json
import os
import sys

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import FRAMING  # noqa: E402
from quell.stft import istft, stft  # noqa: E402
from train import si_sdr  # noqa: E402  (the one training validates with)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))


def ideal_masks(noisy, clean):
    y, s = (stft(x[None], FRAMING) for x in (noisy, clean))
    ratio = (s.abs() / (y.abs() + 1e-9)).clamp(0, 1)
    phase_sensitive = (s.abs() * torch.cos(s.angle() - y.angle()) / (y.abs() + 1e-9)).clamp(0, 1)
    return y, {"ratio mask": ratio, "phase-sensitive mask": phase_sensitive}


def main(name):
    folder = os.path.join(CACHE, "eval", name)
    manifest = os.path.join(folder, "manifest.json")
    if not os.path.isfile(manifest):
        sys.exit(f"{manifest}: no evaluation set (python3 training/make_eval_set.py {name})")
    gains = {}  # (mask, snr) -> ΔSI-SDR per mixture
    for item in json.load(open(manifest))["items"]:
        if item["kind"] != "mix":
            continue
        noisy, clean = (torch.from_numpy(sf.read(os.path.join(folder, f"{item['id']}.{part}.wav"), dtype="float32")[0])
                        for part in ("noisy", "clean"))
        y, masks = ideal_masks(noisy, clean)
        before = si_sdr(noisy, clean)
        for mask_name, mask in masks.items():
            out = istft(y * mask, len(noisy), FRAMING)[0]
            gains.setdefault((mask_name, item["snr"]), []).append(float(si_sdr(out, clean) - before))
    snrs = sorted({snr for _, snr in gains})
    print(f"ΔSI-SDR (dB) of ideal gain masks on the {name} set, framing {FRAMING}")
    print("| mask | overall | " + " | ".join(f"{s} dB" for s in snrs) + " |")
    for mask_name in ("ratio mask", "phase-sensitive mask"):
        per_snr = [np.mean(gains[(mask_name, s)]) for s in snrs]
        overall = np.mean(np.concatenate([gains[(mask_name, s)] for s in snrs]))
        print(f"| {mask_name} | {overall:+.2f} | " + " | ".join(f"{v:+.2f}" for v in per_snr) + " |")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1] if len(sys.argv) > 1 else "unseen")

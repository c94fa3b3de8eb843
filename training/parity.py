"""PyTorch stage of `npm run parity`, and its plot.

    python3 training/parity.py torch CARD.json...     → JSON: per-frame max |stream − whole|
    python3 training/parity.py plot RESULTS.json OUT.png
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.model import build  # noqa: E402


def torch_stage(card_path, dtype=torch.float32):
    """Per frame, the largest |step-by-step − whole-sequence| mask difference. In float32 (what
    `npm run parity` reports beside ONNX and the engine) it is rounding, which grows with the
    weights; in float64 only a real difference between the two paths shows."""
    card = json.load(open(card_path))
    base = os.path.join(os.path.dirname(card_path), card["name"])
    saved = torch.load(base + ".pt")
    model = build(**saved["config"])
    model.load_state_dict(saved["model"])
    model.to(dtype).eval()
    frames, bins = card["golden"]["frames"], card["fftSize"] // 2 + 1
    golden = np.fromfile(os.path.join(os.path.dirname(card_path), card["golden"]["file"]), "<f4")
    mags = torch.from_numpy(golden[: frames * bins].reshape(1, frames, bins).copy()).to(dtype)
    with torch.no_grad():
        whole = model(mags)[0]
        states = model.zero_states(1)
        diffs = []
        for t in range(frames):
            mask, *states = model.step(mags[:, t], *states)
            diffs.append(float((mask[0] - whole[t]).abs().max()))
    return diffs


def plot(results_path, out_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.load(open(results_path))
    stages = ["pytorch", "onnx", "engine"]
    titles = {"pytorch": "PyTorch: step-by-step vs whole sequence (mask)",
              "onnx": "ONNX step loop vs PyTorch whole sequence (mask)",
              "engine": "TypeScript engine, streaming vs whole-sequence reference (samples)"}
    fig, axes = plt.subplots(len(stages), 1, figsize=(9, 9), constrained_layout=True)
    for ax, stage in zip(axes, stages):
        for name, r in results.items():
            d = np.maximum(np.asarray(r[stage], dtype=float), 1e-12)
            ax.semilogy(np.arange(len(d)), d, label=f"{name} (max {d.max():.1e})", linewidth=1)
        ax.set_title(titles[stage], fontsize=10)
        ax.set_xlabel("frame")
        ax.set_ylabel("max abs difference")
        ax.set_ylim(1e-12, 1e-3)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    if sys.argv[1] == "torch":
        print(json.dumps({p: torch_stage(p) for p in sys.argv[2:]}))
    elif sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3])

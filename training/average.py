"""The mean of trained models' weights, validated like a training checkpoint.

    python3 training/average.py --out OUT.pt RUN/last.pt:ema OTHER/best.pt ...

Runs fine-tuned from the same weights on different loss weightings land on different points of
the same trade (noise removed against speech kept); the mean of their weights often keeps the
best of both, where a mean of their outputs would cost two models' time. Each source is a
checkpoint of train.py, `:ema` takes its moving average instead of its raw weights; all must
be the same family, size and framing. OUT can be exported as any checkpoint
(training/export.py), and its card names the sources.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE, framing_of  # noqa: E402
from quell.data import load_split  # noqa: E402
from quell.model import build  # noqa: E402
from quell.synthetic import synthetic_split  # noqa: E402
from train import ROOT, validate, validation_set  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+", help="CHECKPOINT or CHECKPOINT:ema")
    ap.add_argument("--out", required=True)
    ap.add_argument("--synthetic", action="store_true", help="validate on synthetic data (tests)")
    args = ap.parse_args()
    if len(args.sources) < 2:
        ap.error("name at least two checkpoints to average")
    weights, sources, config, last = [], [], None, None
    for source in args.sources:
        path, _, which = source.partition(":")
        if which not in ("", "ema"):
            ap.error(f"{source}: after the checkpoint, only ':ema' (its moving average) may follow")
        if not os.path.isfile(path):
            ap.error(f"{path}: no such checkpoint")
        ck = torch.load(path, map_location="cpu")
        if which == "ema" and "ema" not in ck:
            ap.error(f"{source}: this checkpoint holds no moving average")
        if config is not None and ck["config"] != config:
            ap.error(f"{path}: {ck['config']} is not the model of {args.sources[0]} ({config})")
        config, last = ck["config"], ck
        weights.append(ck["ema"] if which == "ema" else ck["model"])
        sources.append({"checkpoint": path, "weights": "moving average" if which == "ema" or ck.get("weights") == "moving average"
                        else "raw", "step": ck["state"]["step"], "minutes": round(ck["state"]["elapsed"] / 60, 1)})
    mean = {k: sum(w[k] for w in weights) / len(weights) if weights[0][k].is_floating_point() else weights[0][k]
            for k in weights[0]}
    model = build(**config)
    model.load_state_dict(mean)
    framing = framing_of(config)
    # the validation set train.py scores every checkpoint on, so the score compares with theirs
    cache = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
    val_data = synthetic_split(np.random.default_rng(0), 10, 3) if args.synthetic else load_split(cache, "val")
    val_set = validation_set(val_data, int(4.0 * SAMPLE_RATE), args.synthetic)
    scores = validate(model, val_set, framing, torch.device("cpu"))
    gain = scores["gain"]
    step = max(s["step"] for s in sources)
    state = {**last["state"], "step": step, "elapsed": max(s["minutes"] for s in sources) * 60,
             "history": [{"step": step, "val_delta_si_sdr": round(gain, 3), **{k: round(v, 3) for k, v in scores.items() if k != "gain"}}]}
    torch.save({"model": mean, "weights": "mean of " + ", ".join(args.sources), "sources": sources,
                "state": state, "config": config}, args.out)
    print(f"mean of {len(sources)} models: validation ΔSI-SDR {gain:.2f} dB (fresh {scores['fresh']:.2f}, "
          f"stream {scores['stream']:.2f}, varied noise {scores['varied']:.2f}; noise alone {scores['noise_removed']:.1f} dB removed)")


if __name__ == "__main__":
    main()

"""Export a trained checkpoint (or a fixed-weight fixture) as an ONNX step graph + model card.

    python3 training/export.py --checkpoint .cache/train/gru/best.pt --out models/quell-gru
    python3 training/export.py --fixture --out models/fixture/quell-fixture
    python3 training/export.py --fixture-parts --out models/fixture/quell-fixture-parts
    python3 training/export.py --fixture-bands --out models/fixture/quell-fixture-bands
    python3 training/export.py --reexport --out models/quell-gru   (same weights and card, new graph)
    python3 training/export.py --checkpoint CK --out models/quell-gru --mask-gain auto   (see level_of_clean_speech)

Writes OUT.onnx (opset 17: the magnitudes and the state in one tensor in, the mask and the next state in one out), OUT.json (the card),
OUT.pt (the PyTorch weights, for `npm run parity`), and OUT.golden.bin (float32 magnitudes then masks of a fixed input, from the PyTorch
whole-sequence model) for the streaming parity tests in ONNX and TypeScript, plus a pipeline
golden: OUT.pipeline-input.wav and the Python reference pipeline's output on it.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell import reference  # noqa: E402
from quell.config import FRAMING, N_BINS, SAMPLE_RATE, framing_of  # noqa: E402
from quell.data import Mixer, load_split  # noqa: E402
from quell.model import VOICING_RANGES, RecurrentMask, StepModule, build  # noqa: E402
from quell.onnx_graph import recurrent_step_graph  # noqa: E402
from quell.synthetic import speech_like, synthetic_split  # noqa: E402
from train import ROOT, enhance  # noqa: E402

GOLDEN_FRAMES = 64
# The step graph's one input (the magnitudes, then the carried state) and one output (the mask,
# then the next state): see StepModule and recurrent_step_graph.
STEP_INPUT, STEP_OUTPUT = "magnitudes_and_state", "mask_and_state"


def checkpoint_log(path):
    """Where a checkpoint's run logs its validation scores (its folder is committed)."""
    return "training/checkpoints/" + os.path.basename(os.path.dirname(os.path.abspath(path))) + "/history.json"


def golden_signal(seconds=2.0, seed=5):
    """A fixed noisy speech-like signal (also the pipeline test input)."""
    rng = np.random.default_rng(seed)
    clean = speech_like(seconds, rng).astype(np.float64)
    noise = rng.standard_normal(len(clean)) * 0.01
    return (clean + noise).astype(np.float32)


def export(model, out, meta, config):
    model.eval()
    torch.save({"config": config, "model": model.state_dict()}, out + ".pt")  # for npm run parity
    framing = framing_of(config)
    layout = model.state_layout()
    values = N_BINS + sum(size for _, size in layout)
    if isinstance(model, RecurrentMask):
        onnx.save(recurrent_step_graph(model, STEP_INPUT, STEP_OUTPUT), out + ".onnx")
    else:
        frame = torch.cat([torch.rand(1, N_BINS), torch.zeros(1, values - N_BINS)], dim=1)
        torch.onnx.export(StepModule(model), (frame,), out + ".onnx", input_names=[STEP_INPUT], output_names=[STEP_OUTPUT],
                          opset_version=17, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(out + ".onnx"))

    x = golden_signal()
    _, mags = reference.magnitudes(x.astype(np.float64), framing)
    mags = mags[:GOLDEN_FRAMES].astype(np.float32)
    with torch.no_grad():
        # in float64: the whole-sequence run and the step graph round differently in float32, and
        # the golden is the reference both are held to
        exact = copy.deepcopy(model).double()
        masks = exact(torch.from_numpy(mags).double()[None])[0].numpy().astype(np.float32)
    np.concatenate([mags.ravel(), masks.ravel()]).astype("<f4").tofile(out + ".golden.bin")

    card = {
        "name": os.path.basename(out),
        "file": os.path.basename(out) + ".onnx",
        "sampleRate": SAMPLE_RATE, **framing,
        "input": {"name": STEP_INPUT, "shape": [1, values]},
        "output": {"name": STEP_OUTPUT, "shape": [1, values]},
        "stateLayout": [{"name": n, "values": size} for n, size in layout],
        "parameters": sum(p.numel() for p in model.parameters()),
        "golden": {"file": os.path.basename(out) + ".golden.bin", "frames": GOLDEN_FRAMES},
        **meta,
    }
    with open(out + ".json", "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return card


def level_of_clean_speech(model, framing, synthetic=False, clips=64):
    """Mean level (dB) at which the model hands on speech alone: validation voices (the groups
    training holds out; --synthetic: synthetic ones), as training mixes them (rooms, microphones,
    −45…−6 dBFS), each from a fresh start; the output's projection on the clean speech."""
    cache = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
    val_data = synthetic_split(np.random.default_rng(0), 10, 3) if synthetic else load_split(cache, "val")
    mixer = Mixer(*val_data, seed=11)
    levels = []
    model.eval()
    with torch.no_grad():
        for _ in range(clips):
            _, speech = mixer.item(int(4 * SAMPLE_RATE), kind="speech_only")
            s = torch.from_numpy(speech)[None]
            y, _, _ = enhance(model, s, framing)
            levels.append(20 * np.log10(max(float((y * s).sum() / ((s * s).sum() + 1e-12)), 1e-6)))
    return float(np.mean(levels))


def calibrate_mask_gain(config, weights, synthetic=False):
    """The make-up gain (≥ 1) that brings the model's clean-speech level to 0 dB: measured without
    it, then corrected twice, since masks it lifts past one stop there. → (config with
    `mask_gain`, the level before, the level after)."""
    framing = framing_of(config)

    def level_with(gain):
        model = build(**{**config, "mask_gain": gain})
        model.load_state_dict(weights)
        return level_of_clean_speech(model, framing, synthetic)

    gain = 1.0
    before = level = level_with(gain)
    for _ in range(2):
        gain = round(max(1.0, gain * 10 ** (-level / 20)), 4)
        level = level_with(gain)
    return {**config, "mask_gain": gain}, before, level


def data_summary():
    """What the model was trained on, from prepare_data.py's manifest of the prepared cache."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(os.environ.get("QUELL_CACHE", os.path.join(root, ".cache")), "prepared", "manifest.json")
    if not os.path.exists(path):
        return {"note": "trained without the prepared data manifest"}
    m = json.load(open(path))
    return {"speech": sorted(m["speech"]["train"]), "noise": sorted(m["noise"]["train"]) + ["synthetic"],
            "speechMinutes": round(sum(m["speech"]["train"].values())), "noiseMinutes": round(sum(m["noise"]["train"].values())),
            "heldOutForEvaluation": m["unseen_packages"],
            "split": "validation: held-out groups (game level, language, speaker, folder) of the training packages; "
                     "evaluation: whole packages never trained on"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--fixture", action="store_true")
    ap.add_argument("--fixture-parts", action="store_true",
                    help="a fixture with every optional part of the graph (noise floor, voicing, local SNR, refiner, skip, make-up gain), "
                         "so that the TypeScript parity tests hold the graph of each to PyTorch")
    ap.add_argument("--fixture-bands", action="store_true",
                    help="a fixture that reads and masks in bands (with the voicing view and a make-up gain), so that "
                         "the TypeScript parity tests hold the folded band maps to PyTorch")
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", help="checkpoint this one was fine-tuned from (recorded in the card)")
    ap.add_argument("--origin", help="how the run started, for the card (e.g. 'warm start from quell-gru-v1')")
    ap.add_argument("--averaged", action="store_true",
                    help="export the checkpoint's moving average of the weights (train.py keeps one) instead of its raw weights")
    ap.add_argument("--reexport", action="store_true",
                    help="export OUT.pt again (a new graph, same weights), keeping OUT.json's training record")
    ap.add_argument("--mask-gain", default=None,
                    help="'auto': measure the level at which the model hands on clean validation speech and "
                         "build in the gain that undoes it (see calibrate_mask_gain); a number: that gain; "
                         "default: the checkpoint's own (1 if it has none)")
    ap.add_argument("--synthetic", action="store_true", help="with --mask-gain auto: measure on synthetic voices (tests)")
    args = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.reexport:
        ck = torch.load(args.out + ".pt")
        config = ck["config"]
        model = build(**config)
        model.load_state_dict(ck["model"])
        generated = {"name", "file", "sampleRate", "fftSize", "hopSize", "window", "synthesisSize", "input",
                     "output", "states", "stateLayout", "parameters", "golden"}  # "states": cards before the one-tensor step
        meta = {k: v for k, v in json.load(open(args.out + ".json")).items() if k not in generated}
    elif args.fixture or args.fixture_parts or args.fixture_bands:
        torch.manual_seed(1234)
        config = {"arch": "gru", "hidden": 16, "layers": 2, "level_norm": True, "framing": FRAMING}
        if args.fixture_parts:
            config.update(noise_floor=True, voicing=True, local_snr=True, refiner=4, skip=True, mask_gain=1.25)
        if args.fixture_bands:
            config.update(voicing=True, bands=True, mask_gain=1.25)
        model = build(**config)
        with torch.no_grad():
            model.features.mean.fill_(0.0)
            model.features.std.fill_(4.0)
            model.decoder.bias.fill_(0.0)
            if args.fixture_parts:  # the parts start at zero, where they would do nothing to check
                model.snr_slope.weight.normal_(0, 0.1)
                model.snr_slope.bias.normal_(0, 0.3)
                model.refiner[2].weight.normal_(0, 0.5)
                model.skip.weight.normal_(0, 0.3)
            if config.get("voicing"):
                model.features.std[-VOICING_RANGES:] = 0.1  # the voicing view's values are tenths
        meta = {"family": "gru", "fixture": True,
                "description": "Fixed random weights for the parity tests; it does not denoise."}
    else:
        ck = torch.load(args.checkpoint, map_location="cpu")
        if args.averaged and "ema" not in ck:
            ap.error(f"--averaged: {args.checkpoint} holds no averaged weights (trained before train.py kept them)")
        config = ck["config"]
        model = build(**config)
        model.load_state_dict(ck["ema"] if args.averaged else ck["model"])
        # this checkpoint's own validation record (best.pt's is the run's best; last.pt's its last)
        record = next((h for h in reversed(ck["state"]["history"]) if h["step"] == ck["state"]["step"]), {})
        averaged = args.averaged or ck.get("weights") == "moving average"  # best.pt holds the average when it won
        score = record.get("ema" if averaged else "val_delta_si_sdr")
        summary_path = os.path.join(os.path.dirname(args.checkpoint), "summary.json")
        summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
        meta = {"family": ck["config"]["arch"],
                "description": f"Causal {ck['config']['arch'].upper()} mask model, "
                               f"{ck['config']['layers']}x{ck['config']['hidden']}"
                               + "".join(f", {what}" for key, what in (("level_norm", "level-normalised"),
                                                                       ("noise_floor", "noise floor"),
                                                                       ("voicing", "voicing"),
                                                                       ("bands", "bands above 2 kHz"),
                                                                       ("local_snr", "local SNR"),
                                                                       ("refiner", "refiner"),
                                                                       ("skip", "skip around the recurrent layers"))
                                         if ck["config"].get(key)) + ".",
                "training": {"steps": ck["state"]["step"], "minutes": round(ck["state"]["elapsed"] / 60, 1),
                             **({"validation_delta_si_sdr_db": round(score, 2)} if score is not None else {}),
                             "weights": "moving average" if averaged else ck.get("weights", "raw"),
                             **{k: summary[k] for k in ("batch", "seconds") if k in summary},
                             **({"origin": args.origin} if args.origin else {}),
                             **({"sources": ck["sources"]} if "sources" in ck else {}),  # training/average.py
                             "log": [checkpoint_log(s["checkpoint"]) for s in ck["sources"]] if "sources" in ck
                             else checkpoint_log(args.checkpoint)},
                **({"fine_tuned_from": {"steps": torch.load(args.base)["state"]["step"],
                                        "minutes": round(torch.load(args.base)["state"]["elapsed"] / 60, 1)}}
                   if args.base else {}),
                "data": data_summary()}
    if args.mask_gain is not None:
        weights = model.state_dict()
        if args.mask_gain == "auto":
            config, before, after = calibrate_mask_gain(config, weights, args.synthetic)
            meta["maskGain"] = {"value": config["mask_gain"], "cleanSpeechLevelDb": {"without": round(before, 2), "with": round(after, 2)},
                                "measured": "64 clips of validation speech alone (training/export.py level_of_clean_speech)"}
        else:
            try:
                gain = float(args.mask_gain)
            except ValueError:
                gain = 0.0
            if not gain >= 1.0:
                ap.error(f"--mask-gain {args.mask_gain}: 'auto' or a number of at least 1")
            config = {**config, "mask_gain": gain}
            meta["maskGain"] = {"value": gain}
        model = build(**config)
        model.load_state_dict(weights)
        print(f"mask gain {config['mask_gain']:g}" + (f": clean speech at {before:.2f} dB without it, {after:.2f} with it"
                                                       if args.mask_gain == "auto" else ""), flush=True)
    card = export(model, args.out, meta, config)
    # Pipeline golden: a WAV and the Python reference pipeline's output on it (whole sequence).
    x = reference.write_wav(args.out + ".pipeline-input.wav", golden_signal())
    y = reference.denoise(model, x, framing_of(config))
    y.astype("<f4").tofile(args.out + ".pipeline-output.bin")
    print(json.dumps({k: card[k] for k in ("name", "parameters", "stateLayout")}))


if __name__ == "__main__":
    main()

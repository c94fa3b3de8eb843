"""Build the fixed evaluation set from the validation split (never seen in training).

60 mixtures of 8 s: 5 noise types (keyboard, hum, music, babble, pink) × 6 SNRs (-5..20 dB)
× 2 clips, plus 6 clean-speech clips and 6 noise-only clips. Writes 16 kHz WAVs and a manifest
to .cache/eval/. Deterministic: the same seed gives the same set.
"""
import json
import os
import sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.data import Mixer, load_split, rms  # noqa: E402
from quell.reference import write_wav  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
OUT = os.path.join(CACHE, "eval")
RATE, SECONDS = 16000, 8
SNRS = [-5, 0, 5, 10, 15, 20]
NOISES = ["keyboard", "hum", "music", "babble", "pink"]


def noise_of(kind, mixer, noise_files, length):
    rng = mixer.rng
    if kind == "keyboard":
        return mixer.crop(mixer.keyboard[rng.integers(len(mixer.keyboard))], length)
    if kind == "music":
        music = [a for n, a in noise_files if n.startswith("music:")] or [a for _, a in noise_files]
        return mixer.crop(music[rng.integers(len(music))], length)
    if kind == "hum":
        return mixer.hum(length)
    if kind == "babble":
        return mixer.babble(length)
    spec = np.fft.rfft(rng.standard_normal(length))  # pink: 1/f power
    f = np.maximum(np.fft.rfftfreq(length, 1 / RATE), 20)
    return np.fft.irfft(spec / np.sqrt(f), length)


def main():
    os.makedirs(OUT, exist_ok=True)
    speech, noise = load_split(CACHE, "val")
    mixer = Mixer(speech, noise, seed=2024)
    length = RATE * SECONDS
    items = []

    def add(name, clean, noisy, **meta):
        write_wav(os.path.join(OUT, name + ".clean.wav"), clean)
        write_wav(os.path.join(OUT, name + ".noisy.wav"), noisy)
        items.append({"id": name, **meta})

    for kind in NOISES:
        for snr in SNRS:
            for k in range(2):
                clean = mixer.speech_segment(length)
                n = noise_of(kind, mixer, noise, length)
                n = n / (rms(n) + 1e-9) * rms(clean) * 10 ** (-snr / 20)
                gain = 10 ** (mixer.rng.uniform(-32, -22) / 20) / (rms(clean + n) + 1e-9)
                gain = min(gain, 0.95 / (np.abs(clean + n).max() + 1e-9))
                add(f"{kind}_{snr:+d}dB_{k}", clean * gain, (clean + n) * gain, kind="mix", noise=kind, snr=snr)
    for k in range(6):
        clean = mixer.speech_segment(length)
        clean *= 10 ** (mixer.rng.uniform(-32, -22) / 20) / (rms(clean) + 1e-9)
        add(f"clean_{k}", clean, clean, kind="clean", noise="none", snr=None)
    for k, kind in enumerate(NOISES + ["white"]):
        n = noise_of(kind, mixer, noise, length) if kind != "white" else mixer.rng.standard_normal(length)
        n = n / (rms(n) + 1e-9) * 10 ** (mixer.rng.uniform(-40, -28) / 20)
        add(f"noiseonly_{kind}", np.zeros(length), n, kind="noise", noise=kind, snr=None)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"sampleRate": RATE, "seconds": SECONDS, "items": items}, f, indent=1)
    print(f"{len(items)} clips in {OUT}")


if __name__ == "__main__":
    main()

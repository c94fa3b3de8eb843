"""Build a fixed evaluation set. Deterministic: the same seed gives the same set.

    python3 training/make_eval_set.py            # both sets
    python3 training/make_eval_set.py unseen     # one of them

- `val` (in-domain): from the validation split, i.e. the training sources' held-out groups.
  60 mixtures of 8 s: 5 noise types (keyboard, hum, music, babble, pink) × 6 SNRs (-5..20 dB)
  × 2 clips, plus 6 clean-speech clips and 6 noise-only clips.
- `unseen`: from whole packages that training never touches (prepare_data.UNSEEN_*): other
  voices, languages and microphones; machinery and ambience, work and impact sounds, babble
  of unseen talkers. 48 mixtures (4 noise types × 6 SNRs × 2), speech from −45 to −6 dBFS, a
  third of it in a synthetic reverberant room; 10 clean clips over the same levels (quiet
  voices included) and 8 noise-only clips. These figures predict voices nobody trained on.
Writes 16 kHz WAVs and a manifest to .cache/eval/<set>/.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE as RATE  # noqa: E402
from quell.data import Mixer, load_split, rms  # noqa: E402
from quell.reference import write_wav  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
SECONDS = 8
SNRS = [-5, 0, 5, 10, 15, 20]
NOISES = {"val": ["keyboard", "hum", "music", "babble", "pink"],
          "unseen": ["machine", "impacts", "babble", "pink"]}


def pink(rng, length):
    spec = np.fft.rfft(rng.standard_normal(length))  # 1/f power
    f = np.maximum(np.fft.rfftfreq(length, 1 / RATE), 20)
    return np.fft.irfft(spec / np.sqrt(f), length)


def active_crop(mixer, files, length, tries=50):
    """A crop of a random file that is sound for at least a third of its frames: short effects
    tiled to 8 s can land a crop in their silence, and a mixture without noise measures nothing."""
    for _ in range(tries):
        x = mixer.crop(files[mixer.rng.integers(len(files))], length)
        frames = x[: length // 320 * 320].reshape(-1, 320)
        energy = (frames ** 2).mean(axis=1)
        if energy.max() > 1e-10 and np.mean(energy > energy.max() * 1e-4) >= 1 / 3:
            return x
    return x


def noise_of(kind, mixer, noise_files, length):
    rng = mixer.rng
    by_category = lambda c: [a for n, a in noise_files if n.startswith(c + ":")] or [a for _, a in noise_files]  # noqa: E731
    if kind == "keyboard":
        return active_crop(mixer, mixer.keyboard, length)
    if kind in ("music", "machine"):
        return active_crop(mixer, by_category(kind), length)
    if kind == "impacts":  # work sounds: hammering, saws, smithing, animals, crowds
        return active_crop(mixer, by_category("work"), length)
    if kind == "hum":
        return mixer.hum(length)
    if kind == "babble":
        return mixer.babble(length)
    return pink(rng, length)


def build(name):
    out = os.path.join(CACHE, "eval", name)
    os.makedirs(out, exist_ok=True)
    speech, noise = load_split(CACHE, name)
    mixer = Mixer(speech, noise, seed=2024)
    length = RATE * SECONDS
    items = []
    unseen = name == "unseen"

    def add(item_id, clean, noisy, **meta):
        write_wav(os.path.join(out, item_id + ".clean.wav"), clean)
        write_wav(os.path.join(out, item_id + ".noisy.wav"), noisy)
        items.append({"id": item_id, **meta})

    def level(low=-32, high=-22):
        return mixer.rng.uniform(-45, -6) if unseen else mixer.rng.uniform(low, high)

    def voice():
        clean = mixer.speech_segment(length)
        reverberant = unseen and mixer.rng.random() < 1 / 3
        return (mixer.noise_tail_reverb(clean) if reverberant else clean), reverberant

    for kind in NOISES[name]:
        for snr in SNRS:
            for k in range(2):
                clean, reverberant = voice()
                n = noise_of(kind, mixer, noise, length)
                n = n / (rms(n) + 1e-9) * rms(clean) * 10 ** (-snr / 20)
                dbfs = level()
                gain = 10 ** (dbfs / 20) / (rms(clean) + 1e-9)
                gain = min(gain, 0.95 / (np.abs(clean + n).max() + 1e-9))
                add(f"{kind}_{snr:+d}dB_{k}", clean * gain, (clean + n) * gain, kind="mix", noise=kind, snr=snr,
                    speechDbfs=round(20 * np.log10(rms(clean * gain) + 1e-12), 1), reverberant=reverberant)
    levels = np.linspace(-45, -6, 10) if unseen else mixer.rng.uniform(-32, -22, 6)
    for k, dbfs in enumerate(levels):
        clean, reverberant = voice()
        clean = clean * 10 ** (dbfs / 20) / (rms(clean) + 1e-9)
        clean = clean * min(1, 0.95 / (np.abs(clean).max() + 1e-9))
        add(f"clean_{k}", clean, clean, kind="clean", noise="none", snr=None,
            speechDbfs=round(20 * np.log10(rms(clean) + 1e-12), 1), reverberant=reverberant)
    kinds = NOISES[name] + (["machine", "impacts", "babble", "machine"] if unseen else ["white"])
    for k, kind in enumerate(kinds):
        n = noise_of(kind, mixer, noise, length) if kind != "white" else mixer.rng.standard_normal(length)
        n = n / (rms(n) + 1e-9) * 10 ** (mixer.rng.uniform(-40, -28) / 20)
        n = n * min(1, 0.95 / (np.abs(n).max() + 1e-9))
        add(f"noiseonly_{kind}_{k}", np.zeros(length), n, kind="noise", noise=kind, snr=None)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"sampleRate": RATE, "seconds": SECONDS, "set": name, "items": items}, f, indent=1)
    print(f"{len(items)} clips in {out}")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["unseen", "val"]:
        build(name)

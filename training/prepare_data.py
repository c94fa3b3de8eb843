"""Decode the fetched Debian audio into 16 kHz mono float32 clips, split by recording.

Speech is split by *directory* (a game level, or a language for klettres), so that no
recording session in validation is ever seen in training. Noise files are split by file.
Output: <cache>/prepared/{speech,noise}_{train,val}.pkl, each a list of (name, float32 array).
"""
import glob
import hashlib
import os
import pickle
import subprocess
import sys

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
PKGS = os.path.join(CACHE, "pkgs")
OUT = os.path.join(CACHE, "prepared")


def is_val(key: str, fraction: float) -> bool:
    """Deterministic split on a stable hash of the grouping key (directory or file)."""
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return (h % 1000) < fraction * 1000


def load(path: str) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
    return audio


def trim_silence(audio: np.ndarray, threshold_db: float = -45.0, keep: int = 1600) -> np.ndarray:
    """Cut leading and trailing silence (klettres items have long silent tails)."""
    frame = 320
    n = len(audio) // frame
    if n == 0:
        return audio
    energy = (audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max() + 1e-12
    active = np.where(10 * np.log10(energy / peak + 1e-12) > threshold_db)[0]
    if len(active) == 0:
        return audio[:0]
    start = max(0, active[0] * frame - keep)
    end = min(len(audio), (active[-1] + 1) * frame + keep)
    return audio[start:end]


def speech_files():
    """(path, split-group key) for every speech recording."""
    out = []
    fillets = os.path.join(PKGS, "fillets-ng-data-nl/usr/share/games/fillets-ng/sound")
    for p in sorted(glob.glob(os.path.join(fillets, "*", "nl", "*.ogg"))):
        out.append((p, "fillets/" + p.split(os.sep)[-3]))
    fillets_en = os.path.join(PKGS, "fillets-ng-data/usr/share/games/fillets-ng/sound")
    for p in sorted(glob.glob(os.path.join(fillets_en, "*", "en", "*.ogg"))):
        out.append((p, "fillets/" + p.split(os.sep)[-3]))
    klettres = os.path.join(PKGS, "klettres-data/usr/share/klettres")
    for p in sorted(glob.glob(os.path.join(klettres, "*", "*", "*.ogg"))):
        out.append((p, "klettres/" + p.split(os.sep)[-3]))
    return out


def noise_files():
    """(path, category) for every real noise recording."""
    out = []
    for p in sorted(glob.glob(os.path.join(PKGS, "sonic-pi-samples/usr/share/sonic-pi/samples/*.flac"))):
        out.append((p, "sonicpi"))
    fillets = os.path.join(PKGS, "fillets-ng-data/usr/share/games/fillets-ng")
    for p in sorted(glob.glob(os.path.join(fillets, "music", "*.ogg"))):
        out.append((p, "music"))
    for p in sorted(glob.glob(os.path.join(fillets, "sound", "share", "*.ogg"))):
        out.append((p, "effects"))
    return out


ESPEAK_TEXT = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call me back when you have a moment to talk about the project.",
    "We will meet at nine tomorrow morning in the small conference room.",
    "Can you hear me clearly now, or is there still a lot of noise?",
    "The weather today is cloudy with a chance of rain in the evening.",
    "I think the new version sounds much better than the old one.",
    "Let me share my screen so that everybody can see the numbers.",
    "Thank you all for joining, let's get started with the first topic.",
    "Her brother bought seven apples and three oranges at the market.",
    "Turn left at the second traffic light and then keep going straight.",
    "The children were playing football in the park until it got dark.",
    "Sorry, you were on mute for the last couple of minutes.",
]
ESPEAK_VOICES_TRAIN = ["en", "en-us", "de", "fr", "es", "it", "nl", "pt", "pl", "sv"]
ESPEAK_VOICES_VAL = ["en-gb-x-rp", "cs"]


def espeak_clips(voices, texts, tag):
    clips = []
    tmp = os.path.join(CACHE, "espeak.wav")
    for vi, voice in enumerate(voices):
        for ti, text in enumerate(texts):
            pitch = 20 + (vi * 17 + ti * 29) % 70
            speed = 140 + (vi * 13 + ti * 7) % 60
            variant = ["", "+m3", "+f2", "+m7", "+f4"][(vi + ti) % 5]
            r = subprocess.run(["espeak-ng", "-v", voice + variant, "-p", str(pitch), "-s", str(speed),
                                "-w", tmp, text], capture_output=True)
            if r.returncode == 0 and os.path.exists(tmp):
                clips.append((f"espeak/{tag}/{voice}{variant}/{ti}", trim_silence(load(tmp))))
    return clips


def keyboard_typing(paths, seconds, rng):
    """Sequence real key press/release recordings into typing with human-like timing."""
    keys = {}
    for p in paths:
        stem = os.path.basename(p)[:-4]
        key, kind = stem.rsplit("-", 1)
        keys.setdefault(key, {})[kind] = load(p)
    names = [k for k in keys if "0" in keys[k] and "1" in keys[k]]
    out = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    t = 0
    while t < len(out) - SAMPLE_RATE:
        k = keys[names[rng.integers(len(names))]]
        hold = int(rng.uniform(0.05, 0.15) * SAMPLE_RATE)
        for offset, clip in ((0, k["0"]), (hold, k["1"])):
            s = t + offset
            n = min(len(clip), len(out) - s)
            out[s:s + n] += clip[:n] * rng.uniform(0.6, 1.0)
        gap = rng.uniform(0.08, 0.25) if rng.random() > 0.1 else rng.uniform(0.4, 1.2)
        t += int(gap * SAMPLE_RATE)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    speech = {"train": [], "val": []}
    for path, group in speech_files():
        split = "val" if is_val(group, 0.12) else "train"
        audio = trim_silence(load(path))
        if len(audio) >= SAMPLE_RATE // 2:
            speech[split].append((os.path.relpath(path, PKGS), audio))
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode == 0:
        speech["train"] += espeak_clips(ESPEAK_VOICES_TRAIN, ESPEAK_TEXT, "train")
        speech["val"] += espeak_clips(ESPEAK_VOICES_VAL, ESPEAK_TEXT[:6], "val")
    noise = {"train": [], "val": []}
    for path, category in noise_files():
        split = "val" if is_val(path, 0.15) else "train"
        audio = load(path)
        if len(audio) >= SAMPLE_RATE // 4:
            noise[split].append((category + ":" + os.path.basename(path), audio))
    buckle = sorted(glob.glob(os.path.join(PKGS, "bucklespring-data/usr/share/buckle/wav/*.wav")))
    val_keys = [p for p in buckle if is_val(os.path.basename(p).split("-")[0], 0.2)]
    train_keys = [p for p in buckle if p not in val_keys]
    for i in range(6):
        noise["train"].append((f"keyboard:typing{i}", keyboard_typing(train_keys, 30, rng)))
    for i in range(2):
        noise["val"].append((f"keyboard:typing{i}", keyboard_typing(val_keys, 30, rng)))
    for split in ("train", "val"):
        with open(os.path.join(OUT, f"speech_{split}.pkl"), "wb") as f:
            pickle.dump(speech[split], f)
        with open(os.path.join(OUT, f"noise_{split}.pkl"), "wb") as f:
            pickle.dump(noise[split], f)
        minutes = sum(len(a) for _, a in speech[split]) / SAMPLE_RATE / 60
        nmin = sum(len(a) for _, a in noise[split]) / SAMPLE_RATE / 60
        print(f"{split}: {len(speech[split])} speech clips ({minutes:.1f} min), "
              f"{len(noise[split])} noise clips ({nmin:.1f} min)")


if __name__ == "__main__":
    sys.exit(main())

"""Decode the fetched Debian audio into 16 kHz mono float32 clips, split by recording group.

Three splits, none sharing a recording with another:
- train and val: from the training sources, split by *group* (a game level, a language, a
  speaker, a folder), so that no recording session in validation is seen in training. Val picks
  the checkpoint.
- unseen: whole packages that training never touches, speech and noise (UNSEEN_* below), for
  the "unseen sources" table of `npm run eval`: the figures that predict voices, languages,
  microphones and noises nobody trained on.
- babble voices (train and val): talkers that are never clean targets, for babble only.
Output: <cache>/prepared/{speech,noise}_{train,val,unseen}.pkl and babble_{train,val}.pkl, each a
list of (name, float32 array), and manifest.json (what each split holds, by source, in minutes).
`prepare_data.py babble` adds the babble voices to a cache prepared before they existed.
"""
import glob
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from multiprocessing import Pool

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import SAMPLE_RATE  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
PKGS = os.path.join(CACHE, "pkgs")
OUT = os.path.join(CACHE, "prepared")
MAX_NOISE_SECONDS = 60  # long ambience loops: a minute each is variety enough

# Held out whole, for evaluation only: home recordings in 21 languages, Mandarin syllables,
# an Italian male prompt voice; machinery/ventilation/TV babble and work sounds/crowds.
UNSEEN_SPEECH = {"ktuberling-data", "gcin-voice", "asterisk-core-sounds-it-g722"}
UNSEEN_NOISE = {"ufoai-sound", "widelands-data"}


def is_val(key: str, fraction: float) -> bool:
    """Deterministic split on a stable hash of the grouping key (directory or file)."""
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return (h % 1000) < fraction * 1000


def to_rate(audio, rate):
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = np.gcd(int(rate), SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, int(rate) // g)
    return audio.astype(np.float32)


def load(path: str) -> np.ndarray:
    """A file, a member of a zip ('archive.zip!member'), or raw G.722 ('*.g722')."""
    if "!" in path:
        archive, member = path.split("!", 1)
        with zipfile.ZipFile(archive) as z:
            audio, rate = sf.read(io.BytesIO(z.read(member)), dtype="float32", always_2d=True)
        return to_rate(audio, rate)
    if path.endswith(".g722"):
        raw = subprocess.run(["ffmpeg", "-v", "error", "-f", "g722", "-i", path, "-f", "f32le", "-ac", "1",
                              "-ar", str(SAMPLE_RATE), "-"], capture_output=True, check=True).stdout
        return np.frombuffer(raw, np.float32).copy()
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return to_rate(audio, rate)


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


def pkg(name, *parts):
    return os.path.join(PKGS, name, *parts)


def files(pattern, regex=None):
    out = sorted(glob.glob(pattern, recursive=True))
    return [p for p in out if regex is None or re.search(regex, p)]


def members(archive, regex):
    if not os.path.exists(archive):
        return []
    with zipfile.ZipFile(archive) as z:
        return [f"{archive}!{m}" for m in sorted(z.namelist()) if re.search(regex, m)]


def speech_files():
    """(package, path, split-group key) for every speech recording used as a clean target."""
    out = []
    fillets = pkg("fillets-ng-data-nl", "usr/share/games/fillets-ng/sound")
    out += [("fillets-ng-data-nl", p, "fillets/" + p.split(os.sep)[-3]) for p in files(fillets + "/*/nl/*.ogg")]
    fillets_en = pkg("fillets-ng-data", "usr/share/games/fillets-ng/sound")
    out += [("fillets-ng-data", p, "fillets/" + p.split(os.sep)[-3]) for p in files(fillets_en + "/*/en/*.ogg")]
    out += [("klettres-data", p, "klettres/" + p.split(os.sep)[-3])
            for p in files(pkg("klettres-data", "usr/share/klettres/*/*/*.ogg"))]
    # one speaker: groups of 40 consecutive sentences
    out += [("festvox-ru", p, f"festvox/{i // 40}")
            for i, p in enumerate(files(pkg("festvox-ru", "usr/share/festival/voices/russian/*/wav/*.wav")))]
    # the Spanish descriptions are clipped: never a target
    out += [("tuxpaint-stamps-default", p, "tuxpaint/" + re.search(r"_desc_([a-zA-Z@_]+)", p).group(1))
            for p in files(pkg("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/**/*_desc_*.ogg"))
            if not re.search(r"_desc_es(_|\.)", p)]
    for lang in ("en", "es", "fr", "it", "ru"):
        name = f"asterisk-core-sounds-{lang}-g722"
        for p in files(pkg(name, "usr/share/asterisk/sounds/*/**/*.g722")):
            if "/silence/" not in p:
                out.append((name, p, f"asterisk/{lang}/" + os.path.basename(os.path.dirname(p))))
    out += [("ktuberling-data", p, "ktuberling/" + p.split(os.sep)[-2])
            for p in files(pkg("ktuberling-data", "usr/share/ktuberling/sounds/*/*.*"), r"\.(ogg|wav|flac)$")]
    out += [("gcin-voice", p, "gcin/" + p.split(os.sep)[-3]) for p in files(pkg("gcin-voice", "usr/share/gcin-voice/**/*.ogg"))]
    nexuiz = pkg("nexuiz-data", "usr/share/games/nexuiz/data/data.pk3")
    out += [("nexuiz-data", m, "nexuiz/" + m.split("!")[1].split("/")[2])
            for m in members(nexuiz, r"^sound/(player/[^/]+/coms|tutorial)/.*\.(ogg|wav)$")]
    out += [("megaglest-data", p, "megaglest/" + p.split(os.sep)[-3])
            for p in files(pkg("megaglest-data", "usr/share/games/megaglest/techs/**/units/*/sounds/*.*"),
                           r"_(ack|select|build|harvest|work_[a-z]+)\d*\.(wav|ogg)$")]
    out += [("kajongg", p, "kajongg/" + os.path.relpath(os.path.dirname(p), pkg("kajongg")))
            for p in files(pkg("kajongg", "usr/share/kajongg/voices/**/*.ogg"))]
    # 0 A.D.'s citizens: commands in Greek, Latin, Persian and Napatan, a woman's and a man's voice each
    out += [("0ad-data", m, "0ad/" + re.search(r"voice/([a-z]+)/civ/civ_(female|male)_", m).expand(r"\1/\2"))
            for m in members(pkg("0ad-data", "usr/share/games/0ad/mods/public/public.zip"),
                             r"^audio/voice/[a-z]+/civ/civ_(female|male)_.*\.ogg$")]
    return out


def babble_files():
    """(package, path, group) for voices that are never clean targets, only babble: talkers the
    model must not learn as "the speaker". DATA.md's degraded voices: the clipped Spanish
    tuxpaint descriptions, warzone2100's band-limited announcers, hedgewars' pitched-up voices."""
    out = [("tuxpaint-stamps-default", p, "tuxpaint-es/" + os.path.basename(os.path.dirname(p)))
           for p in files(pkg("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/**/*_desc_es*.ogg"))]
    out += [("warzone2100-data", m, "warzone/" + m.split("!")[1].split("/")[1])
            for m in members(pkg("warzone2100-data", "usr/share/games/warzone2100/base.wz"),
                             r"^audio/(memressp|tutorial|taunts|countdown|vtoltalk|nexus)/.*\.(ogg|wav)$")]
    out += [("hedgewars-data", p, "hedgewars/" + p.split(os.sep)[-2])
            for p in files(pkg("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/voices/*/*.ogg"))]
    return out


def prepare_babble(pool):
    """babble_{train,val}.pkl: (name, audio) of the babble-only voices, split by group."""
    voices = {"train": [], "val": []}
    minutes = {"train": {}, "val": {}}
    for package, path, group, audio in pool.imap(decode_speech, babble_files(), chunksize=16):
        if audio is None or len(audio) < SAMPLE_RATE // 4:
            continue
        split = "val" if is_val(group, 0.15) else "train"
        voices[split].append((os.path.relpath(path, PKGS), audio))
        minutes[split][package] = minutes[split].get(package, 0) + len(audio) / SAMPLE_RATE / 60
    for split, data in voices.items():
        with open(os.path.join(OUT, f"babble_{split}.pkl"), "wb") as f:
            pickle.dump(data, f)
        print(f"babble voices, {split}: {len(data)} clips ({sum(minutes[split].values()):.1f} min)")
    return {split: {k: round(v, 1) for k, v in sorted(t.items())} for split, t in minutes.items()}


def noise_files():
    """(package, path, category) for every real noise recording."""
    out = [("sonic-pi-samples", p, "sonicpi") for p in files(pkg("sonic-pi-samples", "usr/share/sonic-pi/samples/*.flac"))]
    fillets = pkg("fillets-ng-data", "usr/share/games/fillets-ng")
    out += [("fillets-ng-data", p, "music") for p in files(fillets + "/music/*.ogg")]
    out += [("fillets-ng-data", p, "effects") for p in files(fillets + "/sound/share/*.ogg")]
    zero_ad = pkg("0ad-data", "usr/share/games/0ad/mods/public/public.zip")
    out += [("0ad-data", m, "ambience") for m in members(zero_ad, r"^audio/ambient/.*\.(ogg|wav)$")]
    out += [("0ad-data", m, "animals") for m in members(zero_ad, r"^audio/voice/global/civ_dog_.*\.ogg$")]
    out += [("redeclipse-data", p, "ambience")
            for p in files(pkg("redeclipse-data", "usr/share/games/redeclipse/data/sounds/ambience/**/*.*"), r"\.(ogg|wav)$")]
    out += [("flightgear-data-base", p, "machine")
            for p in files(pkg("flightgear-data-base", "usr/share/games/flightgear/Sounds/**/*.*"), r"\.(ogg|wav)$")
            + files(pkg("flightgear-data-base", "usr/share/games/flightgear/Aircraft/c172p/Sounds/**/*.*"), r"\.(ogg|wav)$")]
    out += [("tuxpaint-stamps-default", p, "household")
            for p in files(pkg("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps/household/**/*.ogg"))
            if "_desc" not in p]
    seen = set()  # megaglest repeats its tileset sounds: keep one copy of each
    for p in files(pkg("megaglest-data", "usr/share/games/megaglest/tilesets/*/sounds/*.*"), r"\.(ogg|wav)$"):
        digest = hashlib.sha1(open(p, "rb").read()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(("megaglest-data", p, "ambience"))
    out += [("ufoai-sound", m, "machine") for m in members(pkg("ufoai-sound", "usr/share/games/ufoai/base/0snd.pk3"),
                                                           r"^sound/ambience/.*\.(ogg|wav)$")]
    out += [("widelands-data", p, "work")
            for p in files(pkg("widelands-data", "usr/share/games/widelands/data/sound/**/*.*"), r"\.(ogg|wav)$")]
    return out


def decode_speech(args):
    package, path, group = args
    try:
        return package, path, group, trim_silence(load(path))
    except Exception as e:  # a broken file is reported and skipped, never fatal
        print(f"skipped {path}: {e}", file=sys.stderr)
        return package, path, group, None


def decode_noise(args):
    package, path, category = args
    try:
        return package, path, category, load(path)[: MAX_NOISE_SECONDS * SAMPLE_RATE]
    except Exception as e:
        print(f"skipped {path}: {e}", file=sys.stderr)
        return package, path, category, None


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
    if sys.argv[1:] == ["babble"]:  # only the babble voices, into an existing prepared cache
        with Pool(os.cpu_count() or 2) as pool:
            babble = prepare_babble(pool)
        path = os.path.join(OUT, "manifest.json")
        manifest = json.load(open(path))
        manifest["babble"] = babble
        with open(path, "w") as f:
            json.dump(manifest, f, indent=1)
        return 0
    rng = np.random.default_rng(1234)
    splits = ("train", "val", "unseen")
    speech = {k: [] for k in splits}
    noise = {k: [] for k in splits}
    minutes = {"speech": {k: {} for k in splits}, "noise": {k: {} for k in splits}}

    def add(kind, split, package, name, audio):
        (speech if kind == "speech" else noise)[split].append((name, audio))
        table = minutes[kind][split]
        table[package] = table.get(package, 0) + len(audio) / SAMPLE_RATE / 60

    with Pool(os.cpu_count() or 2) as pool:
        for package, path, group, audio in pool.imap(decode_speech, speech_files(), chunksize=16):
            if audio is None or len(audio) < SAMPLE_RATE // 2:
                continue
            split = "unseen" if package in UNSEEN_SPEECH else "val" if is_val(group, 0.12) else "train"
            add("speech", split, package, os.path.relpath(path, PKGS), audio)
        for package, path, category, audio in pool.imap(decode_noise, noise_files(), chunksize=4):
            if audio is None or len(audio) < SAMPLE_RATE // 4 or np.abs(audio).max() < 1e-4:
                continue
            split = "unseen" if package in UNSEEN_NOISE else "val" if is_val(path, 0.15) else "train"
            add("noise", split, package, category + ":" + os.path.basename(path), audio)
        babble = prepare_babble(pool)
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode == 0:
        for split, voices, texts in (("train", ESPEAK_VOICES_TRAIN, ESPEAK_TEXT), ("val", ESPEAK_VOICES_VAL, ESPEAK_TEXT[:6])):
            for name, audio in espeak_clips(voices, texts, split):
                add("speech", split, "espeak-ng", name, audio)
    buckle = sorted(glob.glob(pkg("bucklespring-data", "usr/share/buckle/wav/*.wav")))
    val_keys = [p for p in buckle if is_val(os.path.basename(p).split("-")[0], 0.2)]
    train_keys = [p for p in buckle if p not in val_keys]
    for split, keys, count in (("train", train_keys, 6), ("val", val_keys, 2)):
        for i in range(count):
            add("noise", split, "bucklespring-data", f"keyboard:typing{i}", keyboard_typing(keys, 30, rng))
    for split in splits:
        for kind, data in (("speech", speech), ("noise", noise)):
            with open(os.path.join(OUT, f"{kind}_{split}.pkl"), "wb") as f:
                pickle.dump(data[split], f)
        print(f"{split}: {len(speech[split])} speech clips ({sum(minutes['speech'][split].values()):.1f} min), "
              f"{len(noise[split])} noise clips ({sum(minutes['noise'][split].values()):.1f} min)")
    manifest = {kind: {split: {k: round(v, 1) for k, v in sorted(t.items())} for split, t in d.items()}
                for kind, d in minutes.items()}
    manifest["babble"] = babble
    manifest["unseen_packages"] = sorted(UNSEEN_SPEECH | UNSEEN_NOISE)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())

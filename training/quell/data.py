"""Dynamic mixing of speech and noise with the augmentations of shared/DATA.md.

Every call of `Mixer.batch` draws new mixtures: SNR -5..25 dB by default, noise-only and speech-only
items, random gain, EQ and band-limiting, rooms (image-source shoeboxes and decaying-noise
reverb), DC offset and clipping.
Real noises come from the prepared Debian packages; synthetic ones (coloured noise, hum,
fan, babble, clicks) are generated here so the model meets more than the files hold.
"""
import os
import pickle

import numpy as np
from scipy.signal import fftconvolve, resample_poly

from .config import SAMPLE_RATE
from .rooms import shoebox_rir


def source_of(name):
    """The package (or espeak voice set) a prepared clip came from, from its name."""
    return name.split("/")[0] if not name.startswith("espeak/") else "espeak"


def load_split(cache, split):
    """(speech, noise): speech as (source, audio) pairs, noise as (category:file, audio) pairs."""
    with open(os.path.join(cache, "prepared", f"speech_{split}.pkl"), "rb") as f:
        speech = [(source_of(n), a) for n, a in pickle.load(f)]
    with open(os.path.join(cache, "prepared", f"noise_{split}.pkl"), "rb") as f:
        noise = pickle.load(f)
    return speech, noise


def load_babble(cache, split):
    """The babble-only voices (prepare_data.py), or [] in a cache prepared before they existed."""
    path = os.path.join(cache, "prepared", f"babble_{split}.pkl")
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return [a for _, a in pickle.load(f)]


def rms(x):
    return float(np.sqrt(np.mean(x * x) + 1e-12))


class Mixer:
    NOISE_KINDS = ["file", "file", "file", "file", "keyboard", "colored", "hum", "fan", "babble", "clicks", "knocks"]

    def __init__(self, speech, noise, seed=0, babble_voices=(), snr_range=(-5, 25), speed_range=None,
                 noise_after_speech=0.0, noise_variety=0.0, speech_first=0.0, noise_after_quiet=0.0, speech_rooms=0.3):
        """speech: (source, audio) pairs (or bare arrays); noise: (category:name, audio) pairs;
        babble_voices: recordings of talkers who are never targets, for babble; snr_range: the
        mixtures' SNR in dB, drawn uniformly; speed_range: (slowest, fastest) playback speed of
        each utterance (None: as recorded); noise_after_speech: the share of mixtures where the
        talker stops and another noise takes over (see item); noise_variety: the share of noise
        segments drawn from the kinds of VARIED_KINDS (see noise_segment); speech_first: the share of
        items with speech whose voice starts at their first sample (see item); noise_after_quiet: the
        share of noise onsets whose quiet stretch before them is another sound, not the same noise
        quieter (see item); speech_rooms: the share of items with speech whose voice is heard in a
        room (see reverb), the room's tail part of the clean target."""
        self.snr_range = tuple(snr_range)
        self.speed_range = speed_range
        self.noise_after_speech = noise_after_speech
        self.noise_variety = noise_variety
        self.speech_first = speech_first
        self.noise_after_quiet = noise_after_quiet
        self.speech_rooms = speech_rooms
        # Whether the last item is one the teachers get wrong (a voice from its first sample, a new
        # noise after a quiet room): training matches the clean speech there, not their output.
        self.untaught = False
        pairs = [x if isinstance(x, tuple) else ("all", x) for x in speech]
        self.speech = [a for _, a in pairs]
        # Draw a source first, weighted by the square root of its duration, then a clip: a
        # package of 6000 one-word clips must not drown one of 600 long sentences.
        groups = {}
        for i, (source, audio) in enumerate(pairs):
            groups.setdefault(source, []).append(i)
        self.speech_groups = [np.array(v) for v in groups.values()]
        weight = np.array([np.sqrt(sum(len(self.speech[i]) for i in v)) for v in self.speech_groups])
        self.group_weights = weight / weight.sum()
        self.noise_files = [a for n, a in noise if not n.startswith("keyboard:")]
        self.keyboard = [a for n, a in noise if n.startswith("keyboard:")] or self.noise_files
        self.babble_voices = list(babble_voices)
        self.rng = np.random.default_rng(seed)

    # ---- speech -------------------------------------------------------------------------
    def speech_segment(self, length, voices=None, first=False):
        """Concatenate random utterances, with natural pauses, to fill `length` samples: of the
        training talkers, or of `voices` (a list of recordings) when given. `first`: the first
        utterance starts at the first sample, else after a pause of up to half a second."""
        out = np.zeros(length, np.float32)
        t = 0 if first else int(self.rng.uniform(0, 0.5) * SAMPLE_RATE)
        while t < length:
            if voices is None:
                group = self.speech_groups[self.rng.choice(len(self.speech_groups), p=self.group_weights)]
                clip = self.speech[group[self.rng.integers(len(group))]]
            else:
                clip = voices[self.rng.integers(len(voices))]
            if self.speed_range:
                clip = self.speed(clip)
            clip = clip / (rms(clip) + 1e-9) * 10 ** (self.rng.uniform(-6, 3) / 20)
            n = min(len(clip), length - t)
            out[t:t + n] = clip[:n]
            t += n + int(self.rng.uniform(0.05, 0.8) * SAMPLE_RATE)
        return out

    def speed(self, clip):
        """The utterance played faster or slower: pitch and formants move together, as from a
        shorter or longer vocal tract, so a few hundred recorded talkers stand for many more.
        Speeds come in steps of 1/20 (a short polyphase filter per step)."""
        low, high = (round(20 * v) for v in self.speed_range)
        steps = int(self.rng.integers(low, high + 1))
        return clip if steps == 20 else resample_poly(clip, 20, steps).astype(np.float32)

    # ---- noise --------------------------------------------------------------------------
    def crop(self, audio, length):
        if len(audio) < length:
            audio = np.tile(audio, length // len(audio) + 1)
        start = self.rng.integers(0, len(audio) - length + 1)
        return audio[start:start + length].astype(np.float32)

    def colored(self, length):
        alpha = self.rng.uniform(0, 2)  # 0 white, 1 pink, 2 brown
        spec = np.fft.rfft(self.rng.standard_normal(length))
        f = np.maximum(np.fft.rfftfreq(length, 1 / SAMPLE_RATE), 20)
        x = np.fft.irfft(spec / f ** (alpha / 2), length)
        return x * self.modulation(length)

    def modulation(self, length):
        t = np.arange(length) / SAMPLE_RATE
        depth = self.rng.uniform(0, 0.5)
        return 1 + depth * np.sin(2 * np.pi * self.rng.uniform(0.05, 2) * t + self.rng.uniform(0, 6.3))

    def hum(self, length):
        t = np.arange(length) / SAMPLE_RATE
        f0 = self.rng.choice([50.0, 60.0]) * self.rng.uniform(0.99, 1.01)
        x = np.zeros(length)
        for k in range(1, self.rng.integers(3, 16)):
            x += self.rng.uniform(0.1, 1) / k ** self.rng.uniform(0, 1.5) * np.sin(2 * np.pi * f0 * k * t + self.rng.uniform(0, 6.3))
        return x + 0.01 * rms(x) * self.rng.standard_normal(length)

    def fan(self, length):
        spec = np.fft.rfft(self.rng.standard_normal(length))
        f = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
        centre, width = self.rng.uniform(100, 3000), self.rng.uniform(100, 2000)
        x = np.fft.irfft(spec * np.exp(-0.5 * ((f - centre) / width) ** 2), length)
        t = np.arange(length) / SAMPLE_RATE
        blade = np.sin(2 * np.pi * self.rng.uniform(80, 400) * t) * rms(x) * self.rng.uniform(0, 1)
        return x + blade

    def babble(self, length):
        """4–8 talkers at once; with babble voices, most of them people the model never hears as
        the speaker to keep (in a call, the chatter is other people)."""
        x = np.zeros(length, np.float32)
        for _ in range(self.rng.integers(4, 9)):
            voices = self.babble_voices if self.babble_voices and self.rng.random() < 0.7 else None
            talker = self.speech_segment(length, voices)
            x += talker * self.rng.uniform(0.5, 1)
        return x

    def clicks(self, length):
        x = np.zeros(length)
        rate = self.rng.uniform(1, 20)
        for pos in self.rng.integers(0, length, int(rate * length / SAMPLE_RATE) + 1):
            n = int(self.rng.uniform(0.001, 0.02) * SAMPLE_RATE)
            burst = self.rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 4)) * self.rng.uniform(0.2, 1)
            x[pos:pos + n] += burst[:length - pos]
        return x

    def knocks(self, length):
        """Impulsive events (knocks, dishes, doors): short cuts of real noise, sharp attack, fast decay."""
        x = np.zeros(length, np.float32)
        for _ in range(self.rng.integers(1, 6)):
            n = int(self.rng.uniform(0.02, 0.3) * SAMPLE_RATE)
            src = self.crop(self.noise_files[self.rng.integers(len(self.noise_files))], n)
            env = np.exp(-np.arange(n) / (n * self.rng.uniform(0.05, 0.3)))
            burst = src * env / (np.abs(src).max() + 1e-9) * self.rng.uniform(0.3, 1)
            pos = self.rng.integers(0, max(1, length - n))
            x[pos:pos + n] += burst[:length - pos]
        return x

    # Sixty-odd minutes of recorded noise are a few hundred sources, and a model learns what noise is
    # from them: a struck pan or a smoke alarm that none of them resembles passes as a voice. With
    # `noise_variety`, that share of noise segments comes from kinds no recording here covers well.
    VARIED_KINDS = ["strikes", "strikes", "tones", "recast", "recast", "recast"]

    def strikes(self, length):
        """Struck objects: a hammer on metal, dishes, glass, a knock on wood. Each strike rings a few
        damped resonances at unrelated frequencies (inharmonic, unlike a voice) over a short noisy
        attack; one object struck at a steady beat, or at random, sometimes another each time."""
        x = np.zeros(length)
        regular, interval = self.rng.random() < 0.5, self.rng.uniform(0.12, 1.0) * SAMPLE_RATE
        same_object = self.rng.random() < 0.7
        modes = None
        t = int(self.rng.uniform(0, 0.3) * SAMPLE_RATE)
        while t < length:
            if modes is None or not same_object:
                k = self.rng.integers(2, 11)
                modes = (np.exp(self.rng.uniform(np.log(150), np.log(7500), k)),  # frequency (Hz)
                         np.exp(self.rng.uniform(np.log(0.004), np.log(0.4), k)),  # decay time constant (s)
                         self.rng.uniform(0.2, 1, k))  # amplitude
            freqs, taus, amps = modes
            n = min(length - t, int(min(1.0, 5 * taus.max()) * SAMPLE_RATE) + 1)
            s = np.arange(n) / SAMPLE_RATE
            ring = (amps[:, None] * np.exp(-s[None] / taus[:, None])
                    * np.sin(2 * np.pi * freqs[:, None] * s[None] + self.rng.uniform(0, 6.3, (len(freqs), 1)))).sum(0)
            attack = self.rng.standard_normal(n) * np.exp(-s / self.rng.uniform(0.001, 0.01)) * self.rng.uniform(0, 1)
            x[t:t + n] += (ring / (np.abs(ring).max() + 1e-9) + attack) * 10 ** (self.rng.uniform(-6, 0) / 20)
            gap = interval * self.rng.uniform(0.9, 1.1) if regular else self.rng.exponential(interval)
            t += max(int(gap), int(0.03 * SAMPLE_RATE))
        return x + self.room_tone(x)

    def room_tone(self, x):
        """A faint steady hiss, 35–60 dB under x's peak, for the gaps between bursts: a real
        microphone never hands exact zeros between two knocks."""
        hiss = self.colored(len(x))
        return hiss / (rms(hiss) + 1e-12) * np.abs(x).max() * 10 ** (-self.rng.uniform(35, 60) / 20)

    def tones(self, length):
        """Beeps, alarms, sirens, whistles, a ringing phone: a tone and a few harmonics, steady,
        wailing or sweeping, held or pulsed."""
        t = np.arange(length) / SAMPLE_RATE
        f0 = np.exp(self.rng.uniform(np.log(250), np.log(3500)))
        style, rate = self.rng.integers(3), self.rng.uniform(0.2, 4)
        octaves = self.rng.uniform(0.1, 1)
        if style == 0:
            freq = np.full(length, f0)
        elif style == 1:  # a siren's wail
            freq = f0 * 2 ** (octaves * np.sin(2 * np.pi * rate * t))
        else:  # a repeated sweep
            freq = f0 * 2 ** (octaves * ((rate * t) % 1))
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        rolloff = self.rng.uniform(0.5, 3)
        x = np.zeros(length)
        for h in range(1, self.rng.integers(2, 7)):
            x += np.where(h * freq < 0.95 * SAMPLE_RATE / 2, np.sin(h * phase) / h ** rolloff, 0)
        if self.rng.random() < 0.5:  # beeping: on and off, with 5 ms ramps
            period, duty = self.rng.uniform(0.1, 1.5), self.rng.uniform(0.2, 0.8)
            on = ((t / period) % 1 < duty).astype(float)
            x *= np.convolve(on, np.ones(80) / 80, mode="same")
        return x + 0.003 * rms(x) * self.rng.standard_normal(length)

    def recast(self, length):
        """A recorded noise as another source would sound: played faster or slower (0.5–2×, its
        pitch and pace with it), through a resonant EQ of its own, cut into bursts with a sharp
        attack (a steady machine becomes an intermittent one), or backwards; one or more of these."""
        src = self.noise_files[self.rng.integers(len(self.noise_files))]
        changes = self.rng.random(4) < 0.5
        if not changes.any():
            changes[0] = True
        speed_steps = int(self.rng.integers(10, 41)) if changes[0] else 20  # speed in twentieths
        x = self.crop(src, -(-length * speed_steps // 20) + 1)
        if speed_steps != 20:
            x = resample_poly(x, 20, speed_steps)
        x = np.asarray(x[:length], np.float64)
        if changes[1]:
            f = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
            points = np.geomspace(50, SAMPLE_RATE / 2, 9)
            curve = np.interp(np.log(np.maximum(f, 50)), np.log(points), self.rng.uniform(-15, 15, len(points)))
            x = np.fft.irfft(np.fft.rfft(x) * 10 ** (curve / 20), length)
        if changes[2]:
            envelope = np.zeros(length)
            t = int(self.rng.uniform(0, min(0.5 * SAMPLE_RATE, length / 2)))
            while t < length:
                n = min(length - t, int(self.rng.uniform(0.03, 0.6) * SAMPLE_RATE))
                decay = self.rng.uniform(0.02, 1.0) * n
                envelope[t:t + n] = np.exp(-np.arange(n) / decay) * np.minimum(1, np.arange(n) / 16)
                t += n + int(self.rng.uniform(0.05, 1.0) * SAMPLE_RATE)
            x = x * envelope
            x = x + self.room_tone(x)
        if changes[3]:
            x = x[::-1]
        return x

    def noise_segment(self, length):
        # Tested first and short-circuited: with no variety, no number is drawn for it (see item).
        if self.noise_variety and self.rng.random() < self.noise_variety:
            kind = self.VARIED_KINDS[self.rng.integers(len(self.VARIED_KINDS))]
            return np.asarray(getattr(self, kind)(length), np.float32)
        kind = self.NOISE_KINDS[self.rng.integers(len(self.NOISE_KINDS))]
        if kind == "file":
            x = self.crop(self.noise_files[self.rng.integers(len(self.noise_files))], length)
        elif kind == "keyboard":
            x = self.crop(self.keyboard[self.rng.integers(len(self.keyboard))], length)
        else:
            x = getattr(self, kind)(length)
        return np.asarray(x, np.float32)

    # ---- room and microphone ------------------------------------------------------------
    def reverb(self, x, near=False):
        """x in a room: two times in three a shoebox room by the image-source method (its early
        reflections colour the sound as real rooms do; `near`: the microphone close to the source,
        as for a talker), else a decaying-noise reverb (the evaluation set's rooms)."""
        if self.rng.random() < 1 / 3:
            return self.noise_tail_reverb(x)
        ir = shoebox_rir(self.rng, SAMPLE_RATE, near=near)
        return fftconvolve(x, ir)[: len(x)].astype(np.float32)

    def noise_tail_reverb(self, x):
        """A mild reverb: the direct sound and a decaying noise burst 8–20 dB below it."""
        rt60 = self.rng.uniform(0.1, 0.8)
        n = int(rt60 * SAMPLE_RATE)
        ir = self.rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60
        ir *= 10 ** (self.rng.uniform(-20, -8) / 20) / rms(ir) / np.sqrt(n)
        ir[0] = 1.0
        return fftconvolve(x, ir)[: len(x)].astype(np.float32)

    def eq(self, *signals):
        """A random smooth EQ curve, sometimes band-limited: another microphone and room."""
        f = np.fft.rfftfreq(len(signals[0]), 1 / SAMPLE_RATE)
        points = np.array([0, 100, 300, 1000, 3000, 6000, 8000])
        gains_db = self.rng.uniform(-6, 6, len(points))
        curve = 10 ** (np.interp(f, points, gains_db) / 20)
        if self.rng.random() < 0.2:
            curve *= 1 / (1 + (f / self.rng.uniform(3000, 7000)) ** 8)  # low-pass
        if self.rng.random() < 0.3:
            curve *= 1 / (1 + (self.rng.uniform(50, 250) / np.maximum(f, 1)) ** 4)  # high-pass
        return [np.fft.irfft(np.fft.rfft(x) * curve, len(x)).astype(np.float32) for x in signals]

    # ---- a mixture ----------------------------------------------------------------------
    def item(self, length, snr_db=None, kind=None):
        """One (noisy, clean) pair. kind: None (random), 'mix', 'speech_only', 'noise_only'."""
        r = self.rng.random()
        kind = kind or ("noise_only" if r < 0.1 else "speech_only" if r < 0.2 else "mix")
        # A voice from the first sample: the model's first frames, from its zero state, are speech.
        # Otherwise they almost never are (a pause in digital silence is not stepped, but the EQ's
        # pre-echo, a DC offset or the noise fills it), while a page that starts on a talker, or
        # clips that begin in digital silence, give exactly that; a model that has only learnt
        # "what I hear first is the background" takes such a voice down by tens of dB.
        # Short-circuited like noise_after_speech: with no share, no number is drawn.
        first = bool(self.speech_first and kind != "noise_only" and self.rng.random() < self.speech_first)
        self.untaught = first
        speech = np.zeros(length, np.float32) if kind == "noise_only" else self.speech_segment(length, first=first)
        if kind != "noise_only" and self.rng.random() < self.speech_rooms:
            speech = self.reverb(speech, near=True)
        noise = np.zeros(length, np.float32)
        if kind != "speech_only":
            noise = self.noise_segment(length)
            if self.rng.random() < 0.3:
                noise = self.reverb(noise)  # the noise's own room, drawn apart from the voice's
            if self.rng.random() < 0.25:
                noise = noise / (rms(noise) + 1e-9) + self.noise_segment(length) / (rms(noise) + 1e-9) * 0.5
            snr = self.rng.uniform(*self.snr_range) if snr_db is None else snr_db
            ref = rms(speech) if kind == "mix" else 0.05
            noise = noise / (rms(noise) + 1e-9) * ref * 10 ** (-snr / 20)
            if self.rng.random() < 0.3:
                # Noise that starts after a quiet stretch (a fan switched on, a mic unmuted): the
                # model must not take a quiet beginning as proof that whatever follows is speech.
                onset = int(self.rng.uniform(0.05, 0.6) * length)
                # Short-circuited too. The same noise quieter teaches a level change; another
                # sound before it (a microphone's own floor, a faint other noise) teaches that a
                # noise the room has not held before is still noise: a model that has learnt only
                # the first passes a fan switched on in a quiet room for seconds, as a voice.
                if self.noise_after_quiet and self.rng.random() < self.noise_after_quiet:
                    before = self.colored(onset) if self.rng.random() < 0.5 else self.noise_segment(onset)
                    noise[:onset] = before / (rms(before) + 1e-9) * rms(noise) * 10 ** (self.rng.uniform(-60, -20) / 20)
                    self.untaught = True
                else:
                    noise[:onset] *= 10 ** (self.rng.uniform(-80, -20) / 20)
        # Tested first and short-circuited, so that with the share at zero the random draws (and the
        # evaluation sets made from a seed) stay what they were.
        if self.noise_after_speech and kind == "mix" and self.rng.random() < self.noise_after_speech:
            speech, noise = self.noise_takes_over(speech, noise)
        if self.rng.random() < 0.7:
            speech, noise = self.eq(speech, noise)
        if kind == "mix" and self.rng.random() < 0.15:
            # impulsive noise over speech at high peak level: a door, a dropped spoon
            noise = noise + self.knocks(length) * rms(speech) * 10 ** (self.rng.uniform(0, 20) / 20)
        mix = speech + noise
        # speech from −45 (a quiet voice far from the microphone) to −6 dBFS (a loud close one)
        level = rms(speech) if kind != "noise_only" else rms(mix)
        gain = 10 ** (self.rng.uniform(-45, -6) / 20) / (level + 1e-9)
        gain = min(gain, 0.99 / (np.abs(mix).max() + 1e-9))  # a real microphone stops at full scale
        speech, mix = speech * gain, mix * gain
        if self.rng.random() < 0.2:
            mix = mix + self.rng.uniform(-0.02, 0.02)  # DC offset of a cheap microphone
        if self.rng.random() < 0.05:
            limit = np.abs(mix).max() * self.rng.uniform(0.3, 0.9)
            mix = np.clip(mix, -limit, limit)  # clipping
        if self.rng.random() < 0.08:
            # Digital silence: a microphone that delivers zeros before its first sample, or while
            # muted. What the model makes of it stays in its recurrent state long after.
            start = 0 if self.rng.random() < 0.5 else self.rng.integers(0, length)
            stop = min(length, start + int(self.rng.uniform(0.01, 1.5) * SAMPLE_RATE))
            mix[start:stop] = 0
            speech[start:stop] = 0
        return mix.astype(np.float32), speech.astype(np.float32)

    def noise_takes_over(self, speech, noise):
        """The talker stops and another noise starts, as loud as the voice was give or take 10 dB: a
        door, a knock, a fan after a sentence. A model that has just heard a voice at some level
        must not pass whatever comes next at that level as more of it."""
        length = len(speech)
        cut = int(self.rng.uniform(0.3, 0.8) * length)
        level = rms(speech[:cut]) * 10 ** (self.rng.uniform(-10, 10) / 20)
        speech, noise = speech.copy(), noise.copy()
        speech[cut:] = 0
        tail = self.noise_segment(length - cut)
        fade = np.minimum(1, np.arange(length - cut) / (0.01 * SAMPLE_RATE))  # no click at the cut
        noise[cut:] = noise[cut:] * (1 - fade) + tail / (rms(tail) + 1e-9) * level * fade
        return speech, noise

    def batch(self, size, length):
        return self.batch_marked(size, length)[:2]

    def batch_marked(self, size, length):
        """(noisy, clean, untaught): a batch, and which of its items the teachers get wrong (see
        `untaught`)."""
        pairs, marks = [], []
        for _ in range(size):
            pairs.append(self.item(length))
            marks.append(self.untaught)
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), np.array(marks)

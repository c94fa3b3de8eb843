"""Causal mask models: 257 STFT magnitudes in, a 257-bin gain mask in [0, 1] out.

Every family (GRU, LSTM, vanilla RNN, causal dilated CNN) offers two views of the same
weights: `forward(mag)` runs a whole sequence [B, T, 257]; `step(mag, *states)` runs one
frame [B, 257] with the recurrent state carried explicitly. The streaming promise is that
stepping frame by frame equals the whole-sequence run; tests/test_parity.py checks it.

Feature compression and normalisation live inside the model so the app passes raw
magnitudes and training and serving cannot drift.
"""
import functools
import math

import torch
from torch import nn

from .config import FFT_SIZE, HOP_SIZE, N_BINS, SAMPLE_RATE

# Level normalisation follows the input's level with a 1 s time constant, and starts as a plain
# running average (weight 1/count) so that the first frame already sets the level.
LEVEL_TAU_SECONDS = 1.0
LEVEL_MIN_WEIGHT = 1 - math.exp(-HOP_SIZE / (SAMPLE_RATE * LEVEL_TAU_SECONDS))
# Level state: the per-bin running mean of log power, and the count of frames seen (in float32
# it stops growing after 2^24 frames, 37 hours, long after the weight has reached its floor).
LEVEL_STATES = [("level_mean", [1, N_BINS]), ("level_count", [1, 1])]
# The noise floor follows each bin's log power down fast and up slowly, so speech lifts it little
# and a pause brings it back: the classical minimum-tracking noise estimate, which the running
# mean is not (a voice lifts the mean as much as a noise does). Its state is one more per-bin row.
FLOOR_STATE = ("noise_floor", [1, N_BINS])
DB = math.log(10) / 10  # one decibel of power in natural-log units
FLOOR_RISE = 6 * DB * HOP_SIZE / SAMPLE_RATE  # 6 dB a second, per frame
FLOOR_FALL = 3 * DB  # per frame: one frame's dip in a bin (a periodogram's zero) costs at most 3 dB


# The voicing view: how strongly each frame's spectrum repeats at a voice's pitch. A voiced sound is
# a comb of harmonics, a peak in the cepstrum (the log spectrum's cosine transform) at its period;
# noise has none. The peak's height is a maximum over periods, which the linear encoder cannot
# take, and it needs no history: a voice heard first shows it in its first frame. It is read from
# the bins where voices keep their strongest harmonics (62 Hz to 3 kHz) at every other period from
# 80 to 400 Hz (the peak is wider than two samples there), and given as the highest value in each
# of VOICING_RANGES equal stretches of those periods. Its cost is the step graph's nodes more than
# its multiplies, and it has to fit the CPU target.
VOICING_BINS = (2, 97)  # [first, last) bin
VOICING_PERIODS = (40, 200, 2)  # [shortest, longest) period in samples, 400 Hz down to 80 Hz, and the step
VOICING_RANGES = 8


@functools.lru_cache(maxsize=1)
def voicing_basis():
    """[bins, periods] float64: the cosine at each period over VOICING_BINS, centred over the bins
    (so a level, a constant in log power, adds nothing) and divided by their count. Built once:
    every forward pass reads it; callers do not write to it."""
    k = torch.arange(*VOICING_BINS, dtype=torch.float64)[:, None]
    q = torch.arange(*VOICING_PERIODS, dtype=torch.float64)[None, :]
    basis = torch.cos(2 * math.pi * k * q / FFT_SIZE)
    return (basis - basis.mean(0, keepdim=True)) / k.numel()


def voicing(log_power):
    """[..., bins] log power → [..., VOICING_RANGES]: the cepstrum's peak in each range of periods."""
    basis = voicing_basis().to(log_power.dtype).to(log_power.device)
    cepstrum = log_power[..., VOICING_BINS[0]:VOICING_BINS[1]] @ basis
    return cepstrum.unflatten(-1, (VOICING_RANGES, -1)).amax(-1)


# Bands, as the field's small denoisers read and mask a spectrum (GTCRN's split; RNNoise and
# DeepFilterNet band it all): the bins below BAND_SPLIT one by one, where a voice's harmonics stand
# apart, and above it HIGH_BANDS bands equally spaced on the ERB scale, each a triangle over its
# neighbours' centres. With `bands`, the encoder reads each per-bin view averaged into them, and the
# decoder gives one logit per band, interpolated back over the bins: above 2 kHz the model can
# neither key on nor carve a noise's fine detail, which is what a model that learns its training
# noises' spectra would. Both fold into the step graph's encoder and decoder weights, at no cost.
BAND_SPLIT = 64  # bins 0 … 63 (0 to 1.97 kHz) are their own bands
HIGH_BANDS = 64
N_BANDS = BAND_SPLIT + HIGH_BANDS


def erb_number(freqs):
    """Glasberg and Moore's ERB-number scale of frequencies in Hz."""
    return 21.4 * torch.log10(1 + 0.00437 * freqs)


@functools.lru_cache(maxsize=1)
def band_matrices():
    """(pool [N_BANDS, bins], spread [bins, N_BANDS]) float64. spread interpolates band values to
    the bins (each row sums to one: a bin between two band centres takes both, by distance); pool
    averages the bins into the bands with the same triangles (each row sums to one). Built once:
    callers do not write to them."""
    erb = erb_number(torch.arange(N_BINS, dtype=torch.float64) * (SAMPLE_RATE / 2) / (N_BINS - 1))
    centres = torch.linspace(float(erb[BAND_SPLIT - 1]), float(erb[-1]), HIGH_BANDS + 1)[1:]
    spread = torch.zeros(N_BINS, N_BANDS, dtype=torch.float64)
    spread[:BAND_SPLIT, :BAND_SPLIT] = torch.eye(BAND_SPLIT, dtype=torch.float64)
    positions = torch.cat([erb[BAND_SPLIT - 1:BAND_SPLIT], centres])  # the last own-bin band, then the high centres
    for k in range(BAND_SPLIT, N_BINS):
        j = min(int(torch.searchsorted(positions, erb[k])), HIGH_BANDS)  # positions[j - 1] < erb[k] <= positions[j]
        t = min(1.0, max(0.0, float((erb[k] - positions[j - 1]) / (positions[j] - positions[j - 1]))))
        spread[k, BAND_SPLIT - 2 + j] += 1 - t
        spread[k, BAND_SPLIT - 1 + j] += t
    weight = spread.sum(0)
    if not bool((weight > 0).all()):
        raise AssertionError("a band with no bin under it")
    return spread.T / weight[:, None], spread


def level_states(level_norm, noise_floor=False):
    """(name, shape) of the feature states carried with the recurrent or convolutional ones."""
    return (LEVEL_STATES if level_norm else []) + ([FLOOR_STATE] if noise_floor else [])


class Features(nn.Module):
    """log power, normalised per feature with statistics measured on training data.

    With `level_norm`, the features do not depend on the input's level: a causal running mean
    of each bin's log power (state carried like the recurrent state) is subtracted, giving two
    views of each frame: log power minus the running mean over all bins (the spectrum's shape and
    how loud this frame is against the recent past), and minus each bin's own running mean (what
    is new in that bin). A voice at −45 dBFS and the same voice at −6 dBFS look alike.
    With `noise_floor` as well, a third view: log power minus each bin's noise floor (see FLOOR_STATE),
    an estimate of that bin's SNR that a speaker's words do not wash out.
    With `voicing`, last, VOICING_RANGES values: how voiced the frame is (see voicing()).
    With `bands`, each per-bin view is averaged into the N_BANDS bands (see band_matrices).
    """

    def __init__(self, level_norm=False, noise_floor=False, voicing=False, bands=False):
        super().__init__()
        if noise_floor and not level_norm:
            raise ValueError("the noise floor is a level-normalised model's third view: it needs level_norm")
        if voicing and not level_norm:
            raise ValueError("the voicing view is read beside the level-normalised views: it needs level_norm")
        if bands and not level_norm:
            raise ValueError("bands average the level-normalised views: they need level_norm")
        self.level_norm, self.noise_floor, self.voicing, self.bands = level_norm, noise_floor, voicing, bands
        self.views = 3 if noise_floor else 2 if level_norm else 1
        size = self.views * (N_BANDS if bands else N_BINS) + (VOICING_RANGES if voicing else 0)
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))

    def raw(self, mag, level=None):
        """[B, T, bins] magnitudes and the level state [mean [B, bins], count [B, 1], and with
        noise_floor the floor [B, bins]] (None: zeros) → (unstandardised features [B, T, size], next
        level state or None)."""
        log_power = torch.log(mag * mag + 1e-10)
        if not self.level_norm:
            return log_power, None
        if level is None:
            level = [mag.new_zeros(mag.shape[0], s[-1]) for _, s in level_states(True, self.noise_floor)]
        mean, count = level[:2]
        floor = level[2] if self.noise_floor else None
        means, floors = [], []
        for t in range(mag.shape[1]):
            if self.noise_floor:
                floor = torch.where(count == 0, log_power[:, t], floor)  # a stream's first frame sets it
                floor = floor + torch.clamp(log_power[:, t] - floor, -FLOOR_FALL, FLOOR_RISE)
                floors.append(floor)
            count = count + 1
            weight = torch.clamp(1 / count, min=LEVEL_MIN_WEIGHT)
            mean = mean + weight * (log_power[:, t] - mean)
            means.append(mean)
        means = torch.stack(means, 1)
        overall = means.mean(-1, keepdim=True)
        views = [log_power - overall, log_power - means]
        if self.noise_floor:
            views.append(log_power - torch.stack(floors, 1))
        views = [self.banded(view) for view in views]
        if self.voicing:
            views.append(voicing(log_power))
        return torch.cat(views, -1), [mean, count] + ([floor] if self.noise_floor else [])

    def banded(self, view):
        """A per-bin view [..., bins] as the encoder reads it: as it is, or averaged into bands."""
        return view @ band_matrices()[0].T.to(view.dtype) if self.bands else view

    def states(self):
        """(name, shape) of the states these features carry."""
        return level_states(self.level_norm, self.noise_floor)

    def standardise(self, raw):
        return (raw - self.mean) / self.std

    def forward(self, mag, level=None):
        x, level = self.raw(mag, level)
        return self.standardise(x), level


# The scale that brings the refiner's views (log power differences in nepers, a spread of several
# units) near the logits' own.
REFINER_VIEW_SCALE = 0.25


def gained_mask(logits, mask_gain):
    """The decoder's sigmoid, times the model's make-up gain, at most one.

    Trained masks settle below one on a clean voice (the compressed complex loss is least for a
    mask under one wherever the phase is uncertain, and SI-SDR cannot see a level): the voice would
    come out quieter than it went in. `export.py` measures that level on validation speech and
    sets `mask_gain` to undo it, which lifts everything the mask passes, noise included, alike.
    """
    mask = torch.sigmoid(logits)
    return mask if mask_gain == 1.0 else (mask * mask_gain).clamp(max=1.0)


class MaskDecoding:
    """What every family does last: hidden state → logits → gained_mask, the logits a linear map
    (`decoder`) and, with `local_snr`, also each bin's own SNR estimate (its log power over its
    noise floor: the noise-floor view before standardising) times a slope per bin that the hidden
    state sets (`snr_slope`).

    Through the linear map alone every frame's logits lie in a `hidden`-dimensional family, and a
    model this small cannot follow each bin's SNR through it. A slope on the bin's own estimate is
    the classical suppressor's per-bin gain, which the model can lean on where the floor is a good
    noise estimate (steady noise) and turn down where it is not (a transient, a voice's onset).
    Its weights start at zero, so a model it is added to keeps its masks.

    With `refiner` (a number of channels) each bin's logit then passes a small network, the same
    few weights at every bin: it reads the logit beside the bin's own
    views (log power over its running mean, and over its noise floor when the model has one) and
    adds a correction. It is what the linear map cannot be, a nonlinear decision per bin on that
    bin's own evidence, at a cost that does not grow with the hidden size. Its last layer starts at
    zero, so a model it is added to keeps its masks.
    """

    def init_decoding(self, hidden, mask_gain, noise_floor, local_snr, refiner=0, level_norm=True, bands=False):
        if local_snr and not noise_floor:
            raise ValueError("the local SNR is each bin's log power over its noise floor: it needs noise_floor")
        if refiner and not level_norm:
            raise ValueError("the refiner reads the level-normalised views: it needs level_norm")
        if bands and (local_snr or refiner):
            raise ValueError("the local SNR and the refiner read per-bin views: not with bands")
        self.mask_gain, self.local_snr, self.refiner_channels, self.bands = float(mask_gain), local_snr, refiner, bands
        self.decoder = nn.Linear(hidden, N_BANDS if bands else N_BINS)
        nn.init.constant_(self.decoder.bias, 2.0)  # start near pass-through: do no harm
        if local_snr:
            self.snr_slope = nn.Linear(hidden, N_BINS)
            nn.init.zeros_(self.snr_slope.weight)
            nn.init.zeros_(self.snr_slope.bias)
        if refiner:
            inputs = 3 if noise_floor else 2  # the logit, then each bin's own views
            self.refiner = nn.Sequential(nn.Linear(inputs, refiner), nn.PReLU(), nn.Linear(refiner, 1))
            nn.init.zeros_(self.refiner[2].weight)
            nn.init.zeros_(self.refiner[2].bias)

    def decode(self, y, raw, skipped=None):
        """y: hidden [..., hidden]; raw: the unstandardised features of the same frames; skipped:
        what a skip around the recurrent layers adds to the decoder's logits (RecurrentMask)."""
        logits = self.decoder(y)
        if skipped is not None:
            logits = logits + skipped
        if self.bands:
            logits = logits @ band_matrices()[1].T.to(logits.dtype)
        if self.local_snr:
            logits = logits + self.snr_slope(y) * raw[..., 2 * N_BINS:3 * N_BINS]
        if self.refiner_channels:
            per_bin = raw[..., N_BINS:raw.shape[-1] // N_BINS * N_BINS]  # not the voicing view, if any
            own_views = per_bin.unflatten(-1, (-1, N_BINS)) * REFINER_VIEW_SCALE  # [..., views, bins]
            inputs = torch.cat([logits.unsqueeze(-2), own_views], -2).transpose(-1, -2)  # [..., bins, 1 + views]
            logits = logits + self.refiner(inputs)[..., 0]
        return gained_mask(logits, self.mask_gain)


class RecurrentMask(nn.Module, MaskDecoding):
    """Linear encoder, stacked GRU/LSTM/RNN, linear decoder with a sigmoid.

    With `skip`, the decoder also reads the encoder's output, around the recurrent layers (`skip`,
    a second linear map added to the decoder's logits): the last layer's state has to carry both
    what the recent past says about the noise and the detail of this frame's spectrum, in `hidden`
    values; the skip hands the decoder this frame's detail directly, as a U-Net's skips do, and
    leaves the state to the past. Its weights start at zero, so a model it is added to keeps its
    masks. In the step graph it is one Concat: the decoder's Gemm reads both rows.

    `set_dropout` (train.py --dropout) drops units of the recurrent layers' input, of what passes
    between them and of their output while training: a model this small, trained on a few hundred
    voices and an hour of noise, learns its sources' quirks (validation on held-out files of the
    training sources rises where unseen sources do not), and DTLN, the strongest small peer on
    unseen sources, trains with dropout between its recurrent layers. It has no weights and is off
    in eval(), so the step graph and every export are as without it.
    """

    def __init__(self, cell="gru", hidden=128, layers=2, level_norm=False, mask_gain=1.0, noise_floor=False,
                 local_snr=False, refiner=0, voicing=False, bands=False, skip=False):
        super().__init__()
        self.cell, self.hidden, self.layers = cell, hidden, layers
        self.features = Features(level_norm, noise_floor, voicing, bands)
        self.encoder = nn.Sequential(nn.Linear(self.features.mean.numel(), hidden), nn.PReLU())
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]
        self.rnn = rnn(hidden, hidden, num_layers=layers, batch_first=True)
        self.init_decoding(hidden, mask_gain, noise_floor, local_snr, refiner, level_norm, bands)
        self.has_skip = skip
        if skip:
            self.skip = nn.Linear(hidden, N_BANDS if bands else N_BINS, bias=False)
            nn.init.zeros_(self.skip.weight)
        self.dropout = nn.Dropout(0.0)

    def set_dropout(self, p):
        self.dropout.p = p
        self.rnn.dropout = p  # between the layers (torch reads it on every call)

    def rnn_state_names(self):
        return ["h", "c"] if self.cell == "lstm" else ["h"]

    def state_specs(self):
        """(name, shape) of each state tensor, for the model card and for zero state."""
        specs = [(n, [self.layers, 1, self.hidden]) for n in self.rnn_state_names()]
        return specs + self.features.states()

    def state_layout(self):
        """The parts of the step graph's carried state, in order, as (name, values): each layer's h
        (then each layer's c for the LSTM), then the level states."""
        parts = [(f"{n}{layer}", self.hidden) for n in self.rnn_state_names() for layer in range(self.layers)]
        return parts + [(n, shape[-1]) for n, shape in self.features.states()]

    def zero_states(self, batch=1):
        w = self.decoder.weight  # zeros of its dtype, on its device
        levels = len(self.features.states())
        specs = self.state_specs()
        return [w.new_zeros(s[0], batch, s[2]) for _, s in specs[:len(specs) - levels]] + \
               [w.new_zeros(batch, s[1]) for _, s in specs[len(specs) - levels:]]

    def _run(self, mag, states):
        """[B, T, bins] → (mask, next states)."""
        levels = len(self.features.states())
        rnn_states = states[:len(states) - levels]
        raw, level = self.features.raw(mag, states[len(states) - levels:] if levels else None)
        state = tuple(rnn_states) if self.cell == "lstm" else rnn_states[0]
        encoded = self.encoder(self.features.standardise(raw))
        y, new = self.rnn(self.dropout(encoded), state)
        new = list(new) if self.cell == "lstm" else [new]
        return self.decode(self.dropout(y), raw, self.skip(encoded) if self.has_skip else None), new + (level or [])

    def forward(self, mag, states=None):
        return self._run(mag, states or self.zero_states(mag.shape[0]))[0]

    def run(self, mag, states):
        """[B, T, bins] from the given states → (mask, the states after the last frame)."""
        return self._run(mag, states)

    def step(self, mag, *states):
        mask, new = self._run(mag.unsqueeze(1), list(states))
        return (mask[:, 0], *new)


class CausalConvMask(nn.Module, MaskDecoding):
    """Causal dilated 1-D CNN. Streaming keeps, per layer, the last (k-1)*d inputs as a cache."""

    def __init__(self, hidden=128, kernel=3, dilations=(1, 2, 4, 8, 1, 2, 4, 8), level_norm=False, mask_gain=1.0,
                 noise_floor=False, local_snr=False, refiner=0):
        super().__init__()
        self.hidden, self.kernel, self.dilations = hidden, kernel, list(dilations)
        self.features = Features(level_norm, noise_floor)
        self.encoder = nn.Sequential(nn.Linear(self.features.mean.numel(), hidden), nn.PReLU())
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel, dilation=d) for d in dilations)
        self.acts = nn.ModuleList(nn.PReLU() for _ in dilations)
        self.init_decoding(hidden, mask_gain, noise_floor, local_snr, refiner, level_norm)

    def state_specs(self):
        caches = [(f"cache{i}", [1, self.hidden, (self.kernel - 1) * d]) for i, d in enumerate(self.dilations)]
        return caches + self.features.states()

    def state_layout(self):
        """The parts of the step graph's carried state, in order, as (name, values)."""
        return [(n, math.prod(shape)) for n, shape in self.state_specs()]

    def zero_states(self, batch=1):
        return [self.decoder.weight.new_zeros(batch, *s[1:]) for _, s in self.state_specs()]

    def forward(self, mag, states=None):
        raw = self.features.raw(mag)[0]
        x = self.encoder(self.features.standardise(raw)).transpose(1, 2)  # [B, H, T]
        for conv, act, d in zip(self.convs, self.acts, self.dilations):
            padded = nn.functional.pad(x, ((self.kernel - 1) * d, 0))
            x = x + act(conv(padded))  # residual keeps deep stacks trainable
        return self.decode(x.transpose(1, 2), raw)

    def step(self, mag, *states):
        caches = states[:len(self.dilations)]
        raw, level = self.features.raw(mag.unsqueeze(1), list(states[len(self.dilations):]) if self.features.level_norm else None)
        x = self.encoder(self.features.standardise(raw)[:, 0]).unsqueeze(2)  # [B, H, 1]
        new = []
        for conv, act, cache in zip(self.convs, self.acts, caches):
            window = torch.cat([cache, x], dim=2)  # past inputs + this frame
            new.append(window[:, :, 1:])
            x = x + act(conv(window))
        return (self.decode(x[:, :, 0], raw[:, 0]), *new, *(level or []))


def build(arch="gru", hidden=128, layers=2, level_norm=False, mask_gain=1.0, noise_floor=False, local_snr=False,
          refiner=0, voicing=False, bands=False, skip=False, **_framing):
    """A model from a checkpoint's config (its framing is the STFT's business, not the model's)."""
    if arch in ("gru", "lstm", "rnn"):
        return RecurrentMask(arch, hidden, layers, level_norm, mask_gain, noise_floor, local_snr, refiner, voicing, bands,
                             skip)
    if voicing or bands or skip:
        raise ValueError("the voicing view, bands and the skip are built into the recurrent families' step graph only")
    if arch == "cnn":
        return CausalConvMask(hidden, level_norm=level_norm, mask_gain=mask_gain, noise_floor=noise_floor,
                              local_snr=local_snr, refiner=refiner)
    raise ValueError(f"unknown model family {arch!r}")


class StepModule(nn.Module):
    """The traced step graph (the CNN's): one tensor in, the magnitudes then every state flat, in
    state_layout's order; one out, the mask then every next state. onnxruntime-web pays for each
    tensor of a run, more than for the Split, Reshapes and Concat that unpack and repack them."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.shapes = [shape for _, shape in model.state_specs()]

    def forward(self, frame):
        parts = torch.split(frame, [N_BINS] + [math.prod(s) for s in self.shapes], dim=1)
        states = [part.reshape(shape) for part, shape in zip(parts[1:], self.shapes)]
        return torch.cat([out.reshape(1, -1) for out in self.model.step(parts[0], *states)], dim=1)

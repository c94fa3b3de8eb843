"""Train a Quell mask model. Resumable: re-running the same command continues from the last
checkpoint in --out. Usage: python3 training/train.py --arch gru --minutes 100
"""
import argparse
import copy
import json
import math
import os
import sys
import time

# torch runs its own OpenMP threads; OpenBLAS's pthreads on top of them oversubscribe the cores
# and made a training step a third slower (profiled on 2 cores). Set before numpy/torch load it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quell.config import FRAMING, LEGACY, N_BINS, SAMPLE_RATE, framing_of  # noqa: E402
from quell.data import Mixer, load_babble, load_split  # noqa: E402
from quell.model import band_matrices, build, erb_number  # noqa: E402
from quell.stft import istft, stft  # noqa: E402
from quell.synthetic import synthetic_split  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def si_sdr(est, ref, eps=1e-8):
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps) * ref
    return 10 * torch.log10((proj ** 2).sum(-1) / (((est - proj) ** 2).sum(-1) + eps) + eps)


def stepped_order(mag):
    """(silent frames [B, T], the order in which the model is stepped on the frames [B, T]).

    As in the engine, the model is not stepped on digital silence (a frame of exact zeros) and
    passes it: each row's other frames go first, in order, and a causal model's masks for them
    cannot see the silent frames moved after them."""
    silent = (mag == 0).all(-1)
    return silent, torch.sort(silent.to(torch.uint8), dim=1, stable=True).indices


def enhance(model, noisy, framing, states=None, spec=None):
    """→ (enhanced audio, its spectrum, the model's states after the last frame or None).
    `states` (recurrent families only) starts the model where an earlier clip left it; `spec`:
    stft(noisy) where the caller has it already."""
    spec = stft(noisy, framing) if spec is None else spec
    mag = spec.abs()
    silent, order = stepped_order(mag)  # [B, T]
    has_silence = bool(silent.any())
    if has_silence:
        index = order.unsqueeze(-1).expand_as(mag)
        mag = mag.gather(1, index)
    if states is None:
        mask, after = model(mag), None
    else:
        mask, after = model.run(mag, states)
    if has_silence:
        mask = torch.zeros_like(mask).scatter(1, index, mask).masked_fill(silent.unsqueeze(-1), 1.0)
        if after is not None:
            # those rows' states stepped on the silence moved to their end: the next clip starts afresh
            after = keep_rows(after, (~silent.any(1)).to(mask.dtype))
    return istft(spec * mask, noisy.shape[-1], framing), spec * mask, after


def keep_rows(states, keep):
    """States with each batch row scaled by keep [B] (0: that row starts afresh); recurrent states
    are [layers, B, H], level states [B, n]."""
    return [s * (keep.view(1, -1, 1) if s.dim() == 3 else keep.view(-1, 1)) for s in states]


def carried_states(model, after, keep):
    """The states the next batch starts from: where the last batch left each stream (detached),
    except the rows where `keep` is 0, which start afresh. In use the model runs for hours and the
    scene changes under it; trained only from zero state on short clips, a model learns to lock
    onto what it hears first, and a quiet second before the noise leaves it suppressing far less
    for as long as the stream goes on."""
    if after is None:
        return model.zero_states(len(keep))
    return keep_rows([s.detach() for s in after], keep.to(after[0].device))


def streams_kept(batch, reset_probability, rng):
    """1 for each stream that goes on from where the last batch left it, 0 for one that starts afresh."""
    return torch.from_numpy((rng.random(batch) >= reset_probability).astype(np.float32))


LEVEL_MIN_SNR_DB = 15  # --level-weight holds the voice's level from this SNR up (see loss_fn)


def snr_of(noisy, clean):
    """Each item's SNR in dB [B]: noise alone −100, a clean voice far above any mixture's."""
    return 10 * torch.log10(clean.pow(2).sum(-1) / ((noisy - clean).pow(2).sum(-1) + 1e-10) + 1e-10)


def loss_fn(model, noisy, clean, framing, states=None, sdr_weight=0.01, noise_weight=0.0, teacher_spec=None,
            distill_weight=0.0, speech_weight=0.0, level_weight=0.0, spectra=None):
    """`teacher_spec`: what a bigger model made of the same mixtures (see --teacher), which the
    model is also taught to match, weighted by `distill_weight`. `speech_weight`: see --speech-weight;
    `level_weight`: see --level-weight. `spectra`: (stft(noisy), stft(clean)) where the caller has them."""
    noisy_spec, clean_spec = spectra or (stft(noisy, framing), stft(clean, framing))
    est, est_spec, after = enhance(model, noisy, framing, states, noisy_spec)
    scale = 1 / (noisy.pow(2).mean(-1, keepdim=True).sqrt() + 1e-5)  # level-independent loss
    est_c = est_spec * scale.unsqueeze(-1)
    ref_c = clean_spec * scale.unsqueeze(-1)
    est_mag, ref_mag = est_c.abs() + 1e-8, ref_c.abs() + 1e-8
    # compressed magnitude, plus compressed complex spectrum (which also sees the phase error);
    # each power taken once: fractional powers of the whole batch's spectra are a tenth of a step
    est_pow, ref_pow = est_mag ** 0.3, ref_mag ** 0.3
    mag = (est_pow - ref_pow).square().mean()
    if speech_weight:
        # Speech taken away: only bins where the output falls short of the clean speech count,
        # so leftover noise is not rewarded and noise-only items (clean = 0) never fire it.
        mag = mag + speech_weight * (ref_pow - est_pow).clamp(min=0).square().mean()
    cplx_error = est_c * (est_pow / est_mag) - ref_c * (ref_pow / ref_mag)
    cplx = (cplx_error.real.square() + cplx_error.imag.square()).mean()
    if teacher_spec is not None and distill_weight:
        # the teacher's compressed magnitudes: a target that is smooth where the clean speech's are not
        teacher_pow = ((teacher_spec * scale.unsqueeze(-1)).abs() + 1e-8) ** 0.3
        mag = mag + distill_weight * (est_pow - teacher_pow).square().mean()
    has_speech = clean.pow(2).mean(-1) > 1e-9
    # clamp: beyond 40 dB (clean input) there is nothing audible left to gain
    sdr = si_sdr(est, clean)[has_speech].clamp(max=40).mean() if has_speech.any() else est.new_zeros(())
    loss = 0.7 * mag + 0.3 * cplx - sdr_weight * sdr
    if level_weight:
        # The level of a clean-ish voice: the output's projection on the clean speech, in dB, for
        # items 15 dB or more above their noise. Every other term lets the masks shrink such a voice
        # as a whole (SI-SDR cannot see a level; the compressed complex error is least for a mask
        # below one wherever the phase is uncertain), and a voice that turns 2 dB quieter whenever
        # suppression is on is what a user hears first. In louder noise a voice kept quieter is
        # the price of less noise, which the other terms weigh; held there, the masks let noise through.
        snr_db = snr_of(noisy, clean)
        clear = has_speech & (snr_db >= LEVEL_MIN_SNR_DB)
        if clear.any():
            kept = (est * clean).sum(-1)[clear] / clean.pow(2).sum(-1)[clear]
            level_db = 20 * torch.log10(kept.clamp(min=1e-2))
            loss = loss + level_weight * level_db.square().sum() / clean.shape[0]
    if noise_weight and not has_speech.all():
        # The SI-SDR term sees only items with speech; on noise alone, the dB removed (up to 40)
        # says whether the pauses between words are quiet. Summed and divided by the whole batch,
        # so that a noise-only item weighs as much as an item with speech does in the SI-SDR term.
        removed = 10 * torch.log10((noisy.pow(2).sum(-1) + 1e-10) / (est.pow(2).sum(-1) + 1e-10))
        loss = loss - noise_weight * removed[~has_speech].clamp(max=40).sum() / len(removed)
    return loss, sdr, after


VAD_RANGE_DB = -40  # a frame is speech where its clean energy is within this of the item's loudest
ONSET_SECONDS = 0.25  # --vad-onset-weight: how long after a sound starts or stops its frames weigh more


class SpeechActivity(nn.Module):
    """--vad-weight: a second target for training only. A linear map from the last recurrent
    layer's output guesses, frame by frame, whether the clean speech is active (within
    VAD_RANGE_DB of the item's loudest frame), as RNNoise learns a voice detector beside its
    gains. The mask's loss tells speech from noise only through 257 gains; this asks the hidden
    state to carry that decision itself, which is where the model fails on noise it has not heard.
    It is never exported: the step graph and its cost stay as they are.

    `onset_weight` (--vad-onset-weight): the guesses in the first ONSET_SECONDS of each item (a
    new clip, so a new sound) and after each start or stop of the voice count that many times as
    much. Those are the frames where the default fails: a voice heard first taken for the
    background, a noise after a pause taken for the voice."""

    option = "--vad-weight"

    def __init__(self, model, outputs=1, onset_weight=1.0):
        super().__init__()
        if not hasattr(model, "rnn"):
            raise ValueError(f"{self.option} reads the last recurrent layer: a GRU, LSTM or RNN")
        self.linear = nn.Linear(model.hidden, outputs)
        self.onset_weight = onset_weight
        self.hidden_seen = None
        model.rnn.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output):
        self.hidden_seen = output[0]  # [B, T, hidden], in the order the model was stepped

    def targets(self, noisy_spec, clean_spec):
        """[B, T] 1 where the clean speech is active, in time order (loss() puts them in stepped
        order); from the spectra of the noisy and clean signals."""
        energy = clean_spec.abs().square().sum(-1)  # [B, T]
        loudest = energy.max(1, keepdim=True).values
        return ((energy > loudest * 10 ** (VAD_RANGE_DB / 10)) & (loudest > 1e-10)).to(energy.dtype)

    def loss(self, noisy_spec, clean_spec, framing):
        """Binary cross-entropy of the last forward pass's guesses, on the frames it was stepped on;
        from the spectra of the noisy and clean signals, the training loop's own."""
        silent, order = stepped_order(noisy_spec.abs())
        target, stepped = self.targets(noisy_spec, clean_spec), ~silent
        index = order if target.dim() == 2 else order.unsqueeze(-1).expand_as(target)
        target, stepped = target.gather(1, index), stepped.gather(1, order)
        logits = self.linear(self.hidden_seen)
        logits = logits[..., 0] if target.dim() == 2 else logits
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if target.dim() == 3:
            bce = bce.mean(-1)
        weight = self.frame_weights(target if target.dim() == 2 else target.amax(-1), framing)
        return (bce * weight)[stepped].sum() / weight[stepped].sum()

    def frame_weights(self, active, framing):
        """[B, T]: onset_weight in an item's first ONSET_SECONDS and as long after each change of
        `active` (in stepped order), 1 elsewhere."""
        if self.onset_weight == 1.0:
            return torch.ones_like(active)
        span = max(1, round(ONSET_SECONDS * SAMPLE_RATE / framing["hopSize"]))
        change = torch.zeros_like(active)
        change[:, 0] = 1  # the item's start: a new clip, a new sound
        change[:, 1:] = (active[:, 1:] != active[:, :-1]).to(active.dtype)
        # each frame is an onset frame if a change happened within the last `span` frames
        onset = F.max_pool1d(F.pad(change.unsqueeze(1), (span - 1, 0)), span, stride=1)[:, 0]
        return 1 + (self.onset_weight - 1) * onset


SPEECH_BANDS = 16  # --band-weight: bands equally wide on the ERB scale, 0 Hz to Nyquist


def erb_band_pooling(bands=SPEECH_BANDS):
    """[N_BINS, bands] of 0 and 1: which band each bin belongs to, bands equally wide in ERB
    numbers (21.4 log10(1 + 0.00437 f)) and at least one bin each."""
    freqs = torch.arange(N_BINS, dtype=torch.float64) * (SAMPLE_RATE / 2) / (N_BINS - 1)
    erb = erb_number(freqs)
    edges = [0]
    for b in range(1, bands):
        edge = int(torch.searchsorted(erb, erb[-1] * b / bands))
        edges.append(max(edge, edges[-1] + 1))
    edges.append(N_BINS)
    pooling = torch.zeros(N_BINS, bands)
    for b in range(bands):
        pooling[edges[b]:edges[b + 1], b] = 1
    return pooling


class SpeechBands(SpeechActivity):
    """--band-weight: a third target for training only, beside the voice detector. A linear map
    from the last recurrent layer guesses, per frame and per band (SPEECH_BANDS, equal on the ERB
    scale), whether the voice is louder there than the noise (and within VAD_RANGE_DB of that
    band's loudest in the item): the ideal binary mask at band resolution. The detector asks
    whether there is a voice; this asks where it stands out, the decision a mask must make per
    bin in loud noise, in a form a 96-unit state can hold. Never exported."""

    option = "--band-weight"

    def __init__(self, model):
        super().__init__(model, outputs=SPEECH_BANDS)
        self.register_buffer("pooling", erb_band_pooling())

    def targets(self, noisy_spec, clean_spec):
        """[B, T, bands] 1 where the voice is louder than the noise in a band, in time order."""
        speech = clean_spec.abs().square() @ self.pooling
        noise = (noisy_spec - clean_spec).abs().square() @ self.pooling
        loudest = speech.amax(1, keepdim=True)
        return ((speech > noise) & (speech > loudest * 10 ** (VAD_RANGE_DB / 10)) & (loudest > 1e-10)).to(speech.dtype)


BLEND_SNR_DB = (0.0, 15.0)  # --low-snr-teacher: its target alone up to the first, the teacher's alone from the second


def teacher_blend(spec, low_spec, noisy, clean):
    """Each item's distillation target: the low-SNR teacher's output at and below 0 dB SNR (and on
    noise alone), the teacher's at and above 15 dB (and on a clean voice), a linear blend between.
    One model that removes more in loud noise and the other that keeps a clear voice intact
    make one target that a student of their size can learn: how loud the noise is, it hears."""
    snr_db = snr_of(noisy, clean)
    low, high = BLEND_SNR_DB
    w = ((high - snr_db) / (high - low)).clamp(0, 1).view(-1, 1, 1)
    return w * low_spec + (1 - w) * spec


def clean_where_untaught(teacher_spec, clean_spec, untaught):
    """The distillation target with the clean speech's spectrum in place of the teachers' output
    on the items they get wrong (Mixer.untaught): the teachers, like every model of their lineage,
    take a voice heard from a fresh start down, by tens of dB at worst (--speech-first), and pass a
    new noise after a quiet room for seconds (--noise-after-quiet); a student taught to match them
    there would learn to do it too."""
    if not untaught.any():
        return teacher_spec
    return torch.where(untaught.view(-1, 1, 1), clean_spec, teacher_spec)


def shrink_from(model, path, mag=None):
    """Start a smaller recurrent model of the same family from a trained one: fewer layers (its
    first layers kept) or narrower ones, or both. Narrower: with `mag` (magnitudes [B, T, bins] of
    typical input), each layer keeps the units whose contribution varies most over it (the spread
    of the unit's output times the weight of what reads it), and a dropped unit's mean output is
    folded into the biases of what read it; without, the units whose outgoing weights weigh most.
    The encoder's outputs are pruned the same way. The feature statistics and the encoder come
    along; the decoder too where it reads the same layer, else it starts afresh (near pass-through)."""
    ck = torch.load(path, map_location="cpu")
    old = ck["model"]
    sd = model.state_dict()
    layers, width = model.layers, model.hidden
    old_layers = sum(1 for k in old if k.startswith("rnn.weight_hh_l"))
    old_width = old["rnn.weight_hh_l0"].shape[1]
    gates = old["rnn.weight_hh_l0"].shape[0] // old_width
    # what each layer's output (and the encoder's, "e") looks like on typical input
    means, spreads = {}, {}
    if mag is not None:
        teacher = build(**ck["config"])
        teacher.load_state_dict(old)
        with torch.no_grad():
            x = teacher.encoder(teacher.features(mag)[0])
            means["e"], spreads["e"] = x.mean((0, 1)), x.std((0, 1))
            for layer in range(old_layers):
                single = type(teacher.rnn)(old_width, old_width, batch_first=True)
                single.load_state_dict({f"{k}_l0": old[f"rnn.{k}_l{layer}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
                x = single(x)[0]
                means[layer], spreads[layer] = x.mean((0, 1)), x.std((0, 1))

    def rows(units):  # the rows of every gate's block for these units
        return torch.cat([g * old_width + units for g in range(gates)])

    def strongest(name, outgoing):  # the `width` units whose contribution through their outgoing weights (columns) weighs most
        weight = sum(w.square().sum(0) for w in outgoing)
        if name in spreads:
            weight = weight * spreads[name].square()
        return torch.sort(torch.topk(weight, width).indices).values

    def folded(bias, w, name, kept):  # bias + what the dropped units of `name` gave on average through w
        if name not in means:
            return bias
        dropped = torch.ones(old_width, dtype=torch.bool)
        dropped[kept] = False
        return bias + w[:, dropped] @ means[name][dropped]

    last = layers - 1
    keep = {}
    for layer in range(layers):
        after = [old[f"rnn.weight_ih_l{layer + 1}"]] if layer + 1 < old_layers else []
        if layer == old_layers - 1:
            after.append(old["decoder.weight"])
        keep[layer] = strongest(layer, [old[f"rnn.weight_hh_l{layer}"], *after])
    keep["e"] = strongest("e", [old["rnn.weight_ih_l0"]])
    with torch.no_grad():
        for k, v in old.items():
            if k.startswith("features.") or k == "encoder.1.weight":
                sd[k].copy_(v)
        sd["encoder.0.weight"].copy_(old["encoder.0.weight"][keep["e"]])
        sd["encoder.0.bias"].copy_(old["encoder.0.bias"][keep["e"]])
        for layer in range(layers):
            source = "e" if layer == 0 else layer - 1
            w_ih, w_hh = old[f"rnn.weight_ih_l{layer}"], old[f"rnn.weight_hh_l{layer}"]
            b_ih = folded(old[f"rnn.bias_ih_l{layer}"], w_ih, source, keep[source])
            b_hh = folded(old[f"rnn.bias_hh_l{layer}"], w_hh, layer, keep[layer])
            sd[f"rnn.weight_ih_l{layer}"].copy_(w_ih[rows(keep[layer])][:, keep[source]])
            sd[f"rnn.weight_hh_l{layer}"].copy_(w_hh[rows(keep[layer])][:, keep[layer]])
            sd[f"rnn.bias_ih_l{layer}"].copy_(b_ih[rows(keep[layer])])
            sd[f"rnn.bias_hh_l{layer}"].copy_(b_hh[rows(keep[layer])])
        if last == old_layers - 1:  # the decoder reads the layer it read before
            sd["decoder.weight"].copy_(old["decoder.weight"][:, keep[last]])
            sd["decoder.bias"].copy_(folded(old["decoder.bias"], old["decoder.weight"], last, keep[last]))
    model.load_state_dict(sd)


def grow_from(model, path):
    """Start a wider recurrent model of the same family and depth from a trained one, computing
    what it computed: each old unit keeps its weights (every gate's rows) and reads no new unit,
    and nothing reads a new unit yet (their columns in the recurrent layers and the decoder at
    zero), so the masks are the old model's. The new units' own weights keep `model`'s fresh
    initialisation: their outputs vary from the first step, so the zero columns that read them get
    gradients and the new capacity is taken up by training, not by chance."""
    ck = torch.load(path, map_location="cpu")
    old, sd = ck["model"], model.state_dict()
    old_width, width = old["rnn.weight_hh_l0"].shape[1], model.hidden
    gates = old["rnn.weight_hh_l0"].shape[0] // old_width
    new = slice(old_width, width)
    others = [k for k in old if not k.startswith(("features.", "encoder.", "rnn.", "decoder."))]
    if others:
        raise ValueError(f"{path}: grow_from knows the encoder, the recurrent layers and the decoder, not {', '.join(others)}")

    def rows(weight):  # [gates · width, ...] viewed per gate, the old units first in each
        return weight.view(gates, width, *weight.shape[1:])

    with torch.no_grad():
        for k, v in old.items():
            if k.startswith("features.") or k == "encoder.1.weight":
                sd[k].copy_(v)
        sd["encoder.0.weight"][:old_width] = old["encoder.0.weight"]
        sd["encoder.0.bias"][:old_width] = old["encoder.0.bias"]
        for layer in range(model.layers):
            for kind in ("ih", "hh"):
                w, b = rows(sd[f"rnn.weight_{kind}_l{layer}"]), rows(sd[f"rnn.bias_{kind}_l{layer}"])
                w[:, :old_width, :old_width] = old[f"rnn.weight_{kind}_l{layer}"].view(gates, old_width, old_width)
                w[:, :old_width, new] = 0  # old units read no new unit
                b[:, :old_width] = old[f"rnn.bias_{kind}_l{layer}"].view(gates, old_width)
        sd["decoder.weight"].copy_(torch.cat([old["decoder.weight"], sd["decoder.weight"].new_zeros(
            sd["decoder.weight"].shape[0], width - old_width)], 1))
        sd["decoder.bias"].copy_(old["decoder.bias"])
    model.load_state_dict(sd)


def feature_stats(model, mixer, batch, length, framing):
    noisy, _ = mixer.batch(batch, length)
    with torch.no_grad():
        feats, _ = model.features.raw(stft(torch.from_numpy(noisy), framing).abs())
    feats = feats.reshape(-1, feats.shape[-1])
    return feats.mean(0), feats.std(0) + 1e-3


def warm_start(model, path):
    """Start a level-normalised model from one without: same recurrent layers and decoder, and
    an encoder that reads the level-normalised log power (the first half of the features) as
    the old one read raw log power, the new half starting at zero. A constant gain, such as a
    different analysis window's, is a constant offset in log power, which the level
    normalisation removes: the old model's behaviour carries over to the new framing."""
    old = torch.load(path, map_location="cpu")["model"]
    sd = model.state_dict()
    n = old["features.mean"].numel()
    scale = model.features.std[:n] / old["features.std"]
    with torch.no_grad():
        for k, v in old.items():
            if k.startswith(("rnn.", "decoder.", "encoder.1.", "convs.", "acts.")) and sd[k].shape == v.shape:
                sd[k].copy_(v)
        w = torch.zeros_like(sd["encoder.0.weight"])
        w[:, :n] = old["encoder.0.weight"] * scale
        sd["encoder.0.weight"].copy_(w)
        sd["encoder.0.bias"].copy_(old["encoder.0.bias"])
    model.load_state_dict(sd)


# Adam moves each weight by about the rate a step, whatever its gradient: the fresh columns of a
# view added to a trained model, fine-tuned at that model's low rate, would take thousands of steps
# to matter. The view enters
# this many times louder than standardised, which is the same as a rate this many times higher
# for its columns alone, and the fold at export makes it one map again.
NEW_VIEW_BOOST = 10.0


def init_with_new_views(model, old, stats):
    """Start a model with more views (Features.noise_floor, Features.voicing) from the weights `old`
    of one without, whose views come first in the new model's: every weight as it was, the
    encoder's columns for the new views at zero, so it starts out giving the same masks and
    training decides what they are worth. `stats`: the new features' (mean, std), of which the old
    views' are replaced by the old model's own, and the new views' std divided by NEW_VIEW_BOOST."""
    sd = model.state_dict()
    n = old["features.mean"].numel()
    with torch.no_grad():
        for k, v in old.items():
            if k in ("encoder.0.weight", "features.mean", "features.std"):
                continue
            sd[k].copy_(v)
        mean, std = stats
        sd["features.mean"].copy_(torch.cat([old["features.mean"], mean[n:]]))
        sd["features.std"].copy_(torch.cat([old["features.std"], std[n:] / NEW_VIEW_BOOST]))
        w = torch.zeros_like(sd["encoder.0.weight"])
        w[:, :n] = old["encoder.0.weight"]
        sd["encoder.0.weight"].copy_(w)
    model.load_state_dict(sd)


def init_with_bands(model, old, stats):
    """Start a model with bands (Features.bands) from the weights `old` of one without, on the
    assumption that a view and a mask change little across a band. Encoder: in raw feature units
    each per-bin view's weights A (bins) become A · spread (bands), since a view's bins are about
    its bands' interpolation; the rest of the encoder (the voicing view) as it was; standardised
    again with the new features' `stats` (mean, std), the bias keeping the old map's offset.
    Decoder: each band's weights are its bins' average (pool). Everything else as it was."""
    pool, spread = (m.float() for m in band_matrices())
    sd = model.state_dict()
    views = model.features.views
    per_bin = views * N_BINS
    with torch.no_grad():
        for k, v in old.items():
            if not k.startswith(("encoder.0.", "decoder.", "features.")):
                sd[k].copy_(v)
        raw_w = old["encoder.0.weight"] / old["features.std"]  # A: the map on unstandardised features
        offset = old["encoder.0.bias"] - raw_w @ old["features.mean"]
        banded = torch.cat([raw_w[:, v * N_BINS:(v + 1) * N_BINS] @ spread for v in range(views)]
                           + [raw_w[:, per_bin:]], dim=1)
        mean, std = stats
        sd["features.mean"].copy_(mean)
        sd["features.std"].copy_(std)
        sd["encoder.0.weight"].copy_(banded * std)
        sd["encoder.0.bias"].copy_(offset + banded @ mean)
        sd["decoder.weight"].copy_(pool @ old["decoder.weight"])
        sd["decoder.bias"].copy_(pool @ old["decoder.bias"])
    model.load_state_dict(sd)


# Parts of the decoder that can be added to a trained model (MaskDecoding): config key → (its
# module, what the log calls it). They start at zero there: at a fine-tune's rate Adam would take
# thousands of steps to move them to where they matter, so they learn NEW_PART_RATE times faster.
NEW_PARTS = {"local_snr": ("snr_slope", "the local SNR"), "refiner": ("refiner", "the refiner"),
             "skip": ("skip", "the skip around the recurrent layers")}
NEW_PART_RATE = 10.0
# Views that can be added to a trained model's features (init_with_new_views), in the order the
# features hold them: config key → what the log calls it.
NEW_VIEWS = {"noise_floor": "the noise floor", "voicing": "the voicing view"}


def parameter_groups(model):
    """The optimiser's groups: the addable parts at NEW_PART_RATE times the rate, the rest at it."""
    is_new = {name: name.split(".")[0] in [module for module, _ in NEW_PARTS.values()]
              for name, _ in model.named_parameters()}
    new = [p for n, p in model.named_parameters() if is_new[n]]
    rest = [p for n, p in model.named_parameters() if not is_new[n]]
    return [{"params": rest}] + ([{"params": new, "rate_scale": NEW_PART_RATE}] if new else [])


# The validation split's own noise (files and generators of the training sources' held-out part)
# has none of --noise-variety's kinds, so on it alone a run that learns them scores no better, or
# worse, and best.pt would pick against them. A second, seeded part draws every noise segment
# from those kinds: a third of the clips, about the share the recipe trains on.
VARIED_VALIDATION_SEED = 8


def validation_set(val_data, length, synthetic=False):
    """The mixtures every checkpoint is scored on, as (noisy, clean, part) batches, fixed by the
    seeds so scores compare across runs. "plain": 128 clips (with fewer, a few ruined ones swing
    the mean by a decibel from one checkpoint to the next), without babble voices so that this
    part stays what it was; "varied": 64 more, all their noise of the varied kinds."""
    plain_mixer = Mixer(*val_data, seed=7)
    varied_mixer = Mixer(*val_data, seed=VARIED_VALIDATION_SEED, noise_variety=1.0)
    plain = [(*plain_mixer.batch(8, length), "plain") for _ in range(2 if synthetic else 16)]
    varied = [(*varied_mixer.batch(8, length), "varied") for _ in range(1 if synthetic else 8)]
    return plain + varied


def validation_clips(val_set):
    return sum(len(noisy) for noisy, _, _ in val_set)


def validate(model, val_set, framing, device):
    """Scores of the validation set: "fresh" and "stream", the mean ΔSI-SDR of its mixtures from a
    fresh start and (recurrent families) as one stream, each batch starting where the last one left
    each row, as the model runs in use; "gain", their mean, the score checkpoints are ranked by (the
    model must do well from the first frame and after hours); "varied", the mean of both on the varied part alone;
    "noise_removed", the median dB taken from its noise-only clips (fresh start), which ΔSI-SDR
    cannot see: whether the pauses between words are quiet."""
    model.eval()
    fresh, stream, varied, removed = [], [], [], []
    after = None
    with torch.no_grad():
        for noisy, clean, part in val_set:
            n, c = torch.from_numpy(noisy).to(device), torch.from_numpy(clean).to(device)
            before = si_sdr(n, c)
            has_speech = c.pow(2).mean(-1) > 1e-9
            keep = has_speech & (before < 40)  # mixtures only
            est, _, _ = enhance(model, n, framing)
            fresh.append((si_sdr(est, c) - before)[keep])
            noise_only = ~has_speech & (n.pow(2).mean(-1) > 1e-12)
            removed.append(10 * torch.log10(n.pow(2).sum(-1) / (est.pow(2).sum(-1) + 1e-10))[noise_only])
            both = [fresh[-1]]
            if hasattr(model, "run"):
                est, _, after = enhance(model, n, framing, after or model.zero_states(n.shape[0]))
                stream.append((si_sdr(est, c) - before)[keep])
                both.append(stream[-1])
            if part == "varied":
                varied.append(torch.stack(both).mean(0))
    model.train()
    fresh = float(torch.cat(fresh).mean())
    stream = float(torch.cat(stream).mean()) if stream else fresh
    return {"fresh": fresh, "stream": stream, "gain": (fresh + stream) / 2,
            "varied": float(torch.cat(varied).mean()) if varied else float("nan"),
            "noise_removed": float(torch.cat(removed).median()) if removed else float("nan")}


class MixtureStream(torch.utils.data.IterableDataset):
    """Endless training batches from the mixer, made in worker processes (--workers): a GPU
    steps faster than one core can mix. Each worker draws its own mixtures."""

    def __init__(self, mixer, batch, length):
        self.mixer, self.batch, self.length = mixer, batch, length

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        if worker is not None:
            self.mixer.rng = np.random.default_rng([int(time.time()), worker.id])
        while True:
            yield self.mixer.batch_marked(self.batch, self.length)


def to_cpu(tree):
    """A state dict (nested dicts and lists of tensors) with every tensor on the CPU."""
    if torch.is_tensor(tree):
        return tree.cpu()
    if isinstance(tree, dict):
        return {k: to_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_cpu(v) for v in tree)
    return tree


# The weights' exponential moving average over about 500 steps. The raw weights' validation score
# swings from one checkpoint to the next; the average sits in the middle of where the last steps
# wandered, and every checkpoint offers it as well.
EMA_DECAY = 0.998


def update_ema(ema, model):
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(EMA_DECAY).add_(v, alpha=1 - EMA_DECAY)
            else:
                ema[k].copy_(v)


# The options that set a share of the training mixtures (Mixer's attributes of the same names; a
# run that never set one, or resumes from before it existed, mixes with Mixer's default).
MIXER_SHARES = ("noise_after_speech", "noise_variety", "speech_first", "noise_after_quiet", "speech_rooms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="gru", choices=["gru", "lstm", "rnn", "cnn"])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=100000, help="upper bound on optimiser steps")
    ap.add_argument("--minutes", type=float, default=100, help="training budget in compute minutes (CPU time per thread)")
    ap.add_argument("--lr", type=float, help="peak learning rate (default 1e-3; a resumed run keeps its own)")
    ap.add_argument("--out", default=None, help="checkpoint folder (default .cache/train/ARCH)")
    ap.add_argument("--synthetic", action="store_true", help="synthetic data, no downloads (CI)")
    ap.add_argument("--snr", type=float, nargs=2, metavar=("LOW", "HIGH"),
                    help="training mixtures' SNR range in dB (default -5 25; a resumed run keeps its own)")
    ap.add_argument("--speed", type=float, nargs=2, metavar=("SLOWEST", "FASTEST"),
                    help="play each training utterance at a speed drawn from this range, e.g. 0.85 1.15 "
                         "(default: as recorded; a resumed run keeps its own)")
    ap.add_argument("--noise-after-speech", type=float, metavar="SHARE",
                    help="the share of training mixtures where the talker stops and another noise, about as loud as "
                         "the voice, takes over (default 0; a resumed run keeps its own)")
    ap.add_argument("--noise-variety", type=float, metavar="SHARE",
                    help="the share of noise segments that are struck objects, tones and alarms, or a recording "
                         "recast as another source (faster or slower, its own EQ, in bursts, backwards; see "
                         "Mixer.VARIED_KINDS) (default 0; a resumed run keeps its own)")
    ap.add_argument("--speech-first", type=float, metavar="SHARE",
                    help="the share of training items with speech whose voice starts at their first sample, so "
                         "that the model's first frames from a fresh start are speech (see Mixer.item) (default 0; "
                         "a resumed run keeps its own)")
    ap.add_argument("--noise-after-quiet", type=float, metavar="SHARE",
                    help="the share of noise onsets (a third of the items with noise start it late) whose quiet "
                         "stretch before is another sound, a microphone's floor or a faint other noise, rather than "
                         "the same noise quieter (see Mixer.item) (default 0; a resumed run keeps its own)")
    ap.add_argument("--speech-rooms", type=float, metavar="SHARE",
                    help="the share of training items with speech whose voice is heard in a room, its tail part of "
                         "the target (see Mixer.reverb) (default 0.3; a resumed run keeps its own)")
    ap.add_argument("--sdr-weight", type=float,
                    help="weight of the SI-SDR term against the spectral loss (default 0.01; a resumed run keeps its own)")
    ap.add_argument("--noise-weight", type=float,
                    help="weight of the dB removed from noise-only items (default 0; a resumed run keeps its own)")
    ap.add_argument("--speech-weight", type=float,
                    help="extra weight on speech taken away (output below the clean speech, compressed magnitudes) "
                         "over noise left in (default 0; a resumed run keeps its own)")
    ap.add_argument("--level-weight", type=float,
                    help="weight of the squared change of the voice's level in dB (the output projected on the "
                         "clean speech), so that the masks keep a voice as loud as it came (default 0; a resumed "
                         "run keeps its own)")
    ap.add_argument("--vad-weight", type=float,
                    help="weight of a second, training-only target: whether each frame has speech, guessed from the "
                         "last recurrent layer (see SpeechActivity; never exported) (default 0; a resumed run keeps its own, "
                         "and a run that did not start with it cannot take it up)")
    ap.add_argument("--vad-onset-weight", type=float,
                    help="with --vad-weight: how much more the detector's guesses count in an item's first "
                         f"{ONSET_SECONDS:g} s and as long after each start or stop of the voice (see SpeechActivity) "
                         "(default 1; a resumed run keeps its own)")
    ap.add_argument("--band-weight", type=float,
                    help="weight of a third, training-only target: per frame and per ERB band, whether the voice "
                         "is louder than the noise, guessed from the last recurrent layer (see SpeechBands; never "
                         "exported) (default 0; a resumed run keeps its own, and a resumed run without it may "
                         "take it up: the guesses start afresh)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="where to train (default: the GPU when there is one); checkpoints are saved for the CPU")
    ap.add_argument("--workers", type=int, default=0,
                    help="processes that mix training batches (default 0: the training loop mixes them itself)")
    ap.add_argument("--init", help="start from this checkpoint's weights (fine-tuning)")
    ap.add_argument("--shrink-from", help="a trained recurrent model of the same family whose encoder, first layers "
                    "and most used units start this one, which has as many or fewer (--layers, --hidden); see shrink_from()")
    ap.add_argument("--grow-from", help="a trained recurrent model of the same family and depth that starts this "
                    "wider one (--hidden) computing what it computed, its new units read by nothing yet; see grow_from()")
    ap.add_argument("--teacher", help="a trained model (checkpoint) whose output on the same mixtures this one is "
                    "also taught to match (distillation; a resumed run keeps its own)")
    ap.add_argument("--low-snr-teacher", help="with --teacher: a second teacher for mixtures at low SNR and noise alone; "
                    "each item's target blends the two by its SNR (see teacher_blend; a resumed run keeps its own)")
    ap.add_argument("--distill-weight", type=float,
                    help="with --teacher: weight of matching its compressed magnitudes (default 1; a resumed run keeps its own)")
    ap.add_argument("--warm-start", help="a model without level normalisation (e.g. models/quell-gru.pt) whose "
                    "recurrent layers and decoder start this one; see warm_start()")
    ap.add_argument("--carry", action=argparse.BooleanOptionalAction,
                    help="start each batch from the states the last one left (see carried_states); "
                         "default: on for the recurrent families")
    ap.add_argument("--reset", type=float, default=0.25, help="with --carry: the share of streams that start afresh")
    ap.add_argument("--noise-floor", action="store_true",
                    help="a third view of each frame: log power over each bin's noise floor (see quell/model.py "
                         "Features); with --init from a model without it, that model's weights start this one")
    ap.add_argument("--voicing", action="store_true",
                    help="a view of how voiced each frame is: the cepstrum's peak in ranges of a voice's pitch (see "
                         "quell/model.py voicing); with --init from a model without it, that model's weights start this one")
    ap.add_argument("--bands", action="store_true",
                    help="read and mask above 2 kHz in bands equal on the ERB scale (see quell/model.py band_matrices); "
                         "with --init from a model without them, that model's weights, summed into the bands, start this one")
    ap.add_argument("--local-snr", action="store_true",
                    help="with the noise floor: the mask also reads each bin's log power over its floor, at a slope per "
                         "bin the hidden state sets (see quell/model.py MaskDecoding); with --init from a model without "
                         "it, that model's weights start this one")
    ap.add_argument("--refiner", type=int, metavar="CHANNELS",
                    help="after the decoder, a per-bin network of this many channels, the same weights at every bin (see "
                         "quell/model.py MaskDecoding); with --init from a model without it, that model's weights start this one")
    ap.add_argument("--skip", action="store_true",
                    help="the decoder also reads the encoder's output, around the recurrent layers (model.RecurrentMask)")
    ap.add_argument("--dropout", type=float, metavar="P",
                    help="while training, drop this share of the units entering, between and leaving the recurrent "
                         "layers (model.RecurrentMask.set_dropout; default 0; a resumed run keeps its own)")
    ap.add_argument("--legacy", action="store_true",
                    help="the first models' recipe: sqrt-Hann framing, log-power features without level normalisation")
    args = ap.parse_args()
    if args.dropout is not None and not 0 <= args.dropout < 1:
        ap.error(f"--dropout {args.dropout}: a share of units, from 0 up to (not including) 1")
    for share in MIXER_SHARES:
        value = getattr(args, share)
        if value is not None and not 0 <= value <= 1:
            ap.error(f"--{share.replace('_', '-')} {value}: a share, from 0 to 1")
    if args.noise_floor and args.legacy:
        ap.error("--noise-floor needs the level-normalised features: not with --legacy")
    if args.voicing and args.legacy:
        ap.error("--voicing is read beside the level-normalised features: not with --legacy")
    if args.local_snr and args.legacy:
        ap.error("--local-snr needs the noise floor, a level-normalised view: not with --legacy")
    if args.refiner is not None and (args.refiner < 1 or args.legacy):
        ap.error(f"--refiner {args.refiner}: a number of channels of at least 1, on the level-normalised features "
                 "(not with --legacy)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = args.out or os.path.join(ROOT, ".cache", "train", args.arch)
    os.makedirs(out, exist_ok=True)
    cache = os.environ.get("QUELL_CACHE", os.path.join(ROOT, ".cache"))
    rng = np.random.default_rng(0)
    if args.synthetic:
        train_data, val_data = synthetic_split(rng), synthetic_split(rng, 10, 3)
    else:
        train_data, val_data = load_split(cache, "train"), load_split(cache, "val")
    babble_voices = [] if args.synthetic else load_babble(cache, "train")
    if not args.synthetic and not babble_voices:
        print("no babble voices in the prepared cache (python3 training/prepare_data.py babble): "
              "babble is made of training talkers alone", flush=True)
    mixer = Mixer(*train_data, seed=int(time.time()), babble_voices=babble_voices)
    length = int(args.seconds * SAMPLE_RATE)
    val_set = validation_set(val_data, length, args.synthetic)

    config = {"arch": args.arch, "hidden": args.hidden, "layers": args.layers, "level_norm": not args.legacy,
              "framing": LEGACY if args.legacy else FRAMING}
    ckpt_path = os.path.join(out, "last.pt")
    resumed_vad_weight = resumed_band_weight = 0.0
    resumed_onset_weight = 1.0
    resumed_heads = []
    if os.path.exists(ckpt_path):
        resumed = torch.load(ckpt_path, map_location="cpu")
        config = resumed["config"]  # a resumed run keeps the recipe it started with
        resumed_vad_weight = resumed["state"].get("vad_weight", 0.0)
        resumed_band_weight = resumed["state"].get("band_weight", 0.0)
        resumed_onset_weight = resumed["state"].get("vad_onset_weight", 1.0)
        resumed_heads = [key for key in ("vad_head", "band_head") if key in resumed]
        if args.vad_weight and "vad_head" not in resumed:
            ap.error(f"--vad-weight: {ckpt_path} was trained without it; start a new run (--init {ckpt_path})")
        del resumed
    elif args.init:
        # without the shipped model's make-up gain (export.py --mask-gain), measured again at export
        if args.grow_from:
            ap.error(f"--init {args.init} and --grow-from {args.grow_from}: one or the other")
        config = {k: v for k, v in torch.load(args.init, map_location="cpu")["config"].items() if k != "mask_gain"}
        if args.noise_floor and not config.get("level_norm"):
            ap.error(f"--noise-floor --init {args.init}: a model without level normalisation")
    elif args.shrink_from:
        if args.grow_from:
            ap.error(f"--shrink-from {args.shrink_from} and --grow-from {args.grow_from}: one or the other")
        if not os.path.isfile(args.shrink_from):
            ap.error(f"--shrink-from {args.shrink_from}: no such checkpoint")
        bigger = torch.load(args.shrink_from, map_location="cpu")["config"]
        if bigger["arch"] not in ("gru", "lstm", "rnn") or bigger["arch"] != args.arch:
            ap.error(f"--shrink-from {args.shrink_from}: a {bigger['arch']} model; it must be a recurrent one of --arch {args.arch}")
        if args.layers > bigger["layers"] or args.hidden > bigger["hidden"]:
            ap.error(f"--shrink-from {args.shrink_from}: {bigger['layers']}×{bigger['hidden']}, smaller than "
                     f"--layers {args.layers} --hidden {args.hidden}")
        config = {**bigger, "layers": args.layers, "hidden": args.hidden}
    elif args.grow_from:
        if not os.path.isfile(args.grow_from):
            ap.error(f"--grow-from {args.grow_from}: no such checkpoint")
        narrower = torch.load(args.grow_from, map_location="cpu")["config"]
        if narrower["arch"] not in ("gru", "lstm", "rnn") or narrower["arch"] != args.arch:
            ap.error(f"--grow-from {args.grow_from}: a {narrower['arch']} model; it must be a recurrent one of --arch {args.arch}")
        if args.layers != narrower["layers"] or args.hidden <= narrower["hidden"]:
            ap.error(f"--grow-from {args.grow_from}: {narrower['layers']}×{narrower['hidden']}; --layers must be the same "
                     f"and --hidden wider (got --layers {args.layers} --hidden {args.hidden})")
        config = {**{k: v for k, v in narrower.items() if k != "mask_gain"}, "hidden": args.hidden}
    if args.noise_floor and not os.path.exists(ckpt_path):
        if config.get("voicing") and not config.get("noise_floor"):
            # the floor's view comes before the voicing view: the old columns would not be a prefix
            ap.error(f"--noise-floor --init {args.init}: that model reads the voicing view already; start from one without it "
                     "and add both (--noise-floor --voicing)")
        config["noise_floor"] = True
    if args.voicing and not os.path.exists(ckpt_path):
        if config["arch"] not in ("gru", "lstm", "rnn"):
            ap.error(f"--voicing: the {config['arch']} family's graph does not have it (the recurrent families' does)")
        config["voicing"] = True
    if args.bands and not os.path.exists(ckpt_path):
        if config["arch"] not in ("gru", "lstm", "rnn") or not config.get("level_norm"):
            ap.error("--bands: the recurrent families' level-normalised graph has them (not the CNN's, nor --legacy)")
        if args.init and (args.noise_floor or args.voicing or args.local_snr or args.refiner):
            ap.error(f"--bands --init {args.init}: add the bands alone, then the rest from that run")
        config["bands"] = True
    if args.local_snr and not os.path.exists(ckpt_path):
        if not config.get("noise_floor"):
            ap.error("--local-snr reads each bin's log power over its noise floor: add --noise-floor "
                     "(or --init a model that has it)")
        config["local_snr"] = True
    if args.refiner and not os.path.exists(ckpt_path):
        config["refiner"] = args.refiner
    if args.skip and not os.path.exists(ckpt_path):
        if config["arch"] not in ("gru", "lstm", "rnn"):
            ap.error(f"--skip: the {config['arch']} family has no recurrent layers to go around")
        config["skip"] = True
    # the family is the run's own when it resumes or fine-tunes a checkpoint, whatever --arch says
    if args.carry and config["arch"] == "cnn":
        ap.error("--carry needs a recurrent family: the CNN's state is a finite window, it cannot lock")
    if args.carry is None:
        args.carry = config["arch"] != "cnn"
    framing = framing_of(config)
    model = build(**config)
    vad_weight = args.vad_weight if args.vad_weight is not None else resumed_vad_weight
    vad_onset_weight = args.vad_onset_weight if args.vad_onset_weight is not None else resumed_onset_weight
    band_weight = args.band_weight if args.band_weight is not None else resumed_band_weight
    for key, weight, option in (("vad_head", vad_weight, "--vad-weight"), ("band_head", band_weight, "--band-weight")):
        if key in resumed_heads and not weight:
            ap.error(f"{option} 0: {ckpt_path} trains that target and its optimiser state holds it; "
                     f"start a new run from it (--init {ckpt_path})")
    if vad_onset_weight != 1.0 and not vad_weight:
        ap.error("--vad-onset-weight weighs the detector's guesses: it needs --vad-weight")
    vad_head = band_head = None
    try:
        if vad_weight:
            vad_head = SpeechActivity(model, onset_weight=vad_onset_weight)
        if band_weight:
            band_head = SpeechBands(model)
    except ValueError as e:
        ap.error(str(e))
    heads = {"vad_head": vad_head, "band_head": band_head}

    def head_group(head):
        # a head starts from random weights: like an added part, it learns at NEW_PART_RATE times the rate
        return [{"params": list(head.parameters()), "rate_scale": NEW_PART_RATE}]

    # the optimiser's groups in the order the checkpoint saved them: a head taken up on resuming
    # (only the band head may be) is added after the saved state is loaded, so it comes last
    starting = [h for key, h in heads.items() if h is not None and (key in resumed_heads or not os.path.exists(ckpt_path))]
    opt = torch.optim.Adam(parameter_groups(model) + [g for h in starting for g in head_group(h)], lr=args.lr or 1e-3)
    state = {"step": 0, "elapsed": 0.0, "best": -1e9, "history": [], "lr": args.lr or 1e-3}
    resumed_ema = None
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(ck["model"])
        resumed_ema = ck.get("ema")  # (checkpoints from before the average: it starts from the weights)
        for key, head in heads.items():
            if head is not None and key in ck:
                head.load_state_dict(ck[key])
        opt.load_state_dict(ck["opt"])
        for key, head in heads.items():
            if head is not None and key not in ck:
                for group in head_group(head):
                    opt.add_param_group(group)
                print(f"{key} taken up: its guesses start afresh", flush=True)
        state = ck["state"]
        state["lr"] = args.lr or state.get("lr", 1e-3)  # the schedule's peak rate belongs to the run
        print(f"resumed at step {state['step']} ({state['elapsed'] / 60:.1f} min)", flush=True)
        if state.get("val_clips") != validation_clips(val_set):
            # scores on another validation set do not compare: the next checkpoint starts best.pt afresh
            state["best"] = -1e9
            print("the validation set changed since the last checkpoint; best.pt starts afresh", flush=True)
    elif args.init:
        old = torch.load(args.init, map_location="cpu")
        added = [what for key, (_, what) in NEW_PARTS.items() if config.get(key) and not old["config"].get(key)]
        views = [what for key, what in NEW_VIEWS.items() if config.get(key) and not old["config"].get(key)]
        if config.get("bands") and not old["config"].get("bands"):
            init_with_bands(model, old["model"], feature_stats(model, mixer, 32, length, framing))
            print(f"fine-tuning from {args.init}, its views and masks in bands", flush=True)
        elif views:
            init_with_new_views(model, old["model"], feature_stats(model, mixer, 32, length, framing))
            print(f"fine-tuning from {args.init}, added: {', '.join(views)}", flush=True)
        elif added:
            model.load_state_dict(old["model"], strict=False)  # the new parts' last layers at zero: the old masks
            print(f"fine-tuning from {args.init}, added: {', '.join(added)}", flush=True)
        else:
            model.load_state_dict(old["model"])  # keeps its feature statistics
            print(f"fine-tuning from {args.init}", flush=True)
    else:
        mean, std = feature_stats(model, mixer, 32, length, framing)
        model.features.mean.copy_(mean)
        model.features.std.copy_(std)
        if args.warm_start:
            warm_start(model, args.warm_start)
            print(f"warm start from {args.warm_start}", flush=True)
        if args.grow_from:
            grow_from(model, args.grow_from)  # its feature statistics too
            print(f"{config['layers']}×{config['hidden']} grown from {args.grow_from}", flush=True)
        if args.shrink_from:
            noisy, _ = mixer.batch(32, length)
            shrink_from(model, args.shrink_from, stft(torch.from_numpy(noisy), framing).abs())
            print(f"{config['layers']}×{config['hidden']} from {args.shrink_from}", flush=True)
    state["val_clips"] = validation_clips(val_set)
    state["snr_range"] = args.snr or state.get("snr_range", [-5, 25])
    mixer.snr_range = tuple(state["snr_range"])
    state["speed_range"] = args.speed or state.get("speed_range")
    mixer.speed_range = state["speed_range"]
    for share in MIXER_SHARES:  # a resumed run keeps its own unless the option is given (the mixer holds the defaults)
        value = getattr(args, share)
        state[share] = value if value is not None else state.get(share, getattr(mixer, share))
        setattr(mixer, share, state[share])
    state["sdr_weight"] = args.sdr_weight if args.sdr_weight is not None else state.get("sdr_weight", 0.01)
    state["noise_weight"] = args.noise_weight if args.noise_weight is not None else state.get("noise_weight", 0.0)
    state["speech_weight"] = args.speech_weight if args.speech_weight is not None else state.get("speech_weight", 0.0)
    state["level_weight"] = args.level_weight if args.level_weight is not None else state.get("level_weight", 0.0)
    state["vad_weight"] = vad_weight
    state["dropout"] = args.dropout if args.dropout is not None else state.get("dropout", 0.0)
    if state["dropout"]:
        if not hasattr(model, "set_dropout"):
            ap.error(f"--dropout: the {config['arch']} family has no recurrent layers to drop units of")
        model.set_dropout(state["dropout"])
    state["vad_onset_weight"] = vad_onset_weight
    state["band_weight"] = band_weight
    state["teacher"] = args.teacher or state.get("teacher")
    state["distill_weight"] = args.distill_weight if args.distill_weight is not None else state.get("distill_weight", 1.0)
    state["low_snr_teacher"] = args.low_snr_teacher or state.get("low_snr_teacher")

    def frozen_teacher(option, path):
        """A teacher's model from its checkpoint, or an error naming the option."""
        if not os.path.isfile(path):
            ap.error(f"{option} {path}: no such checkpoint")
        ck = torch.load(path, map_location="cpu")
        if framing_of(ck["config"]) != framing:
            ap.error(f"{option} {path}: framed {framing_of(ck['config'])}, this model {framing}")
        frozen = build(**ck["config"])
        frozen.load_state_dict(ck["model"])
        return frozen.eval().requires_grad_(False)

    teacher = low_snr_teacher = None
    if state["low_snr_teacher"]:
        if not state["teacher"]:
            ap.error("--low-snr-teacher needs --teacher: the one it takes over from as the SNR falls")
        low_snr_teacher = frozen_teacher("--low-snr-teacher", state["low_snr_teacher"])
        print(f"taught at low SNR by {state['low_snr_teacher']}", flush=True)
    if state["teacher"]:
        teacher = frozen_teacher("--teacher", state["teacher"])
        print(f"taught also to match {state['teacher']} (weight {state['distill_weight']:g})", flush=True)
    print(f"mixtures at {mixer.snr_range[0]:g} to {mixer.snr_range[1]:g} dB SNR, SI-SDR weight {state['sdr_weight']:g}, "
          f"noise-alone weight {state['noise_weight']:g}, speech-loss weight {state['speech_weight']:g}, "
          f"level weight {state['level_weight']:g}, dropout {state['dropout']:g}, speech-activity weight {state['vad_weight']:g} (onsets {vad_onset_weight:g}), speech-band weight {band_weight:g}, speech speed {state['speed_range'] or 'as recorded'}, "
          f"noise taking over after speech in {state['noise_after_speech']:g} of mixtures, "
          f"varied noise in {state['noise_variety']:g} of noise segments, "
          f"a voice from the first sample in {state['speech_first']:g} of items with speech, "
          f"a voice in a room in {state['speech_rooms']:g} of them, "
          f"another sound before a late noise in {state['noise_after_quiet']:g} of them", flush=True)
    device = torch.device(args.device)
    model.to(device)  # in place: the optimiser keeps its parameters
    for head in heads.values():
        if head is not None:
            head.to(device)
    if teacher is not None:
        teacher.to(device)
    if low_snr_teacher is not None:
        low_snr_teacher.to(device)
    for moments in opt.state.values():
        for k, v in moments.items():
            if torch.is_tensor(v) and v.dim() > 0:  # Adam's averages; its step count stays on the CPU
                moments[k] = v.to(device)
    if device.type != "cpu":
        print(f"training on {device} ({torch.cuda.get_device_name(device)})", flush=True)
    ema = {k: (resumed_ema[k] if resumed_ema else v.detach()).clone().to(device) for k, v in model.state_dict().items()}
    ema_model = copy.deepcopy(model)  # validates the averaged weights

    def save(path, weights=None):
        # on the CPU, so that any machine can resume, export or evaluate it; written aside and
        # renamed, so that a run killed while saving still leaves the last whole checkpoint
        torch.save({"model": to_cpu(weights or model.state_dict()), "weights": "moving average" if weights else "raw",
                    "ema": to_cpu(ema), "opt": to_cpu(opt.state_dict()), "state": state, "config": config,
                    **{key: to_cpu(head.state_dict()) for key, head in heads.items() if head is not None}}, path + ".part")
        os.replace(path + ".part", path)

    budget = args.minutes * 60

    # On the CPU the budget counts compute time (CPU seconds per thread), not wall-clock time,
    # so that models trained side by side on a shared machine each get the time they were given.
    # On a GPU it counts wall-clock time: the GPU's time is what is spent, and the main process
    # mostly waits on it.
    def clock():
        if device.type != "cpu":
            return time.monotonic()
        return time.process_time() / max(1, args.threads)

    start = clock() - state["elapsed"]
    running = []
    after = teacher_after = low_after = None
    batches = None
    if args.workers:
        loader = torch.utils.data.DataLoader(MixtureStream(mixer, args.batch, length), batch_size=None,
                                             num_workers=args.workers, prefetch_factor=4)
        batches = iter(loader)
    while state["step"] < args.steps and state["elapsed"] < budget:
        progress = max(state["step"] / args.steps, state["elapsed"] / budget)
        lr = state["lr"] * min(1.0, (state["step"] + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr * g.get("rate_scale", 1.0)
        noisy, clean, untaught = (next(batches) if batches is not None
                                  else map(torch.from_numpy, mixer.batch_marked(args.batch, length)))
        keep = streams_kept(args.batch, args.reset, rng) if args.carry else None
        states = carried_states(model, after, keep) if args.carry else None
        noisy, clean = noisy.to(device), clean.to(device)
        spectra = noisy_spec, clean_spec = stft(noisy, framing), stft(clean, framing)  # once for every use below
        teacher_spec = None
        if teacher is not None:
            with torch.no_grad():  # the teacher hears the same streams, carried the same way
                teacher_states = carried_states(teacher, teacher_after, keep) if args.carry else None
                _, teacher_spec, teacher_after = enhance(teacher, noisy, framing, teacher_states, noisy_spec)
                if low_snr_teacher is not None:
                    low_states = carried_states(low_snr_teacher, low_after, keep) if args.carry else None
                    _, low_spec, low_after = enhance(low_snr_teacher, noisy, framing, low_states, noisy_spec)
                    teacher_spec = teacher_blend(teacher_spec, low_spec, noisy, clean)
                teacher_spec = clean_where_untaught(teacher_spec, clean_spec, untaught.to(device))
        loss, sdr, after = loss_fn(model, noisy, clean, framing, states, state["sdr_weight"], state["noise_weight"],
                                   teacher_spec, state["distill_weight"], state["speech_weight"], state["level_weight"],
                                   spectra)
        vad = vad_head.loss(*spectra, framing) if vad_head is not None else loss.new_zeros(())
        bands = band_head.loss(*spectra, framing) if band_head is not None else loss.new_zeros(())
        loss = loss + vad_weight * vad + band_weight * bands
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        update_ema(ema, model)
        state["step"] += 1
        state["elapsed"] = clock() - start
        running.append((float(loss), float(sdr), float(vad), float(bands)))
        last = state["step"] >= args.steps or state["elapsed"] >= budget
        if state["step"] % 50 == 0 or last:
            l, s, v, b = np.mean(running, axis=0)
            running = []
            print(f"step {state['step']} loss {l:.4f} si-sdr {s:.2f}{f' speech activity {v:.3f}' if vad_head else ''}"
                  f"{f' speech bands {b:.3f}' if band_head else ''} "
                  f"lr {lr:.2e} {state['elapsed'] / 60:.1f} min", flush=True)
        if state["step"] % 250 == 0 or last:
            scores = validate(model, val_set, framing, device)
            gain = scores["gain"]
            ema_model.load_state_dict(ema)
            ema_scores = validate(ema_model, val_set, framing, device)
            ema_gain = ema_scores["gain"]
            state["history"].append({"step": state["step"], "minutes": round(state["elapsed"] / 60, 2),
                                     "val_delta_si_sdr": round(gain, 3),
                                     **{k: round(v, 3) for k, v in scores.items() if k != "gain"},
                                     "ema": round(ema_gain, 3), "ema_varied": round(ema_scores["varied"], 3),
                                     "ema_noise_removed": round(ema_scores["noise_removed"], 3)})
            if max(gain, ema_gain) > state["best"]:
                state["best"] = max(gain, ema_gain)
                save(os.path.join(out, "best.pt"), ema if ema_gain > gain else None)
            print(f"  validation ΔSI-SDR {gain:.2f} dB (fresh {scores['fresh']:.2f}, stream {scores['stream']:.2f}, "
                  f"varied noise {scores['varied']:.2f}; noise alone {scores['noise_removed']:.1f} dB removed; averaged weights "
                  f"{ema_gain:.2f}, varied {ema_scores['varied']:.2f}, noise alone {ema_scores['noise_removed']:.1f} dB removed; "
                  f"best {state['best']:.2f})", flush=True)
            save(ckpt_path)
            with open(os.path.join(out, "history.json"), "w") as f:  # readable beside the checkpoints
                json.dump({"config": config, "history": state["history"]}, f, indent=0)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({**config, "steps": state["step"], "minutes": state["elapsed"] / 60,
                   "batch": args.batch, "seconds": args.seconds, "snr_range": state["snr_range"], "speed_range": state["speed_range"],
                   **{share: state[share] for share in MIXER_SHARES}, "sdr_weight": state["sdr_weight"],
                   "noise_weight": state["noise_weight"], "speech_weight": state["speech_weight"], "level_weight": state["level_weight"], "dropout": state["dropout"], "vad_weight": state["vad_weight"],
                   "vad_onset_weight": state["vad_onset_weight"], "band_weight": state["band_weight"], "teacher": state["teacher"],
                   "low_snr_teacher": state["low_snr_teacher"], "distill_weight": state["distill_weight"] if state["teacher"] else None, "best_val_delta_si_sdr": state["best"],
                   "synthetic": args.synthetic}, f, indent=1)
    print("done", flush=True)


if __name__ == "__main__":
    main()

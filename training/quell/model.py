"""Causal mask models: 257 STFT magnitudes in, a 257-bin gain mask in [0, 1] out.

Every family (GRU, LSTM, vanilla RNN, causal dilated CNN) offers two views of the same
weights: `forward(mag)` runs a whole sequence [B, T, 257]; `step(mag, *states)` runs one
frame [B, 257] with the recurrent state carried explicitly. The streaming promise is that
stepping frame by frame equals the whole-sequence run; tests/test_parity.py checks it.

Feature compression and normalisation live inside the model so the app passes raw
magnitudes and training and serving cannot drift.
"""
import torch
from torch import nn

N_BINS = 257


class Features(nn.Module):
    """log power, normalised per bin with statistics measured on training data."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(N_BINS))
        self.register_buffer("std", torch.ones(N_BINS))

    def forward(self, mag):
        return (torch.log(mag * mag + 1e-10) - self.mean) / self.std


class RecurrentMask(nn.Module):
    """Linear encoder, stacked GRU/LSTM/RNN, linear decoder with a sigmoid."""

    def __init__(self, cell="gru", hidden=128, layers=2):
        super().__init__()
        self.cell, self.hidden, self.layers = cell, hidden, layers
        self.features = Features()
        self.encoder = nn.Sequential(nn.Linear(N_BINS, hidden), nn.PReLU())
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]
        self.rnn = rnn(hidden, hidden, num_layers=layers, batch_first=True)
        self.decoder = nn.Linear(hidden, N_BINS)
        nn.init.constant_(self.decoder.bias, 2.0)  # start near pass-through: do no harm

    def state_specs(self):
        """(name, shape) of each state tensor, for the model card and for zero state."""
        names = ["h", "c"] if self.cell == "lstm" else ["h"]
        return [(n, [self.layers, 1, self.hidden]) for n in names]

    def zero_states(self, batch=1):
        return [torch.zeros(s[0], batch, s[2], dtype=self.decoder.weight.dtype) for _, s in self.state_specs()]

    def _run(self, x, states):
        state = tuple(states) if self.cell == "lstm" else states[0]
        y, new = self.rnn(x, state)
        new = list(new) if self.cell == "lstm" else [new]
        return y, new

    def forward(self, mag, states=None):
        x = self.encoder(self.features(mag))
        y, _ = self._run(x, states or self.zero_states(mag.shape[0]))
        return torch.sigmoid(self.decoder(y))

    def step(self, mag, *states):
        x = self.encoder(self.features(mag)).unsqueeze(1)
        y, new = self._run(x, list(states))
        return (torch.sigmoid(self.decoder(y[:, 0])), *new)


class CausalConvMask(nn.Module):
    """Causal dilated 1-D CNN. Streaming keeps, per layer, the last (k-1)*d inputs as a cache."""

    def __init__(self, hidden=128, kernel=3, dilations=(1, 2, 4, 8, 1, 2, 4, 8)):
        super().__init__()
        self.hidden, self.kernel, self.dilations = hidden, kernel, list(dilations)
        self.features = Features()
        self.encoder = nn.Sequential(nn.Linear(N_BINS, hidden), nn.PReLU())
        self.convs = nn.ModuleList(nn.Conv1d(hidden, hidden, kernel, dilation=d) for d in dilations)
        self.acts = nn.ModuleList(nn.PReLU() for _ in dilations)
        self.decoder = nn.Linear(hidden, N_BINS)
        nn.init.constant_(self.decoder.bias, 2.0)

    def state_specs(self):
        return [(f"cache{i}", [1, self.hidden, (self.kernel - 1) * d]) for i, d in enumerate(self.dilations)]

    def zero_states(self, batch=1):
        return [torch.zeros(batch, s[1], s[2], dtype=self.decoder.weight.dtype) for _, s in self.state_specs()]

    def forward(self, mag, states=None):
        x = self.encoder(self.features(mag)).transpose(1, 2)  # [B, H, T]
        for conv, act, d in zip(self.convs, self.acts, self.dilations):
            padded = nn.functional.pad(x, ((self.kernel - 1) * d, 0))
            x = x + act(conv(padded))  # residual keeps deep stacks trainable
        return torch.sigmoid(self.decoder(x.transpose(1, 2)))

    def step(self, mag, *caches):
        x = self.encoder(self.features(mag)).unsqueeze(2)  # [B, H, 1]
        new = []
        for conv, act, cache in zip(self.convs, self.acts, caches):
            window = torch.cat([cache, x], dim=2)  # past inputs + this frame
            new.append(window[:, :, 1:])
            x = x + act(conv(window))
        return (torch.sigmoid(self.decoder(x[:, :, 0])), *new)


def build(arch="gru", hidden=128, layers=2):
    if arch in ("gru", "lstm", "rnn"):
        return RecurrentMask(arch, hidden, layers)
    if arch == "cnn":
        return CausalConvMask(hidden)
    raise ValueError(f"unknown model family {arch!r}")


class StepModule(nn.Module):
    """The graph exported to ONNX: magnitudes and states in, mask and states out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, mag, *states):
        return self.model.step(mag, *states)

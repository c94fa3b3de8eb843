"""Room impulse responses of shoebox rooms by the image-source method (Allen & Berkley 1979),
with a diffuse tail, for training on rooms the speech and noise files were never recorded in.

The early part (direct sound and the reflections of the first EARLY_SECONDS) is exact for a
rectangular room with the same absorption on every wall: each image source is a mirror copy of
the source, heard after its distance / c with gain β^reflections / distance. Those reflections
comb-filter the voice as real rooms do, which an exponentially decaying noise burst does not.
After that the reflections are too many to matter one by one, and the tail is Gaussian noise
decaying at the room's RT60 (−60 dB), continuing the early part's level.
"""
import math

import numpy as np

SPEED_OF_SOUND = 343.0
EARLY_SECONDS = 0.05


def _axis_images(size, source, order):
    """Image coordinates along one axis and how many walls each bounced off: for n in −order…order
    and p in {0, 1}, x = 2·n·size + (1 − 2p)·source, reflections |n − p| + |n|."""
    n = np.arange(-order, order + 1)
    coords = np.concatenate([2 * n * size + source, 2 * n * size - source])
    bounces = np.concatenate([np.abs(n) + np.abs(n), np.abs(n - 1) + np.abs(n)])
    return coords, bounces


def shoebox_rir(rng, rate, rt60=None, dims=None, source=None, mic=None, near=False):
    """One impulse response (float64, direct sound first, normalised to a direct-path gain of 1,
    starting at the direct sound so that reverberant speech stays aligned with the dry voice).
    Unspecified parameters are drawn: RT60 0.1–0.8 s, rooms from a booth to a classroom,
    source and microphone at least 0.4 m from every wall; with `near`, the microphone 0.2–1.5 m
    from the source (a talker at a laptop or headset), else anywhere (a noise across the room)."""
    rt60 = rng.uniform(0.1, 0.8) if rt60 is None else rt60
    dims = np.array([rng.uniform(2.5, 10), rng.uniform(2.0, 8), rng.uniform(2.3, 4)]) if dims is None else np.asarray(dims, float)
    margin = 0.4
    source = rng.uniform(margin, dims - margin) if source is None else np.asarray(source, float)
    if mic is None and near:
        direction = rng.standard_normal(3)
        mic = np.clip(source + direction / np.linalg.norm(direction) * rng.uniform(0.2, 1.5), margin, dims - margin)
    elif mic is None:
        mic = rng.uniform(margin, dims - margin)
    mic = np.asarray(mic, float)
    volume = dims.prod()
    surface = 2 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    # Sabine: RT60 = 0.161·V / (S·α); the reflection coefficient of pressure is √(1 − α)
    alpha = min(0.99, max(0.01, 0.161 * volume / (surface * rt60)))
    beta = math.sqrt(1 - alpha)

    direct = float(np.linalg.norm(source - mic))
    early_end = direct / SPEED_OF_SOUND + EARLY_SECONDS  # seconds after emission
    order = int(math.ceil(SPEED_OF_SOUND * early_end / (2 * dims.min()))) + 1
    (x, bx), (y, by), (z, bz) = (_axis_images(dims[i], source[i], order) for i in range(3))
    dist = np.sqrt((x[:, None, None] - mic[0]) ** 2 + (y[None, :, None] - mic[1]) ** 2 + (z[None, None, :] - mic[2]) ** 2)
    bounces = bx[:, None, None] + by[None, :, None] + bz[None, None, :]
    keep = dist <= SPEED_OF_SOUND * early_end
    dist, bounces = dist[keep], bounces[keep]
    gain = beta ** bounces / np.maximum(dist, 0.1)
    # time relative to the direct sound, split between the two nearest samples
    t = (dist - direct) / SPEED_OF_SOUND * rate
    length = int(max(1.2 * rt60, 2 * EARLY_SECONDS) * rate)
    ir = np.zeros(length + 2)
    i = np.floor(t).astype(int)
    frac = t - i
    np.add.at(ir, i, gain * (1 - frac))
    np.add.at(ir, i + 1, gain * frac)
    ir = ir[:length] / (1 / max(direct, 0.1))

    # diffuse tail from the end of the early part, starting at the early part's last 10 ms level
    start = int(round((early_end - direct / SPEED_OF_SOUND) * rate))
    if start < length:
        recent = ir[max(0, start - int(0.01 * rate)):start]
        level = math.sqrt(float(np.mean(recent ** 2))) if len(recent) else 0.0
        n = np.arange(length - start)
        ir[start:] += rng.standard_normal(length - start) * level * np.exp(-6.9 * n / (rt60 * rate))
    return ir

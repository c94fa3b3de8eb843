/**
 * Deterministic test signals: speech-like voiced syllables (harmonics under moving formants,
 * with pauses) and the noises a user meets (white, mains hum, keyboard-like clicks).
 * Used by unit tests, the browser tests' fake microphone and the benchmarks.
 */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

/** Speech-like audio; `active` marks the samples inside a syllable. RMS over syllables ≈ level. */
export function speechLike(seconds: number, sampleRate: number, seed = 1, level = 0.1): { samples: Float32Array; active: Uint8Array } {
  const random = rng(seed);
  const n = Math.round(seconds * sampleRate);
  const samples = new Float32Array(n);
  const active = new Uint8Array(n);
  let t = Math.round(0.1 * sampleRate);
  while (t < n) {
    const dur = Math.round((0.15 + 0.35 * random()) * sampleRate);
    const f0 = 100 + 120 * random();
    const formants = [300 + 600 * random(), 900 + 1500 * random(), 2500 + 1000 * random()];
    const glide = (random() - 0.5) * 400;
    let phase = 0;
    for (let i = 0; i < dur && t + i < n; i++) {
      const u = i / dur;
      const f = f0 * (1 + 0.08 * Math.sin(2 * Math.PI * 3 * u));
      phase += (2 * Math.PI * f) / sampleRate;
      let v = 0;
      for (let k = 1; k * f < Math.min(7000, sampleRate / 2 - 500); k++) {
        let amp = 0;
        for (const fm of formants) amp += Math.exp(-0.5 * ((k * f - fm - glide * u) / 150) ** 2);
        v += (amp / Math.sqrt(k)) * Math.sin(k * phase);
      }
      samples[t + i] = v * Math.sin(Math.PI * u) ** 0.5;
      active[t + i] = 1;
    }
    t += dur + Math.round((0.05 + 0.5 * random()) * sampleRate);
  }
  let energy = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (active[i]) {
      energy += samples[i] ** 2;
      count++;
    }
  }
  const gain = level / Math.sqrt(energy / Math.max(1, count) + 1e-12);
  for (let i = 0; i < n; i++) samples[i] *= gain;
  return { samples, active };
}

export function whiteNoise(n: number, level: number, seed = 2): Float32Array {
  const random = rng(seed);
  return Float32Array.from({ length: n }, () => level * gaussian(random));
}

export function hum(n: number, sampleRate: number, level: number, mains = 50): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 1; k <= 7; k++) v += Math.sin((2 * Math.PI * mains * k * i) / sampleRate + k) / k;
    out[i] = v * level;
  }
  return out;
}

export function keyboardClicks(n: number, sampleRate: number, level: number, seed = 3): Float32Array {
  const random = rng(seed);
  const out = new Float32Array(n);
  let t = 0;
  while (t < n) {
    const len = Math.round(0.004 * sampleRate + random() * 0.01 * sampleRate);
    for (let i = 0; i < len && t + i < n; i++) out[t + i] += level * 4 * gaussian(random) * Math.exp(-i / (len / 5));
    t += Math.round((0.08 + 0.2 * random()) * sampleRate);
  }
  return out;
}

export function add(...signals: Float32Array[]): Float32Array {
  const out = new Float32Array(signals[0].length);
  for (const s of signals) for (let i = 0; i < out.length; i++) out[i] += s[i];
  return out;
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i] * x[i];
  return Math.sqrt(e / Math.max(1, to - from));
}

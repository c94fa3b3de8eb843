/**
 * Speech quality metrics for the evaluation: SI-SDR, STOI (Taal et al., 2011) and ESTOI
 * (Jensen & Taal, 2016), following the reference implementation's constants (pystoi):
 * 10 kHz, 256-sample frames, 512-point FFT, 15 one-third-octave bands from 150 Hz,
 * 30-frame segments, −15 dB clipping (STOI), 40 dB silent-frame removal.
 */
import FFT from 'fft.js';
import { resampleAligned } from '../src/offline/offline';

/**
 * The estimate's projection on the reference, both with their means removed: `alpha` is the gain
 * at which the estimate carries the reference (SI-SDR's scale, levelDb's level).
 */
function projection(estimate: ArrayLike<number>, reference: ArrayLike<number>) {
  const n = Math.min(estimate.length, reference.length);
  let me = 0;
  let mr = 0;
  for (let i = 0; i < n; i++) {
    me += estimate[i];
    mr += reference[i];
  }
  me /= n;
  mr /= n;
  let dot = 0;
  let rr = 0;
  for (let i = 0; i < n; i++) {
    const r = reference[i] - mr;
    dot += (estimate[i] - me) * r;
    rr += r * r;
  }
  return { n, me, mr, alpha: dot / (rr + 1e-12) };
}

export function siSdr(estimate: ArrayLike<number>, reference: ArrayLike<number>): number {
  const { n, me, mr, alpha } = projection(estimate, reference);
  let target = 0;
  let noise = 0;
  for (let i = 0; i < n; i++) {
    const t = alpha * (reference[i] - mr);
    const e = estimate[i] - me - t;
    target += t * t;
    noise += e * e;
  }
  return 10 * Math.log10((target + 1e-12) / (noise + 1e-12));
}

/**
 * How much louder (dB, negative: quieter) the output carries the reference: its projection on the
 * reference, the level SI-SDR sets aside. A denoiser whose masks never reach one hands on a clean
 * voice quieter than it came, which a listener hears each time suppression is switched on.
 */
export function levelDb(estimate: ArrayLike<number>, reference: ArrayLike<number>): number {
  return 20 * Math.log10(Math.max(projection(estimate, reference).alpha, 1e-6));
}

/**
 * Where an output's error comes from, when the masks that made it are known to have made
 * `speechOut` of the speech and `noiseOut` of the noise (src/offline denoiseParts). Both in dB
 * against the speech the whole output keeps (its projection on `speech`, as SI-SDR takes it):
 * `speechErrorDb`, what the masks did to the speech beyond a change of level; `noiseLeftDb`, the
 * noise that came through. The output's SI-SDR is about −10·log10(10^(s/10) + 10^(n/10)).
 */
export function errorSplit(
  speechOut: ArrayLike<number>,
  noiseOut: ArrayLike<number>,
  speech: ArrayLike<number>,
): { speechErrorDb: number; noiseLeftDb: number } {
  const n = Math.min(speechOut.length, noiseOut.length, speech.length);
  const mean = (x: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i];
    return m / n;
  };
  const ms = mean(speechOut);
  const mn = mean(noiseOut);
  const mr = mean(speech);
  let dot = 0;
  let rr = 0;
  for (let i = 0; i < n; i++) {
    const r = speech[i] - mr;
    dot += (speechOut[i] - ms + noiseOut[i] - mn) * r;
    rr += r * r;
  }
  const alpha = dot / (rr + 1e-12);
  let speechError = 0;
  let noiseLeft = 0;
  for (let i = 0; i < n; i++) {
    speechError += (speechOut[i] - ms - alpha * (speech[i] - mr)) ** 2;
    noiseLeft += (noiseOut[i] - mn) ** 2;
  }
  const kept = alpha * alpha * rr + 1e-20;
  return { speechErrorDb: 10 * Math.log10(speechError / kept + 1e-12), noiseLeftDb: 10 * Math.log10(noiseLeft / kept + 1e-12) };
}

export function energyDb(x: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i] * x[i];
  return 10 * Math.log10(e / x.length + 1e-20);
}

const FS = 10000;
const FRAME = 256;
const NFFT = 512;
const BANDS = 15;
const SEGMENT = 30;
const BETA = -15;
const DYN_RANGE = 40;

function hanning(n: number): Float64Array {
  // numpy.hanning(n + 2)[1:-1]
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 1)) / (n + 1));
  return w;
}

function removeSilentFrames(x: Float64Array, y: Float64Array): [Float64Array, Float64Array] {
  const w = hanning(FRAME);
  const hop = FRAME / 2;
  const starts: number[] = [];
  for (let s = 0; s + FRAME <= x.length; s += hop) starts.push(s);
  const energies = starts.map((s) => {
    let e = 0;
    for (let i = 0; i < FRAME; i++) e += (x[s + i] * w[i]) ** 2;
    return 20 * Math.log10(Math.sqrt(e) + 1e-16);
  });
  const max = Math.max(...energies);
  const kept = starts.filter((_, i) => energies[i] > max - DYN_RANGE);
  const len = kept.length ? (kept.length - 1) * hop + FRAME : 0;
  const xs = new Float64Array(len);
  const ys = new Float64Array(len);
  kept.forEach((s, j) => {
    for (let i = 0; i < FRAME; i++) {
      xs[j * hop + i] += x[s + i] * w[i];
      ys[j * hop + i] += y[s + i] * w[i];
    }
  });
  return [xs, ys];
}

let bandMatrix: { lo: number; hi: number }[] | null = null;
function bands(): { lo: number; hi: number }[] {
  if (bandMatrix) return bandMatrix;
  const f = Array.from({ length: NFFT / 2 + 1 }, (_, k) => (k * FS) / NFFT);
  const closest = (v: number) => f.reduce((best, fk, k) => ((fk - v) ** 2 < (f[best] - v) ** 2 ? k : best), 0);
  bandMatrix = Array.from({ length: BANDS }, (_, i) => {
    const cf = 150 * 2 ** (i / 3);
    return { lo: closest(cf * 2 ** (-1 / 6)), hi: closest(cf * 2 ** (1 / 6)) };
  });
  return bandMatrix;
}

/** One-third-octave band envelopes, [band][frame]. */
function bandEnvelopes(x: Float64Array): Float64Array[] {
  const w = hanning(FRAME);
  const fft = new FFT(NFFT);
  const frame = new Float64Array(NFFT);
  const spec = fft.createComplexArray();
  const hop = FRAME / 2;
  const count = Math.max(0, Math.floor((x.length - FRAME) / hop) + 1);
  const out = Array.from({ length: BANDS }, () => new Float64Array(count));
  const b = bands();
  for (let t = 0; t < count; t++) {
    frame.fill(0);
    for (let i = 0; i < FRAME; i++) frame[i] = x[t * hop + i] * w[i];
    fft.realTransform(spec, frame);
    for (let j = 0; j < BANDS; j++) {
      let e = 0;
      for (let k = b[j].lo; k < b[j].hi; k++) e += spec[2 * k] ** 2 + spec[2 * k + 1] ** 2;
      out[j][t] = Math.sqrt(e);
    }
  }
  return out;
}

function prepare(clean: ArrayLike<number>, processed: ArrayLike<number>, rate: number): [Float64Array[], Float64Array[]] {
  const n = Math.min(clean.length, processed.length);
  const x = Float64Array.from(
    resampleAligned(
      Float32Array.from({ length: n }, (_, i) => clean[i]),
      rate,
      FS,
    ),
  );
  const y = Float64Array.from(
    resampleAligned(
      Float32Array.from({ length: n }, (_, i) => processed[i]),
      rate,
      FS,
    ),
  );
  const [xs, ys] = removeSilentFrames(x, y);
  return [bandEnvelopes(xs), bandEnvelopes(ys)];
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** STOI of `processed` against `clean` (both at `rate`), in [0, 1]. */
export function stoi(clean: ArrayLike<number>, processed: ArrayLike<number>, rate: number): number {
  const [X, Y] = prepare(clean, processed, rate);
  const frames = X[0].length;
  if (frames < SEGMENT) return NaN;
  const clip = 1 + 10 ** (-BETA / 20);
  let total = 0;
  let count = 0;
  for (let m = SEGMENT; m <= frames; m++) {
    for (let j = 0; j < BANDS; j++) {
      const x = X[j].subarray(m - SEGMENT, m);
      const y = Y[j].subarray(m - SEGMENT, m);
      let nx = 0;
      let ny = 0;
      for (let i = 0; i < SEGMENT; i++) {
        nx += x[i] ** 2;
        ny += y[i] ** 2;
      }
      const scale = Math.sqrt(nx) / (Math.sqrt(ny) + 1e-16);
      const yp = Float64Array.from(y, (v, i) => Math.min(v * scale, x[i] * clip));
      const mx = mean(x);
      const my = mean(yp);
      let dot = 0;
      let ex = 0;
      let ey = 0;
      for (let i = 0; i < SEGMENT; i++) {
        const a = x[i] - mx;
        const b = yp[i] - my;
        dot += a * b;
        ex += a * a;
        ey += b * b;
      }
      total += dot / (Math.sqrt(ex * ey) + 1e-16);
      count++;
    }
  }
  return total / count;
}

/** Extended STOI (no clipping; row- then column-normalised segments), roughly in [0, 1]. */
export function estoi(clean: ArrayLike<number>, processed: ArrayLike<number>, rate: number): number {
  const [X, Y] = prepare(clean, processed, rate);
  const frames = X[0].length;
  if (frames < SEGMENT) return NaN;
  const normalise = (S: Float64Array[], m: number): Float64Array[] => {
    const rows = S.map((band) => {
      const seg = band.slice(m - SEGMENT, m);
      const mu = mean(seg);
      let norm = 0;
      for (let i = 0; i < SEGMENT; i++) {
        seg[i] -= mu;
        norm += seg[i] ** 2;
      }
      norm = Math.sqrt(norm) + 1e-16;
      for (let i = 0; i < SEGMENT; i++) seg[i] /= norm;
      return seg;
    });
    for (let i = 0; i < SEGMENT; i++) {
      let mu = 0;
      for (let j = 0; j < BANDS; j++) mu += rows[j][i];
      mu /= BANDS;
      let norm = 0;
      for (let j = 0; j < BANDS; j++) {
        rows[j][i] -= mu;
        norm += rows[j][i] ** 2;
      }
      norm = Math.sqrt(norm) + 1e-16;
      for (let j = 0; j < BANDS; j++) rows[j][i] /= norm;
    }
    return rows;
  };
  let total = 0;
  let segments = 0;
  for (let m = SEGMENT; m <= frames; m++) {
    const xn = normalise(X, m);
    const yn = normalise(Y, m);
    let d = 0;
    for (let j = 0; j < BANDS; j++) for (let i = 0; i < SEGMENT; i++) d += xn[j][i] * yn[j][i];
    total += d / SEGMENT;
    segments++;
  }
  return total / segments;
}

/** Lag (in samples, 0..maxLag) at which `delayed` best matches `reference`: a system's delay. */
export function bestLag(reference: Float32Array, delayed: Float32Array, maxLag: number, from = 0, to = delayed.length): number {
  let best = -Infinity;
  let lag = 0;
  for (let l = 0; l <= maxLag; l++) {
    let c = 0;
    for (let i = Math.max(from, l); i < to; i++) c += delayed[i] * reference[i - l];
    if (c > best) {
      best = c;
      lag = l;
    }
  }
  return lag;
}

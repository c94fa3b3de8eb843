/**
 * Streaming band-limited resampler (Kaiser-windowed sinc, polyphase).
 *
 * Used where the AudioContext does not run at the model's rate (44.1 or 48 kHz) and for files.
 * Stateful across calls and allocation-free after construction, so it can run on the audio
 * thread. Output sample k stands for input time k·(inRate/outRate) − `delayIn`, so the group
 * delay is `delayIn` input samples.
 *
 * Output times fall on a fixed set of fractional positions between input samples: with
 * g = gcd(inRate, outRate) there are outRate/g of them (1 for 48 → 16 kHz, 3 for 16 → 48 kHz,
 * 160 for 44.1 → 16 kHz). The kernel is computed once for each, so an output sample is a plain
 * dot product; this is what keeps a 44.1/48 kHz context as cheap as the model itself.
 */

/** More distinct positions than this (an odd rate pair) are rounded to the nearest of this many. */
const MAX_PHASES = 1024;

export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class StreamingResampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Group delay in input samples. */
  readonly delayIn: number;
  private readonly halfWidth: number;
  private readonly taps: number;
  /** Every `advance` input samples make exactly `positions` output samples (rates divided by their gcd). */
  readonly positions: number;
  readonly advance: number;
  /** The kernel for each phase (taps each), over input samples centre − halfWidth + 1 … centre + halfWidth. */
  private readonly bank: Float64Array;
  private readonly phases: number;
  private readonly history: Float64Array;
  /** Zeros the history starts with, and where the first output's kernel is centred in it. */
  private readonly lead: number;
  private readonly firstCentre: number;
  private filled: number;
  // Time of the next output in `history`: centre + offset / positions input samples.
  private centre: number;
  private offset = 0;

  /**
   * The defaults, at 48 ↔ 16 kHz: flat to 6 kHz, −1.2 dB at 7 kHz, −13 dB at 8 kHz, at least
   * 70 dB down from 9 kHz (the aliases that would land in the speech band); 76 taps per 16 kHz
   * output going down, 26 per 48 kHz output going up.
   * `compensateDelay` (for whole files, not streams): output k stands for input time exactly
   * k·inRate/outRate; flush with `delayFlush` zeros at the end to get the last outputs.
   */
  constructor(inRate: number, outRate: number, zeroCrossings = 12, maxChunk = 4096, compensateDelay = false) {
    this.inRate = inRate;
    this.outRate = outRate;
    const inHz = Math.round(inRate);
    const outHz = Math.round(outRate);
    const g = gcd(inHz, outHz);
    this.positions = outHz / g;
    this.advance = inHz / g;
    this.phases = Math.min(this.positions, MAX_PHASES);
    const cutoff = Math.min(1, outRate / inRate) * 0.95; // a little below Nyquist
    this.halfWidth = Math.ceil(zeroCrossings / cutoff);
    this.taps = 2 * this.halfWidth;
    this.delayIn = compensateDelay ? 0 : this.halfWidth;
    const beta = 7;
    const kernel = (t: number) => {
      const r = Math.abs(t) / this.halfWidth;
      if (r >= 1) return 0;
      const x = Math.PI * cutoff * t;
      return cutoff * (t === 0 ? 1 : Math.sin(x) / x) * (besselI0(beta * Math.sqrt(1 - r * r)) / besselI0(beta));
    };
    this.bank = new Float64Array(this.phases * this.taps);
    for (let p = 0; p < this.phases; p++) {
      const frac = p / this.phases;
      for (let j = 0; j < this.taps; j++) this.bank[p * this.taps + j] = kernel(j - this.halfWidth + 1 - frac);
    }
    // The history starts with silence: 2·halfWidth − 1 zeros, so that the first output's
    // kernel (centred halfWidth − 1, or 2·halfWidth − 1 with compensation) lies inside it and
    // output k stands for input time k·inRate/outRate − delayIn.
    this.lead = 2 * this.halfWidth - 1;
    this.firstCentre = compensateDelay ? this.lead : this.halfWidth - 1;
    this.history = new Float64Array(this.lead + this.taps + maxChunk + 2);
    this.filled = this.lead;
    this.centre = this.firstCentre;
  }

  /** Zeros to append after the last input so that every output it implies comes out. */
  get delayFlush(): number {
    return 2 * this.halfWidth + 2;
  }

  /**
   * How many outputs a fresh resampler has written once it has been given `inputs` samples in
   * all, however they were split into calls (every call writes all the outputs it can).
   */
  outputsAfter(inputs: number): number {
    // Output k is written once (firstCentre + halfWidth + 1)·positions + k·advance < (lead + inputs)·positions.
    const room = (this.lead + inputs - this.firstCentre - this.halfWidth - 1) * this.positions;
    return room > 0 ? Math.ceil(room / this.advance) : 0;
  }

  /** Most outputs `process` can produce from `inputLength` samples. */
  maxOutput(inputLength: number): number {
    return Math.ceil((inputLength * this.positions) / this.advance) + 2;
  }

  /** Resample `length` samples of `input`; writes to `output`, returns how many were written. */
  process(input: ArrayLike<number>, length: number, output: Float32Array): number {
    let written = 0;
    let consumed = 0;
    const { history, halfWidth, taps, bank, positions, advance, phases } = this;
    let { centre, offset } = this;
    while (consumed < length) {
      const take = Math.min(length - consumed, history.length - this.filled);
      for (let i = 0; i < take; i++) history[this.filled + i] = input[consumed + i];
      this.filled += take;
      consumed += take;
      // every output whose kernel lies inside the history (and a sample to spare)
      const end = this.filled * positions;
      if (positions === 1) {
        // Whole-number decimation (48 → 16 kHz): one kernel, symmetric about the centre
        // (its last tap, at halfWidth, is zero), so each pair of taps shares a multiply.
        const middle = bank[halfWidth - 1];
        while (centre + halfWidth + 1 < this.filled) {
          // two sums halve the dependency chain (halfWidth − 1 pairs; the odd one out after)
          let even = history[centre] * middle;
          let odd = 0;
          let i = 1;
          let k = halfWidth;
          for (; i + 1 < halfWidth; i += 2, k += 2) {
            even += (history[centre - i] + history[centre + i]) * bank[k];
            odd += (history[centre - i - 1] + history[centre + i + 1]) * bank[k + 1];
          }
          if (i < halfWidth) even += (history[centre - i] + history[centre + i]) * bank[k];
          output[written++] = even + odd;
          centre += advance;
        }
      } else if (positions === 3 && advance === 1) {
        // Whole-number interpolation by 3 (16 → 48 kHz), the live path's way back: each input
        // position makes three outputs from the same taps, so one pass over them serves all three.
        // (offset is always 0 here: the three are written together.)
        while (centre + halfWidth + 1 < this.filled) {
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          // taps is even: two taps a pass
          for (let i = centre - halfWidth + 1, k = 0; k < taps; i += 2, k += 2) {
            const h = history[i];
            const g = history[i + 1];
            s0 += h * bank[k] + g * bank[k + 1];
            s1 += h * bank[taps + k] + g * bank[taps + k + 1];
            s2 += h * bank[2 * taps + k] + g * bank[2 * taps + k + 1];
          }
          output[written++] = s0;
          output[written++] = s1;
          output[written++] = s2;
          centre++;
        }
      }
      while ((centre + halfWidth + 1) * positions + offset < end) {
        let phase = offset;
        let first = centre - halfWidth + 1;
        if (phases !== positions) {
          // an odd rate pair: the nearest of `phases` tabulated positions
          phase = Math.round((offset * phases) / positions);
          if (phase === phases) {
            phase = 0;
            first++;
          }
        }
        // taps is even: two sums halve the dependency chain
        let even = 0;
        let odd = 0;
        for (let i = first, k = phase * taps, last = first + taps; i < last; i += 2, k += 2) {
          even += history[i] * bank[k];
          odd += history[i + 1] * bank[k + 1];
        }
        output[written++] = even + odd;
        offset += advance;
        centre += Math.floor(offset / positions);
        offset %= positions;
      }
      // drop samples no kernel will need again
      const keepFrom = centre - halfWidth + 1;
      if (keepFrom > 0) {
        history.copyWithin(0, keepFrom, this.filled);
        this.filled -= keepFrom;
        centre -= keepFrom;
      }
    }
    this.centre = centre;
    this.offset = offset;
    return written;
  }
}

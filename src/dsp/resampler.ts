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

export interface ResamplerOptions {
  /** Zero crossings of the sinc on each side: the kernel's length, so the steepness of its edge. */
  zeroCrossings?: number;
  /** The most input samples one `process` call is given. */
  maxChunk?: number;
  /** For whole files, not streams: output k stands for input time exactly k·inRate/outRate (no delay); flush with `delayFlush` zeros at the end. */
  compensateDelay?: boolean;
  /**
   * The kernel's cutoff as a fraction of the lower rate's Nyquist frequency. Below 1 (the
   * default, 0.95) the band edge keeps aliases out of the band; at exactly 1 the kernel is a
   * Nyquist filter, and at 48 ↔ 16 kHz what is zero in it is skipped: every third tap going
   * down, and a whole output phase of three coming back.
   */
  cutoff?: number;
}

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
  /** Decimation by 3 with a Nyquist kernel: every third tap from the centre is zero. */
  private readonly nyquistDecimation: boolean;
  /**
   * Whole-number interpolation by 3 with a Nyquist kernel: the first output of each three is the
   * input sample itself, and the other two phases' taps are each other's reverse; their sums and
   * differences at mirrored positions (j and taps − 1 − j, j < halfWidth).
   */
  private readonly firstPhaseIsInput: boolean;
  private readonly mirrorSum: Float64Array;
  private readonly mirrorDifference: Float64Array;
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
   */
  constructor(inRate: number, outRate: number, options: ResamplerOptions = {}) {
    const { zeroCrossings = 12, maxChunk = 4096, compensateDelay = false, cutoff: edge = 0.95 } = options;
    this.inRate = inRate;
    this.outRate = outRate;
    const inHz = Math.round(inRate);
    const outHz = Math.round(outRate);
    const g = gcd(inHz, outHz);
    this.positions = outHz / g;
    this.advance = inHz / g;
    this.phases = Math.min(this.positions, MAX_PHASES);
    const cutoff = Math.min(1, outRate / inRate) * edge;
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
    // Tap values this small are the zeros of a Nyquist kernel, off by rounding.
    const isZero = (v: number) => Math.abs(v) < 1e-9;
    let thirds = this.positions === 1 && this.advance === 3;
    for (let i = 3; thirds && i < this.halfWidth; i += 3) if (!isZero(this.bank[this.halfWidth - 1 + i])) thirds = false;
    this.nyquistDecimation = thirds;
    let delta = this.positions === 3 && this.advance === 1;
    for (let j = 0; delta && j < this.taps; j++) if (j !== this.halfWidth - 1 && !isZero(this.bank[j])) delta = false;
    for (let j = 0; delta && j < this.taps; j++) delta = Math.abs(this.bank[this.taps + j] - this.bank[3 * this.taps - 1 - j]) < 1e-12;
    this.firstPhaseIsInput = delta && Math.abs(this.bank[this.halfWidth - 1] - 1) < 1e-12;
    this.mirrorSum = new Float64Array(this.halfWidth);
    this.mirrorDifference = new Float64Array(this.halfWidth);
    for (let k = 0; k < this.halfWidth; k++) {
      const a = this.bank[this.taps + k];
      const b = this.bank[2 * this.taps - 1 - k];
      this.mirrorSum[k] = a + b;
      this.mirrorDifference[k] = a - b;
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
        const nyquist = this.nyquistDecimation;
        while (centre + halfWidth + 1 < this.filled) {
          // two sums halve the dependency chain (the odd one out after)
          let even = history[centre] * middle;
          let odd = 0;
          let i = 1;
          let k = halfWidth;
          if (nyquist) {
            // by 3 with a Nyquist kernel: the pairs at 3, 6, 9 … from the centre are zero
            for (; i + 1 < halfWidth; i += 3, k += 3) {
              even += (history[centre - i] + history[centre + i]) * bank[k];
              odd += (history[centre - i - 1] + history[centre + i + 1]) * bank[k + 1];
            }
          } else {
            for (; i + 1 < halfWidth; i += 2, k += 2) {
              even += (history[centre - i] + history[centre + i]) * bank[k];
              odd += (history[centre - i - 1] + history[centre + i + 1]) * bank[k + 1];
            }
          }
          if (i < halfWidth) even += (history[centre - i] + history[centre + i]) * bank[k];
          output[written++] = even + odd;
          centre += advance;
        }
      } else if (positions === 3 && advance === 1) {
        // Whole-number interpolation by 3 (16 → 48 kHz), the live path's way back: each input
        // position makes three outputs from the same taps, so one pass over them serves all three
        // (two, with a Nyquist kernel, whose first output is the input sample itself).
        // (offset is always 0 here: the three are written together.)
        const firstIsInput = this.firstPhaseIsInput;
        while (centre + halfWidth + 1 < this.filled) {
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          // taps is even: two taps a pass
          if (firstIsInput) {
            // The other two phases are each other's mirror image: from the sums and differences of
            // the taps at mirrored positions, half as many passes make both.
            s0 = history[centre];
            const { mirrorSum: sum, mirrorDifference: difference } = this;
            let plus = 0;
            let minus = 0;
            for (let i = centre - halfWidth + 1, last = i + taps - 1, k = 0; k < halfWidth; i++, last--, k++) {
              const a = history[i];
              const b = history[last];
              plus += (a + b) * sum[k];
              minus += (a - b) * difference[k];
            }
            s1 = 0.5 * (plus + minus);
            s2 = 0.5 * (plus - minus);
          } else {
            for (let i = centre - halfWidth + 1, k = 0; k < taps; i += 2, k += 2) {
              const h = history[i];
              const g = history[i + 1];
              s0 += h * bank[k] + g * bank[k + 1];
              s1 += h * bank[taps + k] + g * bank[taps + k + 1];
              s2 += h * bank[2 * taps + k] + g * bank[2 * taps + k + 1];
            }
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

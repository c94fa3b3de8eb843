/**
 * Streaming band-limited resampler (Kaiser-windowed sinc, any rate ratio).
 *
 * Used where the AudioContext does not run at the model's rate (44.1 or 48 kHz) and for files.
 * Stateful across calls and allocation-free after construction, so it can run on the audio
 * thread. Output sample k stands for input time k·(inRate/outRate) − `delayIn`, so the group
 * delay is `delayIn` input samples.
 */
const TABLE_RESOLUTION = 512;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

export class StreamingResampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Group delay in input samples. */
  readonly delayIn: number;
  private readonly step: number;
  private readonly halfWidth: number;
  private readonly table: Float32Array;
  private readonly history: Float32Array;
  private filled: number;
  private position: number; // time of the next output, in samples of `history`

  /**
   * `compensateDelay` (for whole files, not streams): output k stands for input time exactly
   * k·inRate/outRate; flush with `delayFlush` zeros at the end to get the last outputs.
   */
  constructor(inRate: number, outRate: number, zeroCrossings = 16, maxChunk = 4096, compensateDelay = false) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.step = inRate / outRate;
    const cutoff = Math.min(1, outRate / inRate) * 0.95; // a little below Nyquist
    this.halfWidth = Math.ceil(zeroCrossings / cutoff);
    this.delayIn = compensateDelay ? 0 : this.halfWidth;
    // kernel(t) for t in [0, halfWidth], sampled TABLE_RESOLUTION times per input sample
    const beta = 8;
    const n = this.halfWidth * TABLE_RESOLUTION + 2;
    this.table = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const t = i / TABLE_RESOLUTION;
      const x = Math.PI * cutoff * t;
      const sinc = t === 0 ? 1 : Math.sin(x) / x;
      const r = t / this.halfWidth;
      const kaiser = r <= 1 ? besselI0(beta * Math.sqrt(1 - r * r)) / besselI0(beta) : 0;
      this.table[i] = cutoff * sinc * kaiser;
    }
    this.history = new Float32Array(2 * this.halfWidth + maxChunk + 2);
    // Start with halfWidth samples of silence before the first input: a causal, fixed delay.
    this.filled = this.halfWidth;
    this.position = compensateDelay ? this.halfWidth : 0;
  }

  /** Zeros to append after the last input so that every output it implies comes out. */
  get delayFlush(): number {
    return 2 * this.halfWidth + 2;
  }

  /** Most outputs `process` can produce from `inputLength` samples. */
  maxOutput(inputLength: number): number {
    return Math.ceil(inputLength / this.step) + 2;
  }

  /** Resample `length` samples of `input`; writes to `output`, returns how many were written. */
  process(input: ArrayLike<number>, length: number, output: Float32Array): number {
    let written = 0;
    let consumed = 0;
    const { history, halfWidth, table } = this;
    while (consumed < length) {
      const take = Math.min(length - consumed, history.length - this.filled);
      for (let i = 0; i < take; i++) history[this.filled + i] = input[consumed + i];
      this.filled += take;
      consumed += take;
      // produce every output whose kernel lies inside the history
      while (this.position + halfWidth < this.filled - 1) {
        const centre = Math.floor(this.position);
        const frac = this.position - centre;
        let sum = 0;
        for (let j = -halfWidth + 1; j <= halfWidth; j++) {
          const idx = centre + j;
          if (idx < 0) continue;
          const t = Math.abs(j - frac) * TABLE_RESOLUTION;
          const ti = t | 0;
          if (ti + 1 >= table.length) continue;
          const w = table[ti] + (table[ti + 1] - table[ti]) * (t - ti);
          sum += history[idx] * w;
        }
        output[written++] = sum;
        this.position += this.step;
      }
      // drop samples no kernel will need again
      const keepFrom = Math.max(0, Math.floor(this.position) - halfWidth);
      if (keepFrom > 0) {
        history.copyWithin(0, keepFrom, this.filled);
        this.filled -= keepFrom;
        this.position -= keepFrom;
      }
    }
    return written;
  }
}

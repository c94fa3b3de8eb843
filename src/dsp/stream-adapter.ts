import { cleanSample, FrameEngine } from './frame-engine';
import { StreamingResampler, besselI0, gcd } from './resampler';

/** Taps of the fractional delay that aligns the upper band where the delay is not whole (44.1 kHz). */
const FRACTIONAL_DELAY_TAPS = 32;

/**
 * Kernel length of the live resamplers (the file path keeps the resampler's longer default). In
 * a 48 kHz context resampling costs about as much as the rest of the DSP, and the upper band
 * makes the crossover exact whatever the kernel, so the shorter kernel costs only a wider
 * transition around 8 kHz; it also shortens the delay.
 */
const STREAM_ZERO_CROSSINGS = 8;

/** Windowed-sinc taps h with Σ h[j]·x[n − first − j] ≈ x(n − delay), first = ⌈delay⌉ − taps/2. */
function fractionalDelayKernel(delay: number, taps: number): Float32Array {
  const first = Math.ceil(delay) - taps / 2;
  const h = new Float32Array(taps);
  let sum = 0;
  for (let j = 0; j < taps; j++) {
    const t = delay - first - j;
    const r = t / (taps / 2);
    const w = Math.abs(r) < 1 ? besselI0(8 * Math.sqrt(1 - r * r)) / besselI0(8) : 0;
    h[j] = (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t)) * w;
    sum += h[j];
  }
  for (let j = 0; j < taps; j++) h[j] /= sum;
  return h;
}

const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;

/**
 * Runs a FrameEngine (at the model's rate, in hops) from render quanta at the context's rate.
 *
 * At the model's rate every quantum of hopSize samples is one hop in and one hop out. At any
 * other rate the input is resampled to the model's rate, gathered into hops, and the output is
 * resampled back through a FIFO primed with enough silence that it never runs dry; the delay
 * stays fixed and is reported in `delaySamples` (at the context rate).
 * Above the model's Nyquist frequency (8–24 kHz at 48 kHz) the input goes around the model:
 * the input delayed by the same delay, times a gain the engine derives from the mask; the
 * engine hands back its low band minus the same gain times its own delayed input, so the sum
 * is the processed low band plus the gained high band, and exactly the delayed input in bypass.
 * Nothing allocates after construction.
 */
export class StreamAdapter {
  readonly engine: FrameEngine;
  readonly contextRate: number;
  /** Microphone-to-speaker delay of the whole chain, in samples at the context rate. */
  readonly delaySamples: number;
  /** Quanta in which the output FIFO ran dry (an audible dropout). */
  underruns = 0;
  private readonly direct: boolean;
  private readonly down?: StreamingResampler;
  private readonly up?: StreamingResampler;
  private readonly hopIn: Float32Array;
  private readonly hopOut: Float32Array;
  private readonly downBuffer: Float32Array;
  private readonly upBuffer: Float32Array;
  private readonly outFifo: Float32Array;
  /** Upper-band gain for each sample in outFifo, at the same index. */
  private readonly gainFifo: Float32Array;
  private readonly hopGain: Float32Array;
  /** The input at the context rate, for the upper band, and the delay it is read at. */
  private readonly inputLine: Float32Array;
  /** Whole-sample delay of the upper band, or where the delay is fractional, its first tap's. */
  private readonly upperDelay: number;
  private readonly upperKernel: Float32Array | null;
  private inputWrite = 0;
  private hopFill = 0;
  private outRead = 0;
  private outCount = 0;

  constructor(engine: FrameEngine, contextRate: number, modelRate: number, maxQuantum = 128) {
    this.engine = engine;
    this.contextRate = contextRate;
    const hop = engine.hopSize;
    this.hopIn = new Float32Array(hop);
    this.hopOut = new Float32Array(hop);
    this.direct = contextRate === modelRate && maxQuantum === hop;
    if (this.direct) {
      this.delaySamples = engine.delaySamples;
      this.downBuffer = this.upBuffer = this.outFifo = this.gainFifo = this.hopGain = this.inputLine = new Float32Array(0);
      this.upperDelay = 0;
      this.upperKernel = null;
      return;
    }
    this.down = new StreamingResampler(contextRate, modelRate, STREAM_ZERO_CROSSINGS);
    this.up = new StreamingResampler(modelRate, contextRate, STREAM_ZERO_CROSSINGS);
    this.downBuffer = new Float32Array(this.down.maxOutput(maxQuantum));
    this.upBuffer = new Float32Array(this.up.maxOutput(hop));
    const ratio = contextRate / modelRate;
    const prime = this.leastPrime(maxQuantum);
    this.outFifo = new Float32Array(prime + 4 * Math.ceil(hop * ratio) + 4 * maxQuantum);
    this.gainFifo = new Float32Array(this.outFifo.length);
    this.hopGain = new Float32Array(hop);
    this.outCount = prime;
    this.delaySamples = this.down.delayIn + (engine.delaySamples + this.up.delayIn) * ratio + prime;
    const whole = Math.abs(this.delaySamples - Math.round(this.delaySamples)) < 1e-9;
    this.upperKernel = whole ? null : fractionalDelayKernel(this.delaySamples, FRACTIONAL_DELAY_TAPS);
    this.upperDelay = whole ? Math.round(this.delaySamples) : Math.ceil(this.delaySamples) - FRACTIONAL_DELAY_TAPS / 2;
    this.inputLine = new Float32Array(this.upperDelay + FRACTIONAL_DELAY_TAPS + maxQuantum);
  }

  /**
   * The least silence the output FIFO must start with so that it never runs dry: the largest
   * shortfall, over every quantum, of what has come out of the up-resampler against what has
   * been played. Exact, since which quantum completes which hop depends only on sample counts
   * (the model worker only supplies masks, never samples).
   */
  private leastPrime(quantum: number): number {
    const down = this.down!;
    const up = this.up!;
    const hop = this.engine.hopSize;
    // The shortfall repeats once the input has advanced whole cycles of the down-resampler
    // whose outputs make whole hops that fill whole cycles of the up-resampler.
    const outputsPerCycle = lcm(hop, up.advance);
    const inputsPerCycle = down.advance * (outputsPerCycle / gcd(outputsPerCycle, down.positions));
    const quanta = lcm(inputsPerCycle, quantum) / quantum + 64; // + the start, before the first outputs
    let prime = 0;
    for (let q = 1; q <= quanta; q++) {
      const hops = Math.floor(down.outputsAfter(q * quantum) / hop);
      prime = Math.max(prime, q * quantum - up.outputsAfter(hops * hop));
    }
    return prime;
  }

  /** Process one render quantum. `onFrame(frameIndex, magnitudes)` sees each new frame. */
  process(input: Float32Array, output: Float32Array, onFrame: (frame: number, magnitudes: Float32Array) => void): void {
    const engine = this.engine;
    if (this.direct) {
      const frame = engine.pushHop(input);
      onFrame(frame, engine.magnitudes);
      engine.pullHop(output);
      return;
    }
    const hop = engine.hopSize;
    const produced = this.down!.process(input, input.length, this.downBuffer);
    for (let i = 0; i < produced; i++) {
      this.hopIn[this.hopFill++] = this.downBuffer[i];
      if (this.hopFill === hop) {
        this.hopFill = 0;
        const frame = engine.pushHop(this.hopIn);
        onFrame(frame, engine.magnitudes);
        engine.pullHop(this.hopOut, this.hopGain);
        const n = this.up!.process(this.hopOut, hop, this.upBuffer);
        this.writeFifo(this.upBuffer, n);
      }
    }
    // (Ring indices wrap by comparison: a % per sample costs as much as the rest of the loop.)
    const { outFifo: fifo, gainFifo, inputLine: line, upperKernel: kernel } = this;
    if (this.outCount < output.length) this.underruns++;
    const available = Math.min(this.outCount, output.length);
    let read = this.outRead;
    let write = this.inputWrite;
    let delayed = write - this.upperDelay;
    if (delayed < 0) delayed += line.length;
    for (let i = 0; i < output.length; i++) {
      line[write] = cleanSample(input[i]); // as the engine cleans its input
      if (++write === line.length) write = 0;
      if (i < available) {
        output[i] = fifo[read] + gainFifo[read] * (kernel ? this.fractionallyDelayed(delayed) : line[delayed]);
        if (++read === fifo.length) read = 0;
      } else output[i] = 0;
      if (++delayed === line.length) delayed = 0;
    }
    this.inputWrite = write;
    this.outRead = read;
    this.outCount -= available;
  }

  /** The input line read through the fractional-delay kernel, its first tap at `index`. */
  private fractionallyDelayed(index: number): number {
    const { inputLine: line, upperKernel: h } = this;
    let sum = 0;
    let k = index;
    for (let j = 0; j < h!.length; j++) {
      sum += h![j] * line[k];
      if (--k < 0) k = line.length - 1;
    }
    return sum;
  }

  /** n upsampled samples of one hop, each with the upper-band gain of the model-rate sample it came from. */
  private writeFifo(samples: Float32Array, n: number): void {
    const { outFifo: fifo, gainFifo, hopGain } = this;
    const count = Math.min(n, fifo.length - this.outCount);
    let write = this.outRead + this.outCount;
    if (write >= fifo.length) write -= fifo.length;
    const perSample = hopGain.length / Math.max(1, n);
    for (let i = 0; i < count; i++) {
      fifo[write] = samples[i];
      gainFifo[write] = hopGain[Math.floor(i * perSample)];
      if (++write === fifo.length) write = 0;
    }
    this.outCount += count;
  }
}

import { cleanSample, FrameEngine } from './frame-engine';
import { type ResamplerOptions, StreamingResampler, besselI0, gcd } from './resampler';

/** Room the flat buffers have beyond what they must hold, so that moving it back is rare. */
const FLAT_BUFFER_SLACK = 8192;

/** Taps of the fractional delay that aligns the upper band where the delay is not whole (44.1 kHz). */
const FRACTIONAL_DELAY_TAPS = 32;

/**
 * The live resamplers. In a 48 kHz context resampling costs about as much as the rest of the
 * DSP. The upper band makes the crossover exact whatever the kernels (what the model's band
 * leaves out around 8 kHz, the upper band carries), so they can be short (6 zero crossings
 * against the file path's 12, which also shortens the delay) and Nyquist kernels, cut off at
 * exactly 8 kHz: a third of the taps going down and a whole phase of three coming back are then
 * zero, and skipped. With 6, what folds into the model's band from above 8 kHz is at least 14 dB
 * down below 7 kHz and 30 dB below 6 kHz, and images of the band above 10 kHz are 30–78 dB down.
 */
export const STREAM_RESAMPLING: ResamplerOptions = { zeroCrossings: 6, cutoff: 1 };

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
  /**
   * Upsampled output waiting to be played, from outRead, outCount of them. It and the lines
   * below are flat, not rings: every so often what is kept is moved back to the start, so the
   * per-sample loops need no wrap-around (with them, the loops cost as much as resampling).
   */
  private readonly outFifo: Float32Array;
  /** Upper-band gain for each sample in outFifo, at the same index. */
  private readonly gainFifo: Float32Array;
  private readonly hopGain: Float32Array;
  /** The input at the context rate, for the upper band, up to inputEnd, and the delay it is read at. */
  private readonly inputLine: Float32Array;
  /** How much of the line the upper band reads behind its newest sample. */
  private readonly inputKept: number;
  /** Whole-sample delay of the upper band, or where the delay is fractional, its first tap's. */
  private readonly upperDelay: number;
  private readonly upperKernel: Float32Array | null;
  private inputEnd = 0;
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
      this.upperDelay = this.inputKept = 0;
      this.upperKernel = null;
      return;
    }
    this.down = new StreamingResampler(contextRate, modelRate, STREAM_RESAMPLING);
    this.up = new StreamingResampler(modelRate, contextRate, STREAM_RESAMPLING);
    this.downBuffer = new Float32Array(this.down.maxOutput(maxQuantum));
    this.upBuffer = new Float32Array(this.up.maxOutput(hop));
    const ratio = contextRate / modelRate;
    const prime = this.leastPrime(maxQuantum);
    this.outFifo = new Float32Array(prime + 4 * Math.ceil(hop * ratio) + 4 * maxQuantum + FLAT_BUFFER_SLACK);
    this.gainFifo = new Float32Array(this.outFifo.length);
    this.hopGain = new Float32Array(hop);
    this.outCount = prime;
    this.delaySamples = this.down.delayIn + (engine.delaySamples + this.up.delayIn) * ratio + prime;
    const whole = Math.abs(this.delaySamples - Math.round(this.delaySamples)) < 1e-9;
    this.upperKernel = whole ? null : fractionalDelayKernel(this.delaySamples, FRACTIONAL_DELAY_TAPS);
    this.upperDelay = whole ? Math.round(this.delaySamples) : Math.ceil(this.delaySamples) - FRACTIONAL_DELAY_TAPS / 2;
    this.inputKept = this.upperDelay + FRACTIONAL_DELAY_TAPS;
    this.inputLine = new Float32Array(this.inputKept + maxQuantum + FLAT_BUFFER_SLACK);
    this.inputEnd = this.inputKept; // silence before the first input
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
    const { outFifo: fifo, gainFifo, inputLine: line, upperKernel: kernel, upperDelay } = this;
    const n = output.length;
    if (this.inputEnd + n > line.length) {
      line.copyWithin(0, this.inputEnd - this.inputKept, this.inputEnd);
      this.inputEnd = this.inputKept;
    }
    const newest = this.inputEnd;
    for (let i = 0; i < n; i++) line[newest + i] = cleanSample(input[i]); // as the engine cleans its input
    this.inputEnd += n;
    if (this.outCount < n) this.underruns++;
    const available = Math.min(this.outCount, n);
    const read = this.outRead;
    const delayed = newest - upperDelay;
    if (kernel) {
      for (let i = 0; i < available; i++) output[i] = fifo[read + i] + gainFifo[read + i] * this.fractionallyDelayed(delayed + i);
    } else {
      for (let i = 0; i < available; i++) output[i] = fifo[read + i] + gainFifo[read + i] * line[delayed + i];
    }
    output.fill(0, available);
    this.outRead += available;
    this.outCount -= available;
  }

  /** The input line read through the fractional-delay kernel, its first tap at `index`. */
  private fractionallyDelayed(index: number): number {
    const { inputLine: line, upperKernel: h } = this;
    let sum = 0;
    for (let j = 0; j < h!.length; j++) sum += h![j] * line[index - j];
    return sum;
  }

  /** n upsampled samples of one hop, each with the upper-band gain of the model-rate sample it came from. */
  private writeFifo(samples: Float32Array, n: number): void {
    const { outFifo: fifo, gainFifo, hopGain } = this;
    if (this.outRead + this.outCount + n > fifo.length) {
      fifo.copyWithin(0, this.outRead, this.outRead + this.outCount);
      gainFifo.copyWithin(0, this.outRead, this.outRead + this.outCount);
      this.outRead = 0;
    }
    const write = this.outRead + this.outCount;
    const count = Math.min(n, fifo.length - write);
    const perSample = hopGain.length / Math.max(1, n);
    for (let i = 0; i < count; i++) {
      fifo[write + i] = samples[i];
      gainFifo[write + i] = hopGain[Math.floor(i * perSample)];
    }
    this.outCount += count;
  }
}

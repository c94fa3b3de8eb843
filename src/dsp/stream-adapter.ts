import { FrameEngine } from './frame-engine';
import { StreamingResampler, gcd } from './resampler';

const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;

/**
 * Runs a FrameEngine (at the model's rate, in hops) from render quanta at the context's rate.
 *
 * At the model's rate every quantum of hopSize samples is one hop in and one hop out. At any
 * other rate the input is resampled to the model's rate, gathered into hops, and the output is
 * resampled back through a FIFO primed with enough silence that it never runs dry; the delay
 * stays fixed and is reported in `delaySamples` (at the context rate).
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
      this.downBuffer = this.upBuffer = this.outFifo = new Float32Array(0);
      return;
    }
    this.down = new StreamingResampler(contextRate, modelRate);
    this.up = new StreamingResampler(modelRate, contextRate);
    this.downBuffer = new Float32Array(this.down.maxOutput(maxQuantum));
    this.upBuffer = new Float32Array(this.up.maxOutput(hop));
    const ratio = contextRate / modelRate;
    const prime = this.leastPrime(maxQuantum);
    this.outFifo = new Float32Array(prime + 4 * Math.ceil(hop * ratio) + 4 * maxQuantum);
    this.outCount = prime;
    this.delaySamples = this.down.delayIn + (engine.delaySamples + this.up.delayIn) * ratio + prime;
  }

  /**
   * The least silence the output FIFO must start with so that it never runs dry: the largest
   * shortfall, over every quantum, of what has come out of the up-resampler against what has
   * been played. Exact, since which quantum completes which hop depends only on sample counts
   * (the model worker only supplies masks, never samples). At 48 kHz it is 259 samples
   * (5.4 ms), where a hop plus a quantum (512) was used before.
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
        engine.pullHop(this.hopOut);
        const n = this.up!.process(this.hopOut, hop, this.upBuffer);
        this.writeFifo(this.upBuffer, n);
      }
    }
    // (Ring indices wrap by comparison: a % per sample costs as much as the rest of the loop.)
    const fifo = this.outFifo;
    if (this.outCount < output.length) this.underruns++;
    const available = Math.min(this.outCount, output.length);
    let read = this.outRead;
    for (let i = 0; i < available; i++) {
      output[i] = fifo[read];
      if (++read === fifo.length) read = 0;
    }
    output.fill(0, available);
    this.outRead = read;
    this.outCount -= available;
  }

  private writeFifo(samples: Float32Array, n: number): void {
    const fifo = this.outFifo;
    const count = Math.min(n, fifo.length - this.outCount);
    let write = this.outRead + this.outCount;
    if (write >= fifo.length) write -= fifo.length;
    for (let i = 0; i < count; i++) {
      fifo[write] = samples[i];
      if (++write === fifo.length) write = 0;
    }
    this.outCount += count;
  }
}

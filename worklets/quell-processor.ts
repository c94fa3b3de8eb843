/**
 * The AudioWorkletProcessor: a thin shell around the DSP. Each render quantum goes through
 * StreamAdapter (resampling if the context is not at the model's rate) into FrameEngine; each
 * new frame's magnitudes go to the model worker, and masks come back, over a SharedArrayBuffer
 * ring when the page is cross-origin isolated, else over a MessagePort straight to the worker.
 * The output waits `maskLatency` hops for a mask; one that comes a hop later corrects the
 * rest of its frame, a later one holds the previous mask and is counted. Nothing here allocates per quantum on the ring path.
 */
import { FrameEngine } from '../src/dsp/frame-engine';
import { StreamAdapter } from '../src/dsp/stream-adapter';
import { FrameRing } from '../src/frame-ring';
import type { FrameMessage, FromProcessor, MaskMessage, ProcessorFraming, ProcessorOptions, ToProcessor } from '../src/protocol';

declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}
declare function registerProcessor(name: string, ctor: unknown): void;

const SWITCH_FADE_SECONDS = 0.02; // crossfade between two framings' outputs on a model switch

const STATS_EVERY = 32; // quanta between stats messages (~85 ms at 48 kHz)

class QuellProcessor extends AudioWorkletProcessor {
  private engine: FrameEngine;
  private adapter: StreamAdapter;
  private readonly maskLatency: number;
  /** The previous framing's chain while its output fades out after a model switch. */
  private fadingAdapter: StreamAdapter | null = null;
  private fadingOutput = new Float32Array(128);
  private switchGain = 1;
  private switchWait = 0;
  private readonly ring?: FrameRing;
  private workerPort?: MessagePort;
  private nextMaskFrame = 0;
  /** Masks from the ring to the engine in use (made once: nothing allocates per quantum). */
  private readonly setMask = (frame: number, mask: Float32Array) => this.engine.setMask(frame, mask);
  private quanta = 0;
  private peakIn = 0;
  private peakOut = 0;
  private readonly silence = new Float32Array(128);
  private nanToInject = 0; // failure drill: corrupt the next samples of real input
  private throwNext = false; // failure drill: the processor dies as a bug would kill it
  private readonly onFrame: (frame: number, magnitudes: Float32Array) => void;
  private readonly ignoreFrame = () => undefined;
  private maxAttenuationDb = Infinity;

  constructor(options: { processorOptions: ProcessorOptions }) {
    super();
    const o = options.processorOptions;
    this.maskLatency = o.maskLatency;
    this.engine = this.buildEngine(o, 0);
    this.adapter = new StreamAdapter(this.engine, sampleRate, o.modelSampleRate);
    if (o.ring) this.ring = new FrameRing(o.ring, o.fftSize / 2 + 1);
    this.onFrame = this.ring ? this.sendToRing.bind(this) : this.sendToPort.bind(this);
    this.port.onmessage = (e: MessageEvent<ToProcessor>) => this.onControl(e.data);
    this.reportDelay();
  }

  /** An engine that passes audio through until the worker says the model is loaded. */
  private buildEngine(f: ProcessorFraming, firstFrame: number): FrameEngine {
    const engine = new FrameEngine({
      fftSize: f.fftSize,
      hopSize: f.hopSize,
      sampleRate: f.modelSampleRate,
      window: f.window,
      synthesisSize: f.synthesisSize,
      maskLatency: this.maskLatency,
    });
    engine.framesPushed = firstFrame; // frame numbers go on across a switch: the ring and worker count them
    engine.setModelReady(false);
    return engine;
  }

  private send(msg: FromProcessor): void {
    this.port.postMessage(msg);
  }

  private reportDelay(): void {
    this.send({ type: 'delay', samples: this.adapter.delaySamples, sampleRate, transport: this.ring ? 'shared-memory' : 'message-port' });
  }

  /**
   * A model trained on another framing: a new engine (built here, once, not per quantum) takes
   * over at once, in bypass until its model is ready, while the old one's output fades out, so
   * the change of delay is a short crossfade rather than a jump.
   */
  private switchFraming(f: ProcessorFraming): void {
    const old = this.engine;
    old.holdLastMask(); // its model has handed over: it plays on with the last mask while it fades out
    this.engine = this.buildEngine(f, old.framesPushed);
    this.engine.setEnabled(old.isEnabled);
    this.engine.setMaxAttenuation(this.maxAttenuationDb);
    this.fadingAdapter = this.adapter;
    this.adapter = new StreamAdapter(this.engine, sampleRate, f.modelSampleRate);
    this.switchGain = 0;
    this.switchWait = Math.ceil(this.adapter.delaySamples); // until the new chain's delay line holds audio
    this.nextMaskFrame = this.engine.framesPushed;
    this.reportDelay();
  }

  private onControl(msg: ToProcessor): void {
    switch (msg.type) {
      case 'enabled':
        return this.engine.setEnabled(msg.value);
      case 'max-attenuation':
        this.maxAttenuationDb = msg.value;
        return this.engine.setMaxAttenuation(msg.value);
      case 'framing':
        return this.switchFraming(msg.framing);
      case 'inject-nan':
        this.nanToInject = msg.count;
        return;
      case 'throw':
        this.throwNext = true;
        return;
      case 'model-ready':
        if (msg.value) this.nextMaskFrame = this.engine.framesPushed; // masks for older frames are not coming
        return this.engine.setModelReady(msg.value);
      case 'worker-port':
        this.workerPort = msg.port;
        this.workerPort.onmessage = (e: MessageEvent<MaskMessage>) => this.engine.setMask(e.data.frame, e.data.mask);
        return;
    }
  }

  private sendToRing(frame: number, magnitudes: Float32Array): void {
    this.ring!.writeFrame(frame, magnitudes);
  }

  private sendToPort(frame: number, magnitudes: Float32Array): void {
    // Fallback without shared memory: one small message per frame (a copy of 257 floats).
    this.workerPort?.postMessage({ frame, magnitudes: magnitudes.slice() } satisfies FrameMessage);
  }

  private collectMasks(): void {
    this.nextMaskFrame = this.ring!.collectMasks(this.nextMaskFrame, this.setMask);
  }

  private fadeOutPreviousFraming(input: Float32Array, output: Float32Array): void {
    if (this.fadingOutput.length < output.length) this.fadingOutput = new Float32Array(output.length);
    const old = this.fadingOutput;
    this.fadingAdapter!.process(input, old, this.ignoreFrame);
    const step = 1 / (SWITCH_FADE_SECONDS * sampleRate);
    for (let i = 0; i < output.length; i++) {
      if (this.switchWait > 0) this.switchWait--;
      else this.switchGain = Math.min(1, this.switchGain + step);
      output[i] = old[i] + (output[i] - old[i]) * this.switchGain;
    }
    if (this.switchGain >= 1) this.fadingAdapter = null;
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const input = inputs[0]?.[0] ?? this.silence; // no input connected yet: process silence
    const output = outputs[0][0];
    if (this.throwNext) throw new Error('failure drill: the processor threw');
    for (let i = 0; this.nanToInject > 0 && i < input.length && input !== this.silence; i++, this.nanToInject--) input[i] = NaN;
    if (this.ring) this.collectMasks();
    this.adapter.process(input, output, this.onFrame);
    if (this.fadingAdapter) this.fadeOutPreviousFraming(input, output);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(output);
    for (let i = 0; i < input.length; i++) {
      const a = Math.abs(input[i]);
      const b = Math.abs(output[i]);
      if (a > this.peakIn) this.peakIn = a;
      if (b > this.peakOut) this.peakOut = b;
    }
    if (++this.quanta % STATS_EVERY === 0) {
      const e = this.engine;
      this.send({
        type: 'stats',
        delaySeconds: this.adapter.delaySamples / sampleRate,
        frames: e.framesPushed,
        starved: e.isStarved,
        lateMasks: e.lateMasks,
        correctedMasks: e.correctedMasks,
        underruns: this.adapter.underruns,
        badSamples: e.badSamples,
        peakIn: this.peakIn,
        peakOut: this.peakOut,
        mask: e.currentMask.slice(), // what is applied (strength and bypass included), for the page's view
      });
      this.peakIn = this.peakOut = 0;
    }
    return true;
  }
}

registerProcessor('quell-processor', QuellProcessor);

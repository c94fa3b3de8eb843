import { cleanSample, FrameEngine } from '../dsp/frame-engine';
import { binCount, engineOptions } from '../model/card';
import { StreamingResampler } from '../dsp/resampler';
import type { ModelRunner } from '../model/model-runner';

export interface OfflineOptions {
  /** Maximum attenuation in dB (a floor on the mask); Infinity for none. */
  maxAttenuationDb?: number;
  /** Called with the fraction done, about every second of audio. */
  onProgress?: (fraction: number) => void;
}

/** Resample a whole signal with no delay: output k is input time k·inRate/outRate. */
export function resampleAligned(input: Float32Array, inRate: number, outRate: number): Float32Array {
  if (inRate === outRate) return input;
  const r = new StreamingResampler(inRate, outRate, { compensateDelay: true });
  const padded = new Float32Array(input.length + r.delayFlush);
  padded.set(input);
  const out = new Float32Array(r.maxOutput(padded.length));
  const n = r.process(padded, padded.length, out);
  const length = Math.round((input.length * outRate) / inRate);
  return out.subarray(0, Math.min(n, length)).slice();
}

/** What ChannelDenoiser needs of a model: a ModelRunner, or masks another run recorded (see denoiseParts). */
export type MaskSource = Pick<ModelRunner, 'card' | 'reset' | 'step'>;

/** Samples numbered from 0 as they are appended; the oldest can be dropped. */
class SampleLog {
  private data = new Float32Array(4096);
  private start = 0; // where sample number `first` is in `data`
  private first = 0;
  private count = 0;

  append(samples: ArrayLike<number>): void {
    const n = samples.length;
    if (this.start + this.count + n > this.data.length) {
      // Move what is kept to the front (dropping is free until here), growing only if it must.
      const target = this.count + n > this.data.length / 2 ? new Float32Array(2 * (this.count + n)) : this.data;
      if (target === this.data) this.data.copyWithin(0, this.start, this.start + this.count);
      else target.set(this.data.subarray(this.start, this.start + this.count));
      this.data = target;
      this.start = 0;
    }
    this.data.set(samples as ArrayLike<number>, this.start + this.count);
    this.count += n;
  }

  at(index: number): number {
    return this.data[this.start + index - this.first];
  }

  dropBefore(index: number): void {
    const n = Math.min(this.count, index - this.first);
    if (n <= 0) return;
    this.start += n;
    this.first += n;
    this.count -= n;
  }
}

/**
 * Denoises one channel of a file with exactly the streaming engine the browser runs, piece by
 * piece, so that a file of any length needs the memory of a few seconds. Each frame's mask is
 * computed before its output is made (no mask latency), and the engine's fixed delay is
 * removed, so the output has the input's length and lines up with it. Above the model's rate,
 * the band the model never sees is kept with the engine's upper-band gain, as in the live
 * StreamAdapter.
 *
 * The total length must be known at the start (a file's header says it): where the input
 * ends, the pipeline is flushed with silence exactly as if the whole file had been processed
 * at once, so the result does not depend on how the input was split.
 */
export class ChannelDenoiser {
  readonly length: number;
  private readonly runner: MaskSource;
  private readonly rate: number;
  private readonly engine: FrameEngine;
  private readonly down: StreamingResampler | null;
  private readonly up: StreamingResampler | null;
  /** Samples at the model's rate that the whole file makes, and the engine's output hops. */
  private readonly modelLength: number;
  private readonly hops: number;
  /** Outputs the up-resampler may contribute (it can make a sample more or less than the input). */
  private readonly upLength: number;
  private readonly hopIn: Float32Array;
  private readonly hopOut: Float32Array;
  private readonly hopGain: Float32Array | undefined;
  private readonly mask: Float32Array;
  private readonly scratch: Float32Array;
  private readonly upRoom: Float32Array;
  private readonly input = new SampleLog(); // at the file's rate, for the upper band
  private readonly gains = new SampleLog(); // upper-band gain of each aligned model-rate sample
  private hopFill = 0;
  private hopsDone = 0;
  private pushed = 0;
  private modelIn = 0; // model-rate samples given to the engine
  private aligned = 0; // engine output samples kept (after its delay)
  private upOut = 0; // outputs taken from the up-resampler
  private emitted = 0;
  private out: Float32Array;
  private outFill = 0;

  constructor(runner: MaskSource, sampleRate: number, length: number, options: OfflineOptions = {}) {
    const card = runner.card;
    this.runner = runner;
    this.rate = sampleRate;
    this.length = length;
    runner.reset();
    this.engine = new FrameEngine(engineOptions(card, 0));
    this.engine.setMaxAttenuation(options.maxAttenuationDb ?? Infinity);
    const resampled = sampleRate !== card.sampleRate;
    this.down = resampled ? new StreamingResampler(sampleRate, card.sampleRate, { compensateDelay: true }) : null;
    this.up = resampled ? new StreamingResampler(card.sampleRate, sampleRate, { compensateDelay: true }) : null;
    this.modelLength = resampled ? Math.round((length * card.sampleRate) / sampleRate) : length;
    this.upLength = resampled ? Math.min(length, Math.round((this.modelLength * sampleRate) / card.sampleRate)) : length;
    const hop = card.hopSize;
    this.hops = Math.ceil((this.modelLength + this.engine.delaySamples) / hop);
    this.hopIn = new Float32Array(hop);
    this.hopOut = new Float32Array(hop);
    this.hopGain = sampleRate > card.sampleRate ? new Float32Array(hop) : undefined;
    this.mask = new Float32Array(binCount(card));
    // What the down-resampler makes from one 4096-sample piece (16 kHz from 3 kHz is over 20 000).
    this.scratch = new Float32Array(this.down ? this.down.maxOutput(Math.max(4096, this.down.delayFlush)) : 0);
    this.upRoom = new Float32Array(this.up ? this.up.maxOutput(Math.max(hop, this.up.delayFlush)) : 0);
    this.out = new Float32Array(8192);
  }

  /** Append the next samples; returns the denoised samples that are now complete (a new array). */
  async push(samples: Float32Array): Promise<Float32Array> {
    if (this.pushed + samples.length > this.length) throw new Error(`more samples pushed than the ${this.length} announced`);
    this.pushed += samples.length;
    this.outFill = 0;
    if (this.hopGain) this.input.append(samples);
    for (let from = 0; from < samples.length; from += 4096) {
      const piece = samples.subarray(from, Math.min(samples.length, from + 4096));
      if (!this.down) await this.toEngine(piece, piece.length);
      else await this.toEngine(this.scratch, this.down.process(piece, piece.length, this.scratch));
    }
    return this.out.slice(0, this.outFill);
  }

  /** After the last push: the rest of the output, so that the total is exactly `length` samples. */
  async finish(): Promise<Float32Array> {
    if (this.pushed !== this.length) throw new Error(`${this.pushed} samples pushed, ${this.length} announced`);
    this.outFill = 0;
    if (this.down) {
      const zeros = new Float32Array(this.down.delayFlush);
      await this.toEngine(this.scratch, this.down.process(zeros, zeros.length, this.scratch));
    }
    const hop = this.hopIn.length;
    while (this.hopsDone < this.hops) await this.toEngine(new Float32Array(hop), hop); // past the end: silence
    if (this.up) {
      const zeros = new Float32Array(this.up.delayFlush);
      this.fromUp(zeros, zeros.length);
    }
    while (this.emitted < this.length) this.emit(0, this.emitted); // the resampler came up short
    return this.out.slice(0, this.outFill);
  }

  /** Model-rate input (past the file's end only up to modelLength; silence after it). */
  private async toEngine(x: Float32Array, n: number): Promise<void> {
    const hop = this.hopIn.length;
    for (let i = 0; i < n && this.hopsDone < this.hops; i++) {
      this.hopIn[this.hopFill++] = this.modelIn < this.modelLength ? x[i] : 0;
      this.modelIn++;
      if (this.hopFill === hop) {
        this.hopFill = 0;
        await this.runHop();
      }
    }
  }

  private async runHop(): Promise<void> {
    const { engine, hopOut, hopGain, mask } = this;
    await engine.processHop(this.hopIn, hopOut, (magnitudes) => this.runner.step(magnitudes, mask).then(() => mask), hopGain);
    this.hopsDone++;
    // The first `delaySamples` outputs come before the input's first sample; beyond modelLength, after its last.
    const first = Math.max(0, engine.delaySamples - (this.hopsDone - 1) * hopOut.length);
    const last = Math.min(hopOut.length, engine.delaySamples + this.modelLength - (this.hopsDone - 1) * hopOut.length);
    if (last <= first) return;
    const kept = hopOut.subarray(first, last);
    if (hopGain) this.gains.append(hopGain.subarray(first, last));
    this.aligned += kept.length;
    if (!this.up) for (let i = 0; i < kept.length; i++) this.emit(kept[i], this.emitted);
    else this.fromUp(kept, kept.length);
  }

  private fromUp(x: Float32Array, n: number): void {
    const made = this.up!.process(x, n, this.upRoom);
    for (let i = 0; i < made && this.upOut < this.upLength; i++, this.upOut++) this.emit(this.upRoom[i], this.upOut);
  }

  /** Output sample `index` (they come in order): the model's band, plus the upper band's gain × the input. */
  private emit(low: number, index: number): void {
    let y = low;
    if (this.hopGain) {
      const g = Math.min(this.modelLength - 1, Math.floor((index * this.runner.card.sampleRate) / this.rate));
      y += this.gains.at(g) * cleanSample(this.input.at(index));
      this.gains.dropBefore(g);
      this.input.dropBefore(index + 1);
    }
    if (this.outFill === this.out.length) {
      const grown = new Float32Array(2 * this.out.length);
      grown.set(this.out);
      this.out = grown;
    }
    this.out[this.outFill++] = y;
    this.emitted++;
  }
}

/** Frames read, denoised and written at a time by denoiseFrames: its memory, whatever the file's length. */
export const CHUNK_FRAMES = 1 << 16;

/** Audio to denoise, read a chunk at a time (a file, or arrays already in memory). */
export interface FrameSource {
  sampleRate: number;
  channelCount: number;
  frames: number;
  /** Largest magnitude in the audio, if known: above 1 it is denoised with headroom (see denoiseFrames). */
  peak?: number;
  /** Frames [from, from + n) into `into` (one array per channel, from index 0). */
  read(from: number, n: number, into: Float32Array[]): void | Promise<void>;
}

/**
 * Denoise every channel of `source` (each with model state of its own), a chunk at a time,
 * handing the denoised frames to `write` in order: exactly `source.frames` of them in all.
 * Audio past full scale (float files can hold it) is denoised at a level that fits, since the
 * engine clips at ±1 as a microphone would, and given its level back: the model does not
 * depend on level.
 */
export async function denoiseFrames(
  source: FrameSource,
  runner: ModelRunner,
  write: (channels: Float32Array[]) => void | Promise<void>,
  options: OfflineOptions = {},
): Promise<void> {
  const { sampleRate, channelCount, frames } = source;
  const headroom = source.peak !== undefined && source.peak > 1 && Number.isFinite(source.peak) ? 1 / source.peak : 1;
  const denoisers = Array.from({ length: channelCount }, () => new ChannelDenoiser(runner.withOwnState(), sampleRate, frames, options));
  const chunk = Array.from({ length: channelCount }, () => new Float32Array(Math.min(CHUNK_FRAMES, frames)));
  let written = 0;
  const emit = async (pieces: Float32Array[]) => {
    if (headroom !== 1) for (const p of pieces) for (let i = 0; i < p.length; i++) p[i] /= headroom;
    written += pieces[0].length;
    await write(pieces);
  };
  for (let done = 0; done < frames;) {
    const n = Math.min(CHUNK_FRAMES, frames - done);
    await source.read(done, n, chunk);
    const pieces: Float32Array[] = [];
    for (let c = 0; c < channelCount; c++) {
      const x = chunk[c].subarray(0, n);
      if (headroom !== 1) for (let i = 0; i < n; i++) x[i] *= headroom;
      pieces.push(await denoisers[c].push(x));
    }
    await emit(pieces);
    done += n;
    options.onProgress?.(done / frames);
  }
  const last: Float32Array[] = [];
  for (const d of denoisers) last.push(await d.finish());
  await emit(last);
  if (written !== frames) throw new Error(`internal error: ${written} frames denoised for ${frames} read`);
}

/** The largest finite magnitude in `channels` (NaN and ±Inf do not count: the engine zeroes them). */
export function peakOf(channels: Float32Array[], n = channels[0]?.length ?? 0): number {
  let peak = 0;
  for (const c of channels)
    for (let i = 0; i < n; i++) {
      const a = Math.abs(c[i]);
      if (a > peak && a !== Infinity) peak = a;
    }
  return peak;
}

/** Channels already in memory, as a FrameSource. */
export function channelsSource(channels: Float32Array[], sampleRate: number): FrameSource {
  return {
    sampleRate,
    channelCount: channels.length,
    frames: channels[0]?.length ?? 0,
    peak: peakOf(channels),
    read: (from, n, into) => channels.forEach((c, i) => into[i].set(c.subarray(from, from + n))),
  };
}

/** Denoise whole channels in memory (see denoiseFrames). */
export async function denoiseChannels(
  channels: Float32Array[],
  sampleRate: number,
  runner: ModelRunner,
  options: OfflineOptions = {},
): Promise<Float32Array[]> {
  const out = channels.map((c) => new Float32Array(c.length));
  let at = 0;
  await denoiseFrames(
    channelsSource(channels, sampleRate),
    runner,
    (pieces) => {
      pieces.forEach((p, c) => out[c].set(p, at));
      at += pieces[0].length;
    },
    options,
  );
  return out;
}

/** Denoise one whole channel in memory (see denoiseFrames). */
export async function denoiseChannel(
  input: Float32Array,
  sampleRate: number,
  runner: ModelRunner,
  options: OfflineOptions = {},
): Promise<Float32Array> {
  return (await denoiseChannels([input], sampleRate, runner, options))[0];
}

/**
 * What the model's masks do to each part of a mixture: `mixture` is denoised as denoiseChannel
 * does, and the masks it was given are applied, frame for frame, to each of `parts` (say its
 * speech alone and its noise alone), whose outputs then add up to the mixture's. This tells
 * speech taken away from noise left in, which a score of the whole output cannot.
 */
export async function denoiseParts(
  mixture: Float32Array,
  parts: Float32Array[],
  sampleRate: number,
  runner: ModelRunner,
): Promise<{ output: Float32Array; parts: Float32Array[] }> {
  const masks: Float32Array[] = [];
  const recorder: MaskSource = {
    card: runner.card,
    reset: () => runner.reset(),
    step: async (magnitudes, maskOut) => {
      await runner.step(magnitudes, maskOut);
      masks.push(maskOut.slice());
    },
  };
  const replayer = (): MaskSource => {
    let next = 0;
    return {
      card: runner.card,
      reset: () => (next = 0),
      step: async (_magnitudes, maskOut) => maskOut.set(masks[next++]),
    };
  };
  const whole = async (source: MaskSource, x: Float32Array) => {
    if (x.length !== mixture.length) throw new Error(`a part of ${x.length} samples for a mixture of ${mixture.length}`);
    const denoiser = new ChannelDenoiser(source, sampleRate, x.length);
    const head = await denoiser.push(x);
    const tail = await denoiser.finish();
    const out = new Float32Array(x.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  };
  const output = await whole(recorder, mixture);
  const outputs: Float32Array[] = [];
  for (const part of parts) outputs.push(await whole(replayer(), part));
  return { output, parts: outputs };
}

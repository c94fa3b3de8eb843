import { cleanSample, FrameEngine } from '../dsp/frame-engine';
import { engineOptions } from './card';
import { StreamingResampler } from '../dsp/resampler';
import type { ModelRunner } from './model-runner';

export interface OfflineOptions {
  /** Maximum attenuation in dB (a floor on the mask); Infinity for none. */
  maxAttenuationDb?: number;
  /** Called with the fraction done, about every second of audio. */
  onProgress?: (fraction: number) => void;
}

/** Resample a whole signal with no delay: output k is input time k·inRate/outRate. */
export function resampleAligned(input: Float32Array, inRate: number, outRate: number): Float32Array {
  if (inRate === outRate) return input;
  const r = new StreamingResampler(inRate, outRate, undefined, 4096, true);
  const padded = new Float32Array(input.length + r.delayFlush);
  padded.set(input);
  const out = new Float32Array(r.maxOutput(padded.length));
  const n = r.process(padded, padded.length, out);
  const length = Math.round((input.length * outRate) / inRate);
  return out.subarray(0, Math.min(n, length)).slice();
}

/**
 * Denoise one channel with exactly the streaming engine the browser runs, but with no mask
 * latency (each frame's mask is computed before its output is made) and with the engine's
 * fixed delay removed, so the output has the input's length and lines up with it. Above the
 * model's rate the band the model never sees is kept, with the engine's upper-band gain, as in
 * the live StreamAdapter.
 */
export async function denoiseChannel(input: Float32Array, sampleRate: number, runner: ModelRunner, options: OfflineOptions = {}): Promise<Float32Array> {
  const card = runner.card;
  const x = resampleAligned(input, sampleRate, card.sampleRate);
  const engine = new FrameEngine(engineOptions(card, 0));
  engine.setMaxAttenuation(options.maxAttenuationDb ?? Infinity);
  runner.reset();
  const hop = card.hopSize;
  const delay = engine.delaySamples;
  const hops = Math.ceil((x.length + delay) / hop);
  const y = new Float32Array(hops * hop);
  const upper = sampleRate > card.sampleRate ? new Float32Array(hops * hop) : undefined;
  const hopIn = new Float32Array(hop);
  const mask = new Float32Array(card.fftSize / 2 + 1);
  const progressEvery = Math.max(1, Math.round(card.sampleRate / hop));
  for (let h = 0; h < hops; h++) {
    hopIn.fill(0);
    const start = h * hop;
    if (start < x.length) hopIn.set(x.subarray(start, Math.min(start + hop, x.length)));
    const frame = engine.pushHop(hopIn);
    await runner.step(engine.magnitudes, mask);
    engine.setMask(frame, mask);
    engine.pullHop(y.subarray(start, start + hop), upper?.subarray(start, start + hop));
    if (options.onProgress && h % progressEvery === 0) options.onProgress(h / hops);
  }
  options.onProgress?.(1);
  const aligned = y.subarray(delay, delay + x.length);
  const out = resampleAligned(aligned, card.sampleRate, sampleRate);
  // Resampling can be a sample short or long; the output always has the input's length.
  const result = new Float32Array(input.length);
  result.set(out.subarray(0, Math.min(out.length, input.length)));
  if (upper) {
    // the band above the model's: g × the input (the engine's output already has g × its own input taken off)
    const gains = upper.subarray(delay, delay + x.length);
    const step = card.sampleRate / sampleRate;
    for (let i = 0; i < result.length; i++) {
      const g = gains[Math.min(gains.length - 1, Math.floor(i * step))];
      result[i] += g * cleanSample(input[i]);
    }
  }
  return result;
}

/** Denoise every channel independently (each with fresh model state). */
export async function denoiseChannels(channels: Float32Array[], sampleRate: number, runner: ModelRunner, options: OfflineOptions = {}): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let c = 0; c < channels.length; c++) {
    const onProgress = options.onProgress && ((f: number) => options.onProgress!((c + f) / channels.length));
    out.push(await denoiseChannel(channels[c], sampleRate, runner, { ...options, onProgress }));
  }
  return out;
}

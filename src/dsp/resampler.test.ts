import assert from 'node:assert/strict';
import { test } from 'node:test';
import { speechLike } from '../../tools/signals';
import { FrameEngine } from './frame-engine';
import { SQRT_HANN } from './test-framings';
import { type ResamplerOptions, StreamingResampler } from './resampler';
import { STREAM_RESAMPLING, StreamAdapter } from './stream-adapter';

/** The file path's kernels (the defaults) and the live path's: shorter, and Nyquist kernels whose zero taps are skipped. */
const KERNELS: [string, ResamplerOptions][] = [
  ['default kernel', {}],
  ['the live Nyquist kernel', STREAM_RESAMPLING],
];

function tone(n: number, rate: number, freq: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** x through r in 128-sample calls, as the worklet feeds it. */
function resampleInQuanta(r: StreamingResampler, x: Float32Array): Float32Array {
  const y = new Float32Array(r.maxOutput(x.length));
  let n = 0;
  for (let i = 0; i < x.length; i += 128) n += r.process(x.subarray(i, i + 128), Math.min(128, x.length - i), y.subarray(n));
  return y.subarray(0, n);
}

/** Amplitude of the `freq` component of x (a single-bin DFT over a whole number of periods). */
function amplitudeAt(x: Float32Array, rate: number, freq: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i] * Math.cos((2 * Math.PI * freq * i) / rate);
    im += x[i] * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

for (const [kernel, options] of KERNELS) {
  test(`48 kHz → 16 kHz (${kernel}) keeps a 1 kHz tone at the reported delay and removes 12 kHz`, () => {
    const r = new StreamingResampler(48000, 16000, options);
    const x = tone(48000, 48000, 1000);
    const y = resampleInQuanta(r, x);
    const n = y.length;
    assert.ok(Math.abs(n - 16000) <= 16);
    let worst = 0;
    for (let k = 200; k < n - 200; k++) {
      const t = k * 3 - r.delayIn; // input sample time of output k
      worst = Math.max(worst, Math.abs(y[k] - 0.5 * Math.sin((2 * Math.PI * 1000 * t) / 48000)));
    }
    assert.ok(worst < 2e-3, `error ${worst}`);
    const high = tone(48000, 48000, 12000);
    const r2 = new StreamingResampler(48000, 16000, options);
    const z = new Float32Array(r2.maxOutput(high.length));
    const m = r2.process(high, high.length, z);
    let peak = 0;
    for (let k = 200; k < m; k++) peak = Math.max(peak, Math.abs(z[k]));
    assert.ok(peak < 0.005, `aliasing ${peak}`);
  });

  test(`16 kHz → 48 kHz (${kernel}) keeps a 5 kHz tone and leaves no audible image of it at 11 kHz`, () => {
    const r = new StreamingResampler(16000, 48000, options);
    const x = tone(16000, 16000, 5000);
    const y = resampleInQuanta(r, x);
    const settled = y.subarray(4800, 4800 + 38400); // 0.8 s: whole periods of both tones
    assert.ok(Math.abs(amplitudeAt(settled, 48000, 5000) - 0.5) < 0.01, 'the tone keeps its level');
    const image = amplitudeAt(settled, 48000, 11000);
    assert.ok(20 * Math.log10(image / 0.5) < -60, `image at ${(20 * Math.log10(image / 0.5)).toFixed(1)} dB`);
  });
}

test('an odd rate pair (44056 Hz → 16 kHz, thousands of kernel phases) keeps a tone at the reported delay', () => {
  const rate = 44056;
  const r = new StreamingResampler(rate, 16000);
  const x = tone(rate, rate, 1000);
  const y = resampleInQuanta(r, x);
  const n = y.length;
  assert.ok(Math.abs(n - 16000) <= 16);
  let worst = 0;
  for (let k = 200; k < n - 200; k++) {
    const t = (k * rate) / 16000 - r.delayIn;
    worst = Math.max(worst, Math.abs(y[k] - 0.5 * Math.sin((2 * Math.PI * 1000 * t) / rate)));
  }
  assert.ok(worst < 2e-3, `error ${worst}`);
});

/** x at time n − frac, by a Hann-windowed sinc over 64 samples (exact enough at any rate's band). */
function delayedBy(x: Float32Array, n: number, frac: number): number {
  let sum = 0;
  for (let k = -31; k <= 32; k++) {
    const t = k - frac; // x[n − k] lies t samples from the wanted time
    const sinc = t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
    sum += (x[n - k] ?? 0) * sinc * (0.5 + 0.5 * Math.cos((Math.PI * t) / 33));
  }
  return sum;
}

for (const rate of [22050, 32000, 44100, 48000, 96000]) {
  test(`at ${rate} Hz the whole adapter with a mask of ones never runs dry and returns the input at its reported delay`, () => {
    const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 1 });
    const adapter = new StreamAdapter(engine, rate, 16000);
    const ones = new Float32Array(257).fill(1);
    const x = speechLike(3, rate, 9, 0.1).samples; // content below 7 kHz survives 16 kHz; 3 s covers whole rate cycles
    const processed = x.length - (x.length % 128); // whole quanta only
    const y = new Float32Array(processed);
    const pending: number[] = [];
    for (let i = 0; i < processed; i += 128) {
      adapter.process(x.subarray(i, i + 128), y.subarray(i, i + 128), (f) => pending.push(f));
      while (pending.length > 1) engine.setMask(pending.shift()!, ones);
      // masks for frames older than the newest are delivered before the next quantum
      if (pending.length) engine.setMask(pending.shift()!, ones);
    }
    assert.equal(adapter.underruns, 0);
    const d = adapter.delaySamples;
    const whole = Math.floor(d);
    const frac = d - whole;
    let err = 0;
    let ref = 0;
    for (let i = whole + 2000; i < y.length; i++) {
      const expected = delayedBy(x, i - whole, frac);
      err += (y[i] - expected) ** 2;
      ref += expected ** 2;
    }
    const snr = 10 * Math.log10(ref / err);
    assert.ok(snr > 30, `reconstruction SNR ${snr.toFixed(1)} dB at the reported delay ${d}`);
  });
}

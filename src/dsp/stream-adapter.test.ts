import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameEngine } from './frame-engine';
import { StreamAdapter } from './stream-adapter';
import { LOW_DELAY } from './test-framings';

const RATE = 48000;

/** Tones below and above the model's 8 kHz Nyquist, 2 s at 48 kHz. */
function tones(): Float32Array {
  const x = new Float32Array(2 * RATE);
  for (let i = 0; i < x.length; i++) {
    const t = i / RATE;
    x[i] = 0.1 * Math.sin(2 * Math.PI * 1000 * t) + 0.1 * Math.sin(2 * Math.PI * 12000 * t) + 0.1 * Math.sin(2 * Math.PI * 17000 * t + 1);
  }
  return x;
}

/** Amplitude of a tone in y over the last second. */
function amplitude(y: Float32Array, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = y.length - RATE; i < y.length; i++) {
    re += y[i] * Math.cos((2 * Math.PI * hz * i) / RATE);
    im += y[i] * Math.sin((2 * Math.PI * hz * i) / RATE);
  }
  return (2 * Math.hypot(re, im)) / RATE;
}

function run(x: Float32Array, gain: number, enabled = true) {
  const engine = new FrameEngine({ ...LOW_DELAY, sampleRate: 16000, maskLatency: 1 });
  engine.setEnabled(enabled);
  const adapter = new StreamAdapter(engine, RATE, 16000);
  const mask = new Float32Array(257).fill(gain);
  const y = new Float32Array(x.length);
  for (let i = 0; i + 128 <= x.length; i += 128) {
    adapter.process(x.subarray(i, i + 128), y.subarray(i, i + 128), (f) => engine.setMask(f, mask));
  }
  return { y, adapter };
}

const db = (ratio: number) => 20 * Math.log10(ratio);

test('at 48 kHz the band above 8 kHz is kept: tones at 12 and 17 kHz come out within 1 dB with a mask of ones', () => {
  const { y } = run(tones(), 1);
  for (const hz of [1000, 12000, 17000]) {
    const level = db(amplitude(y, hz) / 0.1);
    assert.ok(Math.abs(level) < 1, `${hz} Hz at ${level.toFixed(2)} dB`);
  }
});

test('at 48 kHz noise the model attenuates is attenuated above 8 kHz at least as much as below', () => {
  const { y } = run(tones(), 0.1); // the mask takes 20 dB off every bin
  const below = db(amplitude(y, 1000) / 0.1);
  for (const hz of [12000, 17000]) {
    const above = db(amplitude(y, hz) / 0.1);
    assert.ok(above <= below + 0.5, `${hz} Hz at ${above.toFixed(1)} dB, 1 kHz at ${below.toFixed(1)} dB`);
  }
  assert.ok(below < -15, `1 kHz at ${below.toFixed(1)} dB`);
});

test('at 48 kHz bypass is the whole input, every band, delayed by the reported delay, bit for bit', () => {
  const x = tones();
  const { y, adapter } = run(x, 0.3, false);
  const d = adapter.delaySamples;
  assert.equal(d, Math.round(d));
  for (let i = d + RATE / 10; i < y.length; i++) assert.equal(y[i], x[i - d], `sample ${i}`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { speechLike, whiteNoise } from '../../tools/signals';
import { FrameEngine } from './frame-engine';
import { LOW_DELAY, SQRT_HANN } from './test-framings';

const ones = new Float32Array(257).fill(1);

/**
 * Stream x through an engine; masks are delivered `maskLatency` hops late, as the worker would,
 * except where `mask` gives none (a mask that never comes). `beforeHop` runs before each hop.
 */
function stream(
  engine: FrameEngine,
  x: Float32Array,
  mask: (frame: number) => Float32Array | null = () => ones,
  beforeHop?: (hop: number) => void,
): Float32Array {
  const hop = engine.hopSize;
  const y = new Float32Array(x.length);
  const pending: number[] = [];
  for (let start = 0; start + hop <= x.length; start += hop) {
    beforeHop?.(start / hop);
    pending.push(engine.pushHop(x.subarray(start, start + hop)));
    while (pending.length > engine.maskLatency) {
      const f = pending.shift()!;
      const m = mask(f);
      if (m) engine.setMask(f, m);
    }
    engine.pullHop(y.subarray(start, start + hop));
  }
  return y;
}

/** Output over input energy of each hop, in dB. */
function hopGainsDb(x: Float32Array, y: Float32Array, hop: number): number[] {
  const gains: number[] = [];
  for (let start = 0; start + hop <= x.length; start += hop) {
    const energy = (v: Float32Array) => v.subarray(start, start + hop).reduce((a, s) => a + s * s, 0);
    gains.push(10 * Math.log10(energy(y) / energy(x)));
  }
  return gains;
}

function maxDelayedError(x: Float32Array, y: Float32Array, delay: number): number {
  let worst = 0;
  for (let i = delay; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - x[i - delay]));
  return worst;
}

for (const [framing, windowDelay] of [
  [SQRT_HANN, 384],
  [LOW_DELAY, 32],
] as const)
  for (const maskLatency of [0, 1, 2]) {
    test(`${framing.window}: a mask of ones reproduces the input delayed by delaySamples (mask latency ${maskLatency})`, () => {
      for (const x of [whiteNoise(16000, 0.1), speechLike(1, 16000).samples]) {
        const engine = new FrameEngine({ ...framing, sampleRate: 16000, maskLatency });
        assert.equal(engine.delaySamples, windowDelay + 128 * maskLatency);
        const y = stream(engine, x);
        const error = maxDelayedError(x, y, engine.delaySamples);
        assert.ok(error < 1e-6, `max error ${error}`);
      }
    });
  }

test('processing off is the input, delayed, bit for bit; on again returns to the processed signal', () => {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 1, fadeMs: 5 });
  const x = whiteNoise(32000, 0.2);
  const half = new Float32Array(257).fill(0.5);
  engine.setEnabled(false);
  const y = stream(engine, x, () => half);
  const d = engine.delaySamples;
  for (let i = 1000; i < y.length; i++) assert.equal(y[i], x[i - d]);
});

test('toggling crossfades: no step larger than the signal itself makes', () => {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 1, fadeMs: 5 });
  const x = speechLike(3, 16000, 4).samples;
  const quiet = new Float32Array(257).fill(0.05); // processed path ≈ -26 dB: a big jump if cut
  const y = new Float32Array(x.length);
  let maxInputStep = 0;
  for (let i = 1; i < x.length; i++) maxInputStep = Math.max(maxInputStep, Math.abs(x[i] - x[i - 1]));
  for (let start = 0, hop = 0; start + 128 <= x.length; start += 128, hop++) {
    if (hop % 40 === 20) engine.setEnabled(!engine.isEnabled);
    const f = engine.pushHop(x.subarray(start, start + 128));
    if (f >= 1) engine.setMask(f - 1, quiet);
    engine.pullHop(y.subarray(start, start + 128));
  }
  let maxOutputStep = 0;
  for (let i = 1; i < y.length; i++) maxOutputStep = Math.max(maxOutputStep, Math.abs(y[i] - y[i - 1]));
  assert.ok(maxOutputStep <= maxInputStep * 1.05, `output step ${maxOutputStep} vs input ${maxInputStep}`);
});

/** Stream x with masks from `maskOf`, each delivered `maskLatency` hops late, except that
 *  `slowFrame`'s comes `slowBy` hops later still (Infinity: never). */
function streamWithSlowMask(x: Float32Array, maskOf: (f: number) => Float32Array, slowFrame: number, slowBy: number) {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 2 });
  const y = new Float32Array(x.length);
  for (let start = 0, hop = 0; start + 128 <= x.length; start += 128, hop++) {
    const f = engine.pushHop(x.subarray(start, start + 128));
    if (f >= 2 && f - 2 !== slowFrame) engine.setMask(f - 2, maskOf(f - 2)); // just in time
    if (f === slowFrame + 2 + slowBy) engine.setMask(slowFrame, maskOf(slowFrame));
    engine.pullHop(y.subarray(start, start + 128));
  }
  return { engine, y };
}

test('a mask one hop late corrects the rest of its frame: only its first quarter slips, and it is not late', () => {
  const x = whiteNoise(16000, 0.1);
  // Masks that change every frame, so that holding the previous one is audibly wrong.
  const maskOf = (f: number) => new Float32Array(257).map((_, k) => 0.5 + 0.5 * Math.sin(0.7 * f + k / 9));
  const onTime = streamWithSlowMask(x, maskOf, 40, 0);
  const oneHopLate = streamWithSlowMask(x, maskOf, 40, 1);
  const neverCame = streamWithSlowMask(x, maskOf, 40, Infinity);
  const error = (y: Float32Array) => y.reduce((e, v, i) => e + (v - onTime.y[i]) ** 2, 0);
  assert.equal(onTime.engine.lateMasks + onTime.engine.correctedMasks, 0);
  assert.equal(oneHopLate.engine.correctedMasks, 1);
  assert.equal(oneHopLate.engine.lateMasks, 0);
  assert.equal(neverCame.engine.lateMasks, 1);
  // Frame 40 plays from hop 42: the correction leaves only that first hop different.
  const firstHop = 42 * 128;
  for (let i = 0; i < x.length; i++)
    if (i < firstHop || i >= firstHop + 128) assert.ok(Math.abs(oneHopLate.y[i] - onTime.y[i]) < 1e-5, `sample ${i}`);
  assert.ok(error(neverCame.y) > 0);
  assert.ok(error(oneHopLate.y) < 0.1 * error(neverCame.y), `corrected ${error(oneHopLate.y)} vs held ${error(neverCame.y)}`);
});

test('a late mask holds the previous one and is counted', () => {
  const x = whiteNoise(128 * 20, 0.1);
  const e2 = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 1 });
  const out = new Float32Array(128);
  for (let h = 0; h < 20; h++) {
    const f = e2.pushHop(x.subarray(h * 128, h * 128 + 128));
    if (f >= 1 && f !== 11) e2.setMask(f - 1, ones); // frame 10's mask never comes
    e2.pullHop(out);
    assert.ok(out.every(Number.isFinite));
  }
  assert.equal(e2.lateMasks, 1);
});

/**
 * Gain in dB of each output hop of white noise through an engine (mask latency 1, low-delay
 * framing) whose model is ready from hop `readyAt` (after not being ready from `lostAt`, if
 * given), and whose masks (−12 dB) come on time, except those of the first two frames after it
 * became ready (and of any frame while it was not).
 */
function hopsAroundReady(readyAt: number, lostAt?: number): number[] {
  const x = whiteNoise(128 * 20, 0.1);
  const quarter = new Float32Array(257).fill(0.25);
  const engine = new FrameEngine({ ...LOW_DELAY, sampleRate: 16000, maskLatency: 1, fadeMs: 5 });
  if (lostAt === undefined) engine.setModelReady(false); // as the worklet builds it: bypass until the model loads
  const answered = (frame: number) => (lostAt !== undefined && frame < lostAt - 1) || frame >= readyAt + 2;
  const y = stream(
    engine,
    x,
    (frame) => (answered(frame) ? quarter : null),
    (h) => {
      if (h === lostAt) engine.setModelReady(false);
      if (h === readyAt) engine.setModelReady(true);
    },
  );
  return hopGainsDb(x, y, 128);
}

test('at Start and after a restart, first masks late are no gap in the sound', () => {
  // At Start (ready at hop 4) and after a restart (lost at hop 6, ready again at hop 10).
  for (const [readyAt, lostAt] of [
    [4, undefined],
    [10, 6],
  ] as const) {
    const gains = hopsAroundReady(readyAt, lostAt);
    // Bypass while no model is ready, then the held mask (ones at Start, the last mask after a
    // restart) until the model's first masks play: the input's level or the mask's, never silence.
    for (let h = 2; h < readyAt + 3; h++) assert.ok(gains[h] > -13, `hop ${h}: ${gains[h].toFixed(1)} dB`);
    // Then the model's masks.
    for (let h = readyAt + 4; h < 20; h++) assert.ok(Math.abs(gains[h] + 12) < 1.5, `hop ${h}: ${gains[h].toFixed(1)} dB`);
  }
});

test('a stall of the model under 200 ms holds the last mask; a longer one bypasses until masks return', () => {
  const quarter = new Float32Array(257).fill(0.25); // −12 dB: held, the output stays that quiet
  for (const [stallHops, bypassed] of [
    [20, false], // 160 ms: a garbage collection, a busy core
    [40, true], // 320 ms: a stalled worker
  ] as const) {
    const x = whiteNoise(128 * 120, 0.1);
    const engine = new FrameEngine({ ...LOW_DELAY, sampleRate: 16000, maskLatency: 1 });
    const stalled = (frame: number) => frame >= 40 && frame < 40 + stallHops;
    const gainDb = hopGainsDb(
      x,
      stream(engine, x, (frame) => (stalled(frame) ? null : quarter)),
      128,
    );
    const during = gainDb.slice(42, 41 + stallHops);
    const loudest = Math.max(...during);
    if (bypassed) assert.ok(loudest > -1, `a stalled model: bypass, the input's level (${loudest.toFixed(1)} dB)`);
    else assert.ok(loudest < -10, `a short stall holds the mask (${loudest.toFixed(1)} dB)`);
    const after = gainDb.slice(100);
    assert.ok(Math.max(...after) < -10, `masks back, processing back (${Math.max(...after).toFixed(1)} dB)`);
    assert.equal(engine.isStarved, false);
  }
});

test('NaN, Inf and out-of-range samples never reach the output or the model input', () => {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 1 });
  const x = whiteNoise(128 * 30, 0.1);
  x[300] = NaN;
  x[700] = Infinity;
  x[900] = -Infinity;
  x[1200] = 7;
  const y = new Float32Array(x.length);
  for (let start = 0; start + 128 <= x.length; start += 128) {
    const f = engine.pushHop(x.subarray(start, start + 128));
    assert.ok(engine.magnitudes.every(Number.isFinite));
    engine.setMask(f, ones);
    engine.pullHop(y.subarray(start, start + 128));
  }
  assert.ok(y.every((v) => Number.isFinite(v) && Math.abs(v) <= 1.0001));
  assert.equal(engine.badSamples, 4);
});

test('a mask with NaN in it passes that bin through instead of breaking the output', () => {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 0 });
  const bad = new Float32Array(257).fill(NaN);
  const x = whiteNoise(128 * 10, 0.1);
  const y = stream(engine, x, () => bad);
  assert.ok(y.every(Number.isFinite));
  assert.ok(maxDelayedError(x, y, engine.delaySamples) < 1e-6);
});

test('maximum attenuation floors the mask', () => {
  const engine = new FrameEngine({ ...SQRT_HANN, sampleRate: 16000, maskLatency: 0 });
  engine.setMaxAttenuation(20);
  const zero = new Float32Array(257);
  const x = whiteNoise(16000, 0.1);
  const y = stream(engine, x, () => zero);
  const d = engine.delaySamples;
  let ex = 0;
  let ey = 0;
  for (let i = d + 1000; i < y.length; i++) {
    ex += x[i - d] ** 2;
    ey += y[i] ** 2;
  }
  assert.ok(Math.abs(10 * Math.log10(ey / ex) + 20) < 0.1);
});

test('an engine told to hold its last mask keeps applying it without masks: no late frames, no bypass', () => {
  const x = whiteNoise(128 * 60, 0.1);
  const engine = new FrameEngine({ ...LOW_DELAY, sampleRate: 16000, maskLatency: 1 });
  const quarter = new Float32Array(257).fill(0.25);
  const out = new Float32Array(128);
  let tail = 0;
  for (let h = 0; h < 60; h++) {
    const f = engine.pushHop(x.subarray(h * 128, h * 128 + 128));
    if (h < 20 && f >= 1) engine.setMask(f - 1, quarter);
    if (h === 20) engine.holdLastMask(); // its model has handed over
    engine.pullHop(out);
    if (h >= 40) tail += out.reduce((a, v) => a + v * v, 0);
  }
  assert.equal(engine.lateMasks, 0);
  assert.ok(!engine.isStarved);
  // Still a quarter of the amplitude (−12 dB), where bypass would give the input's energy back.
  const inTail = x.subarray(40 * 128).reduce((a, v) => a + v * v, 0);
  assert.ok(Math.abs(10 * Math.log10(tail / inTail) + 12) < 1.5, `${10 * Math.log10(tail / inTail)} dB`);
});

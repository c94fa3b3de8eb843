/**
 * What a user of the bundled model notices, checked on its own output in Node: noise is removed
 * even when it starts after a quiet or digitally silent stretch (a muted mic, a fan switched on),
 * and stays removed.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { add, hum, keyboardClicks, speechLike, whiteNoise } from '../../tools/signals';
import { loadRunner, readModelIndex } from './load-node';
import { denoiseChannel, resampleAligned } from '../offline/offline';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');
const defaultCard = readModelIndex(models).defaultCard;

const energy = (x: Float32Array, a: number, b: number) => x.subarray(a, b).reduce((s, v) => s + v * v, 0);

for (const [label, leadIn] of [
  ['digital silence', 0],
  ['a quiet room (-70 dBFS)', 0.0003],
] as const) {
  test(`noise that starts after ${label} is suppressed by at least 20 dB`, async () => {
    const runner = await loadRunner(defaultCard);
    const rate = 16000;
    const n = 8 * rate;
    const noise = add(whiteNoise(n, 0.01, 3), hum(n, rate, 0.01), keyboardClicks(n, rate, 0.01, 4));
    const x = new Float32Array(n);
    const onset = Math.round(0.5 * rate);
    const quiet = whiteNoise(onset, leadIn, 5);
    x.set(quiet);
    x.set(noise.subarray(onset), onset);
    const y = await denoiseChannel(x, rate, runner);
    const reduction = 10 * Math.log10(energy(x, 2 * rate, n) / energy(y, 2 * rate, n));
    assert.ok(reduction >= 20, `noise reduced by only ${reduction.toFixed(1)} dB`);
  });
}

/** Energy of x above `hz` (x minus its low band), leaving out the first and last second. */
function energyAbove(x: Float32Array, rate: number, hz: number): number {
  const low = resampleAligned(resampleAligned(x, rate, 2 * hz), 2 * hz, rate);
  let e = 0;
  for (let i = rate; i < x.length - rate; i++) e += (x[i] - low[i]) ** 2;
  return e;
}

function energyOf(x: Float32Array, rate: number): number {
  let e = 0;
  for (let i = rate; i < x.length - rate; i++) e += x[i] ** 2;
  return e;
}

test('a 48 kHz file: a clean voice keeps its band above 8 kHz within 3 dB, and noise alone loses at least as much there as below', async () => {
  const runner = await loadRunner(defaultCard);
  const rate = 48000;
  const voiced = speechLike(6, rate, 11, 0.05);
  // breath and sibilance above 8 kHz while the voice is active: what a 48 kHz microphone hears
  const hiss = whiteNoise(voiced.samples.length, 0.02, 12).map((v, i) => (voiced.active[i] ? v : 0));
  const hissLow = resampleAligned(resampleAligned(hiss, rate, 16000), 16000, rate);
  const voice = add(
    voiced.samples,
    hiss.map((v, i) => v - hissLow[i]),
  );
  const y = await denoiseChannel(voice, rate, runner);
  const keptDb = 10 * Math.log10(energyAbove(y, rate, 8000) / energyAbove(voice, rate, 8000));
  assert.ok(Math.abs(keptDb) <= 3, `the 8–24 kHz band of a clean voice changed by ${keptDb.toFixed(1)} dB`);

  const fan = add(whiteNoise(6 * rate, 0.01, 13), hum(6 * rate, rate, 0.01));
  const z = await denoiseChannel(fan, rate, runner);
  const aboveDb = 10 * Math.log10(energyAbove(fan, rate, 8000) / energyAbove(z, rate, 8000));
  const belowDb = 10 * Math.log10((energyOf(fan, rate) - energyAbove(fan, rate, 8000)) / (energyOf(z, rate) - energyAbove(z, rate, 8000)));
  assert.ok(aboveDb >= belowDb - 1, `noise alone: ${aboveDb.toFixed(1)} dB off above 8 kHz, ${belowDb.toFixed(1)} dB below`);
});

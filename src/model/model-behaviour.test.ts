/**
 * What a user of the bundled model notices, checked on its own output in Node: noise is removed
 * however the stream began (digital silence, a quiet room), and stays removed; a clean voice
 * comes out as loud as it went in.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { add, hum, keyboardClicks, speechLike, whiteNoise } from '../../tools/signals';
import { loadRunner, readModelIndex } from './load-node';
import { denoiseChannel, resampleAligned } from '../offline/offline';
import { levelDb } from '../../tools/metrics';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');
const defaultCard = readModelIndex(models).defaultCard;

const energy = (x: Float32Array, a: number, b: number) => x.subarray(a, b).reduce((s, v) => s + v * v, 0);

/**
 * The scene the lead-in tests run on, 10 s at 16 kHz, played twice: hiss, hum and keystrokes
 * throughout, a voice from 2 to 8 s, the noise alone again for the last 2 s.
 */
const RATE = 16000;
const SCENE = 10 * RATE;
const scene = add(whiteNoise(SCENE, 0.01, 3), hum(SCENE, RATE, 0.01), keyboardClicks(SCENE, RATE, 0.01, 4));
speechLike(6, RATE, 21, 0.1).samples.forEach((v, i) => (scene[2 * RATE + i] += v));

/** dB of noise removed in the second playing's last noise-alone stretch, with `leadIn` first. */
async function reductionAfter(leadIn: Float32Array): Promise<number> {
  const runner = await loadRunner(defaultCard);
  const x = new Float32Array(leadIn.length + 2 * SCENE);
  x.set(leadIn);
  x.set(scene, leadIn.length);
  x.set(scene, leadIn.length + SCENE);
  const y = await denoiseChannel(x, RATE, runner);
  const from = leadIn.length + SCENE + 8.3 * RATE;
  const to = leadIn.length + SCENE + 9.9 * RATE;
  return 10 * Math.log10(energy(x, from, to) / energy(y, from, to));
}

// A model that locks onto what it hears first suppresses noise well from a fresh start, and far
// less (12–20 dB here), for as long as the stream goes on, after a muted microphone or a quiet
// room. Measured against the input, with the voice kept at its level (the tests below).
for (const [label, leadIn] of [
  ['half a second of digital silence (a microphone that opens with zeros)', new Float32Array(RATE / 2)],
  ['ten milliseconds of digital silence', new Float32Array(RATE / 100)],
  ['a second of a quiet room (-70 dBFS)', whiteNoise(RATE, 0.0003, 5)],
] as const) {
  test(`noise 18 s after ${label} is suppressed by at least 25 dB, within 6 dB of a fresh start`, async () => {
    const fresh = await reductionAfter(new Float32Array(0));
    const after = await reductionAfter(leadIn);
    assert.ok(
      after >= 25 && after >= fresh - 6,
      `noise reduced by ${after.toFixed(1)} dB after it, ${fresh.toFixed(1)} dB from a fresh start`,
    );
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
  // and the microphone's own floor (-70 dBFS) between words: a room is never digital silence,
  // which the engine does not step the model on
  const voice = add(
    add(voiced.samples, whiteNoise(voiced.samples.length, 0.0003, 9)),
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

// Masks that never reach one hand a clean voice on quieter than it came (the metrics that score
// a denoiser are blind to a level), and the listener hears the voice drop each time
// suppression goes on. Loud, ordinary and quiet voices over a quiet room's floor.
for (const [label, amplitude] of [
  ['a loud', 0.1],
  ['an ordinary', 0.01],
  ['a quiet', 0.002],
] as const) {
  test(`${label} clean voice comes out within 1 dB of its level`, async () => {
    const runner = await loadRunner(defaultCard);
    const voice = speechLike(6, RATE, 31, amplitude).samples;
    const y = await denoiseChannel(add(voice, whiteNoise(voice.length, 0.0003, 32)), RATE, runner);
    const changeDb = levelDb(y, voice);
    assert.ok(Math.abs(changeDb) <= 1, `the voice came out ${changeDb.toFixed(2)} dB from its level`);
  });
}

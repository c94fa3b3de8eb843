/**
 * What a user of the bundled model notices, checked on its own output in Node: noise is removed
 * even when it starts after a quiet or digitally silent stretch (a muted mic, a fan switched on),
 * and stays removed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { add, hum, keyboardClicks, whiteNoise } from '../../tools/signals';
import { loadRunner } from './load-node';
import { denoiseChannel } from './offline';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');
const index = JSON.parse(readFileSync(join(models, 'index.json'), 'utf8')) as { default: string };

const energy = (x: Float32Array, a: number, b: number) => x.subarray(a, b).reduce((s, v) => s + v * v, 0);

for (const [label, leadIn] of [['digital silence', 0], ['a quiet room (-70 dBFS)', 0.0003]] as const) {
  test(`noise that starts after ${label} is suppressed by at least 20 dB`, async () => {
    const runner = await loadRunner(join(models, index.default));
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

import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { add, speechLike, whiteNoise } from '../../tools/signals';
import { loadRunner } from '../model/load-node';
import { ChannelDenoiser, denoiseChannel, denoiseParts } from './offline';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');

for (const rate of [16000, 44100]) {
  test(`a file denoised in pieces of any size is the same, sample for sample, as denoised whole (${rate} Hz)`, async () => {
    const runner = await loadRunner(join(models, 'quell-gru.json'));
    const n = Math.round(rate * 2.37);
    const x = add(speechLike(2.37, rate, 3, 0.1).samples.subarray(0, n), whiteNoise(n, 0.02, 5));
    const whole = await denoiseChannel(x, rate, runner);
    const denoiser = new ChannelDenoiser(runner.withOwnState(), rate, n);
    const pieces: Float32Array[] = [];
    for (let at = 0, k = 1; at < n; k++) {
      const length = Math.min(n - at, ((k * 977) % 5003) + 1); // 1 to 5003 samples
      pieces.push(await denoiser.push(x.subarray(at, at + length)));
      at += length;
    }
    pieces.push(await denoiser.finish());
    const joined = new Float32Array(pieces.reduce((s, p) => s + p.length, 0));
    pieces.reduce((at, p) => (joined.set(p, at), at + p.length), 0);
    assert.equal(joined.length, n);
    assert.deepEqual(joined, whole);
    assert.ok(whole.some((v) => v !== 0) && whole.every(Number.isFinite));
  });
}

test('a denoiser told the wrong length says so instead of padding or cutting the audio', async () => {
  const runner = await loadRunner(join(models, 'quell-gru.json'));
  const short = new ChannelDenoiser(runner, 16000, 1000);
  await assert.rejects(short.push(new Float32Array(1001)), /more samples pushed than the 1000 announced/);
  const long = new ChannelDenoiser(runner, 16000, 1000);
  await long.push(new Float32Array(999));
  await assert.rejects(long.finish(), /999 samples pushed, 1000 announced/);
});

test('a file at a low rate reaches the engine whole: with no attenuation allowed, 3 kHz audio comes back as it went in', async () => {
  const runner = await loadRunner(join(models, 'quell-gru.json'));
  const rate = 3000; // 16 kHz from 3 kHz: one piece of input makes over 20 000 samples at the model's rate
  const x = speechLike(6, rate, 4, 0.1).samples;
  const y = await denoiseChannel(x, rate, runner, { maxAttenuationDb: 0 });
  let error = 0;
  let energy = 0;
  for (let i = rate; i < x.length - rate; i++) {
    error += (y[i] - x[i]) ** 2;
    energy += x[i] ** 2;
  }
  assert.ok(10 * Math.log10(energy / error) > 30, `${(10 * Math.log10(energy / error)).toFixed(1)} dB`);
});

for (const rate of [16000, 48000]) {
  test(`the masks replayed on speech alone and noise alone make outputs that add up to the mixture's (${rate} Hz)`, async () => {
    const runner = await loadRunner(join(models, 'quell-gru.json'));
    const n = rate * 2;
    const speech = speechLike(2, rate, 7, 0.1).samples;
    const noise = whiteNoise(n, 0.03, 9);
    const mixture = add(speech, noise);
    const { output, parts } = await denoiseParts(mixture, [speech, noise], rate, runner);
    assert.deepEqual(output, await denoiseChannel(mixture, rate, runner.withOwnState()));
    const energy = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0);
    let error = 0;
    for (let i = 0; i < n; i++) error += (parts[0][i] + parts[1][i] - output[i]) ** 2;
    assert.ok(error < 1e-6 * energy(output), `the parts miss the output by ${error}`);
    // the model keeps the voice and takes the noise down: far more of the noise is gone than of the speech
    const removedDb = (x: Float32Array, y: Float32Array) => 10 * Math.log10(energy(x) / energy(y));
    assert.ok(removedDb(noise, parts[1]) > removedDb(speech, parts[0]) + 4);
    await assert.rejects(denoiseParts(mixture, [speech.subarray(1)], rate, runner), /a part of 95999 samples|a part of 31999 samples/);
  });
}

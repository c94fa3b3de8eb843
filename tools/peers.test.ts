import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PEERS, createPeer, runPeer } from './peers';
import { add, rms, speechLike, whiteNoise } from './signals';

// The eval and the bench score every peer as the browser would run it; a peer whose wasm fails
// to load, or that hands back silence or garbage, would quietly make every table wrong.
for (const peer of PEERS) {
  test(`${peer.name} runs offline: same length, finite, not silent, noise alone quieter`, async () => {
    const rate = peer.sampleRate;
    const speech = speechLike(3, rate, 4, 0.1).samples;
    const noisy = add(speech, whiteNoise(speech.length, 0.01, 6));
    const noiseAlone = whiteNoise(2 * rate, 0.01, 7);
    const x = new Float32Array(noisy.length + noiseAlone.length);
    x.set(noisy);
    x.set(noiseAlone, noisy.length);
    const y = runPeer(await createPeer(peer), x);
    assert.equal(y.length, x.length);
    assert.ok(y.every(Number.isFinite), 'finite output');
    // (not "speech kept": RNNoise 2024 takes this synthetic voice for noise and removes 38 dB of it)
    assert.ok(rms(y, rate / 2, noisy.length) > 1e-4, 'not silent');
    // the last second of noise alone, well after any onset
    const from = x.length - rate;
    const attenuationDb = 20 * Math.log10(rms(x, from) / rms(y, from));
    assert.ok(attenuationDb > 3, `noise alone attenuated by ${attenuationDb.toFixed(1)} dB`);
  });
}

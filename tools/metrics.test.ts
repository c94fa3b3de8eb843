import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorSplit, levelDb, siSdr } from './metrics';
import { speechLike, whiteNoise } from './signals';

test('the error split tells speech taken away from noise left in, and adds up to the SI-SDR', () => {
  const speech = speechLike(2, 16000, 3, 0.1).samples;
  const noise = whiteNoise(speech.length, 0.01, 4);
  const scaled = (x: Float32Array, g: number) => x.map((v) => v * g);
  // a level change alone is no error; noise 20 dB under the kept speech is noise left at −20 dB
  const quieter = errorSplit(scaled(speech, 0.5), scaled(noise, 0.5), speech);
  assert.ok(quieter.speechErrorDb < -60, `${quieter.speechErrorDb}`);
  const snr = 10 * Math.log10(speech.reduce((s, v) => s + v * v, 0) / noise.reduce((s, v) => s + v * v, 0));
  assert.ok(Math.abs(quieter.noiseLeftDb + snr) < 0.1, `${quieter.noiseLeftDb} against ${-snr}`);
  // half the syllables gone: a speech error, and no noise
  const half = speech.map((v, i) => (i < speech.length / 2 ? v : 0));
  const cut = errorSplit(half, new Float32Array(speech.length), speech);
  assert.ok(cut.speechErrorDb > -6 && cut.noiseLeftDb < -100, JSON.stringify(cut));
  // both at once: the two terms add up to the SI-SDR of the sum (speech and noise uncorrelated)
  const out = half.map((v, i) => v + noise[i]);
  const both = errorSplit(half, noise, speech);
  const combined = -10 * Math.log10(10 ** (both.speechErrorDb / 10) + 10 ** (both.noiseLeftDb / 10));
  assert.ok(Math.abs(combined - siSdr(out, speech)) < 0.2, `${combined} against ${siSdr(out, speech)}`);
});

test('the level is the gain the output carries the reference at, whatever else it carries', () => {
  const speech = speechLike(2, 16000, 3, 0.1).samples;
  const noise = whiteNoise(speech.length, 0.05, 5);
  assert.ok(Math.abs(levelDb(speech, speech)) < 1e-6);
  assert.ok(
    Math.abs(
      levelDb(
        speech.map((v) => v * 0.5),
        speech,
      ) + 6.02,
    ) < 0.01,
  );
  // noise the output adds does not move it (it is not the voice); silence is the floor, not NaN
  assert.ok(
    Math.abs(
      levelDb(
        speech.map((v, i) => v * 0.79 + noise[i]),
        speech,
      ) -
        20 * Math.log10(0.79),
    ) < 0.1,
  );
  assert.equal(levelDb(new Float32Array(speech.length), speech), -120);
});

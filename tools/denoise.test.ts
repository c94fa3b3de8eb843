import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeWav, encodeWav } from '../src/engine/wav';
import { add, rms, speechLike, whiteNoise } from './signals';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'quell-denoise-'));

async function denoise(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(root, 'tools/denoise.ts'), ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test('denoise a noisy 44.1 kHz stereo 24-bit file: same length, finite, aligned, quieter between words', async () => {
  const rate = 44100;
  const speech = speechLike(6, rate, 11, 0.1);
  const noise = whiteNoise(speech.samples.length, 0.02, 5);
  const noisy = add(speech.samples, noise);
  const input = join(dir, 'noisy.wav');
  const output = join(dir, 'clean.wav');
  writeFileSync(input, encodeWav([noisy, noisy.map((v) => v * 0.5)], rate, 'pcm24'));
  const r = await denoise(input, output);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(Math.abs(summary.audioSeconds - 6) < 0.01 && summary.realTimeFactor > 0);
  const out = decodeWav(readFileSync(output));
  assert.equal(out.sampleRate, rate);
  assert.equal(out.encoding, 'pcm24');
  assert.equal(out.channels.length, 2);
  assert.equal(out.channels[0].length, noisy.length);
  assert.ok(out.channels.every((c) => c.every(Number.isFinite)));
  // aligned: the output correlates best with the clean speech at lag 0
  const y = out.channels[0];
  const corr = (lag: number) => {
    let s = 0;
    for (let i = 2000; i < y.length - 2000; i++) s += y[i] * speech.samples[i - lag];
    return s;
  };
  const lags = [-64, -16, -4, -1, 1, 4, 16, 64];
  assert.ok(lags.every((l) => corr(0) > corr(l)), 'output is not time-aligned with the input');
  // quieter where there is no speech (pauses well away from syllables)
  let inPause = 0;
  let outPause = 0;
  let n = 0;
  const guard = Math.round(0.05 * rate);
  for (let i = guard; i < y.length - guard; i++) {
    if (speech.active[i - guard] || speech.active[i + guard] || speech.active[i]) continue;
    inPause += noisy[i] ** 2;
    outPause += y[i] ** 2;
    n++;
  }
  assert.ok(n > rate, 'the test signal needs pauses');
  const reductionDb = 10 * Math.log10(inPause / outPause);
  assert.ok(reductionDb > 10, `noise in pauses reduced by only ${reductionDb.toFixed(1)} dB`);
  assert.ok(rms(y) > 0.3 * rms(speech.samples), 'the voice must survive');
});

test('a folder in, a folder out: every .wav is denoised', async () => {
  const inDir = join(dir, 'in');
  mkdirSync(inDir, { recursive: true });
  for (const name of ['a.wav', 'b.wav']) writeFileSync(join(inDir, name), encodeWav([whiteNoise(16000, 0.05)], 16000, 'pcm16'));
  writeFileSync(join(inDir, 'notes.txt'), 'not audio');
  const r = await denoise(inDir, join(dir, 'out'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).files, 2);
  for (const name of ['a.wav', 'b.wav']) assert.equal(decodeWav(readFileSync(join(dir, 'out', name))).channels[0].length, 16000);
});

test('bad input: clear messages and non-zero exits', async () => {
  let r = await denoise(join(dir, 'nope.wav'), join(dir, 'x.wav'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nope\.wav does not exist/);
  const text = join(dir, 'text.wav');
  writeFileSync(text, 'hello, I am not a WAV file');
  r = await denoise(text, join(dir, 'x.wav'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /text\.wav is not a readable WAV file/);
  const ok = join(dir, 'ok.wav');
  writeFileSync(ok, encodeWav([whiteNoise(1600, 0.05)], 16000));
  const card = join(dir, 'card.json');
  writeFileSync(card, JSON.stringify({ ...JSON.parse(readFileSync(join(root, 'models/fixture/quell-fixture.json'), 'utf8')), file: 'gone.onnx' }));
  r = await denoise(ok, join(dir, 'x.wav'), '--model', card);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /gone\.onnx not found/);
});

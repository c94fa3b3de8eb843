import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeWav, encodeWav } from '../src/io/wav';
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
  assert.ok(
    lags.every((l) => corr(0) > corr(l)),
    'output is not time-aligned with the input',
  );
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
  // the file's audio went through the model, aligned (a pass-through or a misplaced mask removes
  // nothing here); how far a model goes between real words is npm run eval's to measure
  assert.ok(reductionDb > 6, `noise in pauses reduced by only ${reductionDb.toFixed(1)} dB`);
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
  writeFileSync(
    card,
    JSON.stringify({ ...JSON.parse(readFileSync(join(root, 'models/fixture/quell-fixture.json'), 'utf8')), file: 'gone.onnx' }),
  );
  r = await denoise(ok, join(dir, 'x.wav'), '--model', card);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /gone\.onnx not found/);
});

/** A WAV's bytes with its header edited: the data chunk's size field, or chunks repeated. */
function wavBytes(seconds = 0.5): Uint8Array {
  return encodeWav([speechLike(seconds, 16000, 3, 0.1).samples], 16000, 'pcm16');
}

test('never loses a recording: OUT = IN is refused without --in-place, and --in-place replaces it only when complete', async () => {
  const rec = join(dir, 'rec.wav');
  const original = wavBytes();
  writeFileSync(rec, original);
  let r = await denoise(rec, rec);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /rec\.wav is the input: pass --in-place/);
  assert.deepEqual(new Uint8Array(readFileSync(rec)), original, 'the input must be untouched');
  r = await denoise(rec, rec, '--in-place');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(decodeWav(readFileSync(rec)).channels[0].length, 8000);
  const folder = join(dir, 'same');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'a.wav'), original);
  r = await denoise(folder, folder);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is the input folder/);
  assert.deepEqual(new Uint8Array(readFileSync(join(folder, 'a.wav'))), original);
});

test('a header whose data size is 0 (a recorder that crashed) is read as players read it: the rest of the file is audio', async () => {
  const bytes = wavBytes();
  new DataView(bytes.buffer).setUint32(40, 0, true);
  const crashed = join(dir, 'crashed.wav');
  writeFileSync(crashed, bytes);
  const r = await denoise(crashed, join(dir, 'crashed-out.wav'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(decodeWav(readFileSync(join(dir, 'crashed-out.wav'))).channels[0].length, 8000);
});

test('WAVs that cannot be read right are refused with the reason, and nothing is written', async () => {
  const good = wavBytes();
  const cases: [string, Uint8Array, RegExp][] = [];
  const twoData = new Uint8Array(good.length + good.length - 36);
  twoData.set(good);
  twoData.set(good.subarray(36), good.length); // a second data chunk
  new DataView(twoData.buffer).setUint32(4, twoData.length - 8, true);
  cases.push(['two-data.wav', twoData, /two data chunks/]);
  const twoFmt = new Uint8Array(good.length + 24);
  twoFmt.set(good.subarray(0, 36));
  twoFmt.set(good.subarray(12, 36), 36); // the format chunk again
  twoFmt.set(good.subarray(36), 60);
  cases.push(['two-fmt.wav', twoFmt, /two format chunks/]);
  const absurdRate = good.slice();
  new DataView(absurdRate.buffer).setUint32(24, 4_000_000_000, true);
  cases.push(['rate.wav', absurdRate, /sample rate 4000000000 Hz/]);
  const threeHz = good.slice();
  new DataView(threeHz.buffer).setUint32(24, 3, true);
  cases.push(['3hz.wav', threeHz, /sample rate 3 Hz/]);
  const manyChannels = good.slice();
  new DataView(manyChannels.buffer).setUint16(22, 65535, true);
  cases.push(['channels.wav', manyChannels, /65535 channels/]);
  cases.push(['empty.wav', good.subarray(0, 44), /no audio in the data chunk/]);
  for (const [name, bytes, reason] of cases) {
    const input = join(dir, name);
    const output = join(dir, `out-${name}`);
    writeFileSync(input, bytes);
    const r = await denoise(input, output);
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${name.replace('.', '\\.')} is not a readable WAV file: ${reason.source}`), name);
    assert.ok(!existsSync(output), `${name}: no output may be written`);
  }
});

test('options are checked: bad --max-attenuation, unknown options and a missing value are refused; --help exits 0', async () => {
  const input = join(dir, 'opt.wav');
  writeFileSync(input, wavBytes());
  for (const bad of ['abc', 'NaN', '12dB', '-6', '']) {
    const r = await denoise(input, join(dir, 'opt-out.wav'), '--max-attenuation', bad);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /--max-attenuation must be a number of decibels ≥ 0/, bad);
  }
  let r = await denoise(input, join(dir, 'opt-out.wav'), '--max-attenuation');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--max-attenuation needs a value/);
  r = await denoise(input, join(dir, 'opt-out.wav'), '--strength', '3');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --strength/);
  r = await denoise('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: npm run denoise/);
  assert.ok(!existsSync(join(dir, 'opt-out.wav')));
});

test('a batch denoises every good file, names each bad one, sums up and exits non-zero', async () => {
  const inDir = join(dir, 'batch');
  mkdirSync(join(inDir, 'folder.wav'), { recursive: true }); // a folder named like a file is skipped
  writeFileSync(join(inDir, 'a.wav'), wavBytes());
  writeFileSync(join(inDir, 'b.wav'), 'not a wav');
  writeFileSync(join(inDir, 'c.wav'), wavBytes());
  const r = await denoise(inDir, join(dir, 'batch-out'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /b\.wav is not a readable WAV file/);
  assert.match(r.stderr, /2 of 3 files denoised; failed: .*b\.wav/);
  assert.ok(existsSync(join(dir, 'batch-out', 'a.wav')) && existsSync(join(dir, 'batch-out', 'c.wav')));
  assert.ok(!existsSync(join(dir, 'batch-out', 'b.wav')));
});

test("relative paths are the user's: resolved from the folder npm was run in", async () => {
  const here = join(dir, 'cwd');
  mkdirSync(here, { recursive: true });
  writeFileSync(join(here, 'mine.wav'), wavBytes());
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(root, 'tools/denoise.ts'), 'mine.wav', 'mine-clean.wav'], {
    cwd: root,
    env: { ...process.env, INIT_CWD: here },
  });
  assert.equal(JSON.parse(stdout.trim().split('\n').pop()!).files, 1);
  assert.ok(existsSync(join(here, 'mine-clean.wav')));
});

test('float input past full scale is denoised at a level that fits and given its level back, not clipped', async () => {
  const voice = add(speechLike(2, 16000, 4, 0.5).samples, whiteNoise(32000, 0.05, 6));
  const loud = voice.map((v) => 4 * v); // peaks well past 1.0 (+12 dB)
  assert.ok(Math.max(...loud.map(Math.abs)) > 2);
  writeFileSync(join(dir, 'loud.wav'), encodeWav([loud], 16000, 'float32'));
  writeFileSync(join(dir, 'fits.wav'), encodeWav([voice], 16000, 'float32'));
  const r = await denoise(join(dir, 'loud.wav'), join(dir, 'loud-out.wav'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /loud\.wav goes \d+\.\d dB past full scale: denoised \d+\.\d dB lower and given its level back/);
  assert.equal((await denoise(join(dir, 'fits.wav'), join(dir, 'fits-out.wav'))).code, 0);
  const y = decodeWav(readFileSync(join(dir, 'loud-out.wav'))).channels[0];
  const z = decodeWav(readFileSync(join(dir, 'fits-out.wav'))).channels[0];
  assert.ok(Math.max(...y.map(Math.abs)) > 1.5, "the output keeps the input's level");
  // The model does not depend on level, so the result is the in-range file's, scaled (to float rounding and the level floor).
  const scale = rms(y) / rms(z);
  assert.ok(Math.abs(scale - 4) < 0.05, `level ratio ${scale}`);
});

test('RF64 (files over 4 GiB): its 64-bit sizes are read, and written when the audio needs them', async () => {
  const { readWavLayout, wavHeader } = await import('../src/io/wav');
  // Written: 5 hours of 48 kHz stereo float is 6.9 GB of audio, past RIFF's 32-bit sizes.
  const frames = 5 * 3600 * 48000;
  const header = wavHeader(2, 48000, 'float32', frames);
  assert.equal(String.fromCharCode(...header.subarray(0, 4)), 'RF64');
  const layout = readWavLayout((o, l) => header.subarray(o, o + l), header.length + frames * 8, 'big.wav');
  assert.deepEqual(
    [layout.frames, layout.channelCount, layout.sampleRate, layout.dataOffset, layout.encoding],
    [frames, 2, 48000, header.length, 'float32'],
  );
  // A short file under an RF64 header is still read by its ds64 size, and denoised.
  const voice = add(speechLike(1, 16000, 4, 0.1).samples, whiteNoise(16000, 0.01, 6));
  const rf64 = wavHeader(1, 16000, 'pcm16', 16000);
  const small = wavBytes();
  const h = new Uint8Array(80);
  const v = new DataView(h.buffer);
  h.set(
    [...'RF64'].map((c) => c.charCodeAt(0)),
    0,
  );
  v.setUint32(4, 0xffffffff, true);
  h.set(
    [...'WAVEds64'].map((c) => c.charCodeAt(0)),
    8,
  );
  v.setUint32(16, 28, true);
  v.setUint32(28, 32000, true); // data size, low word
  v.setUint32(36, 16000, true); // sample count
  h.set(small.subarray(12, 36), 48); // the format chunk of a 16 kHz mono 16-bit file
  h.set(
    [...'data'].map((c) => c.charCodeAt(0)),
    72,
  );
  v.setUint32(76, 0xffffffff, true);
  const audio = encodeWav([voice], 16000, 'pcm16').subarray(44);
  const file = new Uint8Array(80 + audio.length + 100); // and trailing bytes that are not audio
  file.set(h);
  file.set(audio, 80);
  writeFileSync(join(dir, 'rf64.wav'), file);
  assert.equal(rf64.length, 44, 'a short file gets a plain RIFF header');
  const r = await denoise(join(dir, 'rf64.wav'), join(dir, 'rf64-out.wav'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(decodeWav(readFileSync(join(dir, 'rf64-out.wav'))).channels[0].length, 16000);
});

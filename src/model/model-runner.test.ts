import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { binCount, stateValues } from './card';
import { ModelRunner } from './model-runner';
import { loadRunner, readCard, readModelIndex } from './load-node';
import { denoiseChannel } from '../offline/offline';
import { decodeWav } from '../io/wav';

const models = resolve(dirname(fileURLToPath(import.meta.url)), '../../models');
const fixtureCard = join(models, 'fixture/quell-fixture.json');
// with every optional part of the step graph (noise floor, voicing, local SNR, refiner), which no shipped model may have
const partsFixtureCard = join(models, 'fixture/quell-fixture-parts.json');
// reading and masking in bands, folded into its encoder and decoder
const bandsFixtureCard = join(models, 'fixture/quell-fixture-bands.json');
const cards = [...new Set([fixtureCard, partsFixtureCard, bandsFixtureCard, ...readModelIndex(models).cards])];

function readFloats(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

for (const cardPath of cards) {
  test(`streaming parity: ONNX step by step equals the PyTorch whole sequence (${cardPath.split('/models/')[1]})`, async () => {
    const card = readCard(cardPath) as ReturnType<typeof readCard> & { golden: { file: string; frames: number } };
    const golden = readFloats(join(dirname(cardPath), card.golden.file));
    const frames = card.golden.frames;
    const bins = binCount(card);
    const runner = await loadRunner(cardPath);
    const mask = new Float32Array(bins);
    let worst = 0;
    for (let f = 0; f < frames; f++) {
      await runner.step(golden.subarray(f * bins, (f + 1) * bins), mask);
      const expected = golden.subarray((frames + f) * bins, (frames + f + 1) * bins);
      for (let k = 0; k < bins; k++) worst = Math.max(worst, Math.abs(mask[k] - expected[k]));
    }
    assert.ok(worst <= 1e-5, `max abs diff ${worst}`);
  });
}

for (const cardPath of cards) {
  test(`the whole TypeScript file pipeline equals the Python reference pipeline (${cardPath.split('/models/')[1]})`, async () => {
    const runner = await loadRunner(cardPath);
    const wav = decodeWav(readFileSync(cardPath.replace('.json', '.pipeline-input.wav')));
    const expected = readFloats(cardPath.replace('.json', '.pipeline-output.bin'));
    const y = await denoiseChannel(wav.channels[0], wav.sampleRate, runner);
    assert.equal(y.length, expected.length);
    let worst = 0;
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - expected[i]));
    assert.ok(worst < 1e-4, `max abs diff ${worst}`);
  });
}

test('NaN and Inf magnitudes never reach the recurrent state', async () => {
  const runner = await loadRunner(fixtureCard);
  const mags = new Float32Array(257).fill(0.5);
  const mask = new Float32Array(257);
  mags[3] = NaN;
  mags[100] = Infinity;
  for (let i = 0; i < 5; i++) await runner.step(mags, mask);
  assert.ok(mask.every((m) => m >= 0 && m <= 1));
  assert.ok(runner.state().every(Number.isFinite));
});

test('frames of digital silence hold the state: what follows a muted microphone is masked as from a fresh start', async () => {
  const card = readModelIndex(models).defaultCard;
  const fresh = await loadRunner(card);
  const muted = await loadRunner(card);
  const mask = new Float32Array(257).fill(1);
  const expected = new Float32Array(257);
  for (let i = 0; i < 80; i++) {
    await muted.step(new Float32Array(257), mask);
    // What the engine would hold if the first real frame's mask came late: closed, not open.
    assert.ok(
      mask.every((m) => m === 0),
      'silence on a fresh stream answers a closed mask',
    );
  }
  assert.ok(muted.state().every((v) => v === 0));
  for (let f = 0; f < 20; f++) {
    const noise = new Float32Array(257).map((_, k) => 0.2 + 0.1 * Math.sin(f * 1.3 + k / 7));
    await fresh.step(noise, expected);
    await muted.step(noise, mask);
    assert.deepEqual(mask, expected);
  }
  // A pause after sound answers the last mask the model gave, and reset forgets it.
  const last = mask.slice();
  await muted.step(new Float32Array(257), mask);
  assert.deepEqual(mask, last);
  muted.reset();
  await muted.step(new Float32Array(257), mask);
  assert.ok(mask.every((m) => m === 0));
});

test('a file that opens with digital silence is denoised as if the silence were not there', async () => {
  const runner = await loadRunner(readModelIndex(models).defaultCard);
  const wav = decodeWav(readFileSync(fixtureCard.replace('.json', '.pipeline-input.wav')));
  const x = wav.channels[0];
  const lead = 40 * 128; // whole hops of zeros, so the frames after them line up with x's
  const padded = new Float32Array(lead + x.length);
  padded.set(x, lead);
  runner.reset();
  const direct = await denoiseChannel(x, wav.sampleRate, runner);
  runner.reset();
  const after = await denoiseChannel(padded, wav.sampleRate, runner);
  assert.deepEqual(after.subarray(lead), direct);
});

test("reset zeroes the state: the next step is a fresh stream's", async () => {
  const runner = await loadRunner(fixtureCard);
  const fresh = new Float32Array(257);
  await runner.step(new Float32Array(257).fill(2), fresh);
  const mask = new Float32Array(257);
  await runner.step(new Float32Array(257).fill(0.5), mask);
  assert.ok(runner.state().some((v) => v !== 0));
  runner.reset();
  assert.ok(runner.state().every((v) => v === 0));
  await runner.step(new Float32Array(257).fill(2), mask);
  assert.deepEqual(mask, fresh);
});

test('a missing or corrupt model gives an error that names the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quell-'));
  const card = join(dir, 'bad.json');
  writeFileSync(card, JSON.stringify({ ...readCard(fixtureCard), file: 'bad.onnx' }));
  await assert.rejects(loadRunner(card), /model file .*bad\.onnx not found/);
  writeFileSync(join(dir, 'bad.onnx'), 'this is not a model');
  await assert.rejects(loadRunner(card), /model file .*bad\.onnx could not be loaded/);
  await assert.rejects(loadRunner(join(dir, 'missing.json')), /model card .*missing\.json not found/);
  writeFileSync(join(dir, 'garbage.json'), '{not json');
  await assert.rejects(loadRunner(join(dir, 'garbage.json')), /garbage\.json is not valid JSON/);
  copyFileSync(fixtureCard, join(dir, 'shape.json'));
  writeFileSync(join(dir, 'shape.json'), JSON.stringify({ ...readCard(fixtureCard), fftSize: 500 }));
  await assert.rejects(loadRunner(join(dir, 'shape.json')), /fftSize/);
  // A card whose step tensors do not hold the magnitudes and its state, and one from before the
  // one-tensor step (a tensor per state): each says what is wrong and what to do.
  const { stateLayout, ...rest } = readCard(fixtureCard);
  writeFileSync(join(dir, 'short.json'), JSON.stringify({ ...rest, stateLayout: stateLayout.slice(1) }));
  await assert.rejects(
    loadRunner(join(dir, 'short.json')),
    /short\.json is invalid: "input" must hold 531 values \(the magnitudes: fftSize\/2\+1 = 257, then the 274 of "stateLayout"\)/,
  );
  writeFileSync(join(dir, 'old.json'), JSON.stringify({ ...rest, states: [{ input: 'state_in', output: 'state_out', shape: [1, 290] }] }));
  await assert.rejects(
    loadRunner(join(dir, 'old.json')),
    /old\.json is invalid: it names a tensor per state.*training\/export\.py --reexport/,
  );
});

test('a card cannot send a loader outside its folder, and nothing endless or huge is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quell-'));
  const base = readCard(fixtureCard);
  for (const file of ['../quell-gru.onnx', '/dev/zero', 'https://example.com/m.onnx', 'sub/../../x.onnx', '.hidden.onnx', 'model.bin']) {
    writeFileSync(join(dir, 'away.json'), JSON.stringify({ ...base, file }));
    await assert.rejects(
      loadRunner(join(dir, 'away.json')),
      /away\.json is invalid: "file" must name an \.onnx file in the card's own folder/,
      file,
    );
  }
  // A model file past the size limit is refused before it is read (a sparse file: no disk used).
  writeFileSync(join(dir, 'big.json'), JSON.stringify({ ...base, file: 'big.onnx' }));
  writeFileSync(join(dir, 'big.onnx'), '');
  truncateSync(join(dir, 'big.onnx'), 65 << 20);
  await assert.rejects(loadRunner(join(dir, 'big.json')), /model file .*big\.onnx is 65\.0 MiB, more than the 64 MiB/);
  // A folder where the model should be, and a card that is not a regular file.
  writeFileSync(join(dir, 'folder.json'), JSON.stringify({ ...base, file: 'folder.onnx' }));
  mkdirSync(join(dir, 'folder.onnx'));
  await assert.rejects(loadRunner(join(dir, 'folder.json')), /model file .*folder\.onnx is not a regular file/);
  await assert.rejects(loadRunner('/dev/zero'), /model card \/dev\/zero is not a regular file/);
});

test('a step whose mask or state comes out not finite passes its frame and starts the state afresh', async () => {
  // A stand-in for onnxruntime whose session answers as told: a good step, a NaN in the mask,
  // a good step, an infinity in the state; each bad one must be caught, whichever tensor holds it.
  const card = readCard(fixtureCard);
  const stateSize = stateValues(card);
  const answers: [number, number][] = [
    [0.5, 0.25],
    [NaN, 0.25],
    [0.5, 0.25],
    [0.5, Infinity],
  ];
  let step = 0;
  const ort = {
    Tensor: class {
      constructor(
        readonly type: string,
        readonly data: Float32Array,
        readonly dims: number[],
      ) {}
    },
    InferenceSession: {
      create: async () => ({
        inputNames: [card.input.name],
        outputNames: [card.output.name],
        run: async () => {
          const [mask, state] = answers[step++];
          const output = new Float32Array(257 + stateSize).fill(0.25).fill(mask, 0, 257);
          output[257 + 7] = state;
          return { [card.output.name]: { data: output } };
        },
      }),
    },
  } as unknown as typeof import('onnxruntime-web');
  const runner = await ModelRunner.create(ort, new Uint8Array(0), card);
  const mags = new Float32Array(257).fill(0.5);
  const mask = new Float32Array(257);
  const expected = [
    { mask: 0.5, recoveries: 0, state: 0.25 },
    { mask: 1, recoveries: 1, state: 0 },
    { mask: 0.5, recoveries: 1, state: 0.25 },
    { mask: 1, recoveries: 2, state: 0 },
  ];
  for (const want of expected) {
    await runner.step(mags, mask);
    assert.ok(
      mask.every((m) => m === want.mask),
      `mask ${mask[0]}, expected ${want.mask}`,
    );
    assert.equal(runner.recoveries, want.recoveries);
    assert.ok(runner.state().every((v) => v === want.state));
  }
});

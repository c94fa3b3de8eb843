/**
 * npm run parity — the streaming promise, stage by stage, for every model in models/index.json:
 * the max abs difference between frame-by-frame (carried state) and whole-sequence output
 *   pytorch: PyTorch step loop vs PyTorch whole sequence (masks)
 *   onnx:    onnxruntime-web step loop vs PyTorch whole sequence (masks, golden vectors)
 *   engine:  the TypeScript streaming engine (masks arriving 2 hops late, as from the worker)
 *            vs the Python whole-sequence reference pipeline (output samples)
 * and a plot of the per-frame differences in docs/parity.png.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameEngine } from '../src/dsp/frame-engine';
import { binCount, engineOptions } from '../src/model/card';
import { loadRunner, readCard, readModelIndex } from '../src/model/load-node';
import { decodeWav } from '../src/io/wav';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const floats = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

async function onnxStage(cardPath: string): Promise<number[]> {
  const card = readCard(cardPath) as ReturnType<typeof readCard> & { golden: { file: string; frames: number } };
  const golden = floats(join(dirname(cardPath), card.golden.file));
  const bins = binCount(card);
  const frames = card.golden.frames;
  const runner = await loadRunner(cardPath);
  const mask = new Float32Array(bins);
  const diffs: number[] = [];
  for (let f = 0; f < frames; f++) {
    await runner.step(golden.subarray(f * bins, (f + 1) * bins), mask);
    let worst = 0;
    for (let k = 0; k < bins; k++) worst = Math.max(worst, Math.abs(mask[k] - golden[(frames + f) * bins + k]));
    diffs.push(worst);
  }
  return diffs;
}

async function engineStage(cardPath: string): Promise<number[]> {
  const runner = await loadRunner(cardPath);
  const card = runner.card;
  const x = decodeWav(readFileSync(cardPath.replace('.json', '.pipeline-input.wav'))).channels[0];
  const expected = floats(cardPath.replace('.json', '.pipeline-output.bin'));
  const maskLatency = 2;
  const engine = new FrameEngine(engineOptions(card, maskLatency));
  const hop = card.hopSize;
  const delay = engine.delaySamples;
  const hops = Math.ceil((x.length + delay) / hop);
  const y = new Float32Array(hops * hop);
  const hopIn = new Float32Array(hop);
  const pending: { frame: number; mask: Float32Array }[] = [];
  for (let h = 0; h < hops; h++) {
    hopIn.fill(0);
    if (h * hop < x.length) hopIn.set(x.subarray(h * hop, Math.min((h + 1) * hop, x.length)));
    await engine.processHop(hopIn, y.subarray(h * hop, (h + 1) * hop), async (magnitudes, frame) => {
      const mask = new Float32Array(binCount(card));
      await runner.step(magnitudes, mask);
      pending.push({ frame, mask });
      while (pending.length > maskLatency) {
        const p = pending.shift()!;
        engine.setMask(p.frame, p.mask); // delivered late, as the worker would
      }
      if (pending.length) {
        const p = pending[0]; // the mask due now arrives just in time
        if (p.frame === frame - maskLatency) engine.setMask(p.frame, p.mask);
      }
    });
  }
  const diffs: number[] = [];
  for (let h = 0; h * hop < x.length; h++) {
    let worst = 0;
    for (let i = h * hop; i < Math.min((h + 1) * hop, x.length); i++) worst = Math.max(worst, Math.abs(y[i + delay] - expected[i]));
    diffs.push(worst);
  }
  return diffs;
}

async function main(): Promise<void> {
  const cards = readModelIndex(join(root, 'models')).cards;
  const torch = JSON.parse(
    execFileSync('/usr/bin/python3', [join(root, 'training/parity.py'), 'torch', ...cards], { encoding: 'utf8' }),
  ) as Record<string, number[]>;
  const results: Record<string, Record<string, number[]>> = {};
  console.log('| model | family | PyTorch stream vs whole | ONNX stream vs PyTorch whole | TS engine stream vs whole-sequence reference |');
  console.log('|---|---|---|---|---|');
  for (const cardPath of cards) {
    const card = readCard(cardPath);
    const r = { pytorch: torch[cardPath], onnx: await onnxStage(cardPath), engine: await engineStage(cardPath) };
    results[card.name] = r;
    const max = (xs: number[]) => Math.max(...xs).toExponential(2);
    console.log(`| ${card.name} | ${card.family} | ${max(r.pytorch)} | ${max(r.onnx)} | ${max(r.engine)} |`);
  }
  mkdirSync(join(root, 'docs'), { recursive: true });
  const json = join(root, '.cache', 'parity.json');
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(results));
  execFileSync('/usr/bin/python3', [join(root, 'training/parity.py'), 'plot', json, join(root, 'docs/parity.png')]);
  console.log('per-frame plot: docs/parity.png');
}

main().catch((e: Error) => {
  console.error(`parity: ${e.message}`);
  process.exit(1);
});

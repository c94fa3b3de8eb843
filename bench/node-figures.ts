/**
 * The bench's figures measured in Node: per-frame step and DSP times, messaging between threads,
 * whole-engine CPU beside the peers, delay measured on the output, and memory over 10 minutes.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { FrameEngine } from '../src/dsp/frame-engine';
import { StreamAdapter } from '../src/dsp/stream-adapter';
import { binCount, DEFAULT_MASK_LATENCY, engineOptions } from '../src/model/card';
import { loadRunner, readCard } from '../src/model/load-node';
import type { ModelRunner } from '../src/model/model-runner';
import { denoiseChannel, resampleAligned } from '../src/offline/offline';
import { bestLag } from '../tools/metrics';
import { PEERS, createPeer, runPeer } from '../tools/peers';
import { add, speechLike, whiteNoise } from '../tools/signals';
import { percentile } from './common';

// Node's process.memoryUsage() does not count WebAssembly memory, and onnxruntime-web keeps
// its whole heap in one: it makes it with `new WebAssembly.Memory(...)` when its runtime first
// starts (the first model loaded below), so every Memory made from here on is recorded and
// its current size read when memory is reported.
const wasmMemories: WebAssembly.Memory[] = [];
WebAssembly.Memory = new Proxy(WebAssembly.Memory, {
  construct(target, args) {
    const memory = Reflect.construct(target, args) as WebAssembly.Memory;
    wasmMemories.push(memory);
    return memory;
  },
});
const wasmBytes = () => wasmMemories.reduce((sum, m) => sum + m.buffer.byteLength, 0);

export async function nodeFigures(cardPath: string) {
  const runner = await loadRunner(cardPath);
  const card = runner.card;
  const bins = binCount(card);
  const signal = add(speechLike(20, 16000, 5, 0.1).samples, whiteNoise(320000, 0.01, 6));
  const engine = new FrameEngine(engineOptions(card, 0));
  const mask = new Float32Array(bins);
  const out = new Float32Array(card.hopSize);
  const stepTimes: number[] = [];
  const dspTimes: number[] = [];
  let step = 0;
  const timedStep = async (magnitudes: Float32Array) => {
    const t = performance.now();
    await runner.step(magnitudes, mask);
    step = performance.now() - t;
    return mask;
  };
  for (let h = 0; h + card.hopSize <= signal.length; h += card.hopSize) {
    const t = performance.now();
    await engine.processHop(signal.subarray(h, h + card.hopSize), out, timedStep);
    const dsp = performance.now() - t - step; // the hop's own work: STFT, mask, inverse FFT, overlap-add
    if (h > 200 * card.hopSize) {
      // after warm-up
      stepTimes.push(step);
      dspTimes.push(dsp);
    }
  }
  return {
    card,
    runner,
    step: { median: percentile(stepTimes, 0.5), p99: percentile(stepTimes, 0.99) },
    dsp: { median: percentile(dspTimes, 0.5), p99: percentile(dspTimes, 0.99) },
  };
}

/** Round trip of one frame of `bins` magnitudes between threads: MessagePort copy, and the shared-memory ring (Atomics). */
export async function messaging(bins: number) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const control = new Int32Array(workerData.sab);
    parentPort.on('message', (m) => { if (m.port) m.port.on('message', (x) => m.port.postMessage({ frame: x.frame, mask: new Float32Array(${bins}) })); });
    (async () => { let seen = 0; for (;;) { const r = Atomics.waitAsync(control, 0, seen); if (r.async) await r.value; seen = Atomics.load(control, 0); if (seen < 0) break; Atomics.store(control, 1, seen); Atomics.notify(control, 1); } })();`;
  const sab = new SharedArrayBuffer(8);
  const control = new Int32Array(sab);
  const worker = new Worker(code, { eval: true, workerData: { sab } });
  const channel = new MessageChannel();
  worker.postMessage({ port: channel.port2 }, [channel.port2]);
  const portTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    await new Promise<void>((res) => {
      channel.port1.once('message', () => res());
      channel.port1.postMessage({ frame: i, magnitudes: new Float32Array(bins) });
    });
    if (i > 100) portTimes.push(performance.now() - t);
  }
  const ringTimes: number[] = [];
  for (let i = 1; i <= 2000; i++) {
    const t = performance.now();
    Atomics.store(control, 0, i);
    Atomics.notify(control, 0);
    while (Atomics.load(control, 1) !== i) {
      const r = Atomics.waitAsync(control, 1, Atomics.load(control, 1));
      if (r.async) await r.value;
    }
    if (i > 100) ringTimes.push(performance.now() - t);
  }
  Atomics.store(control, 0, -1);
  Atomics.notify(control, 0);
  await worker.terminate();
  channel.port1.close();
  return {
    port: { median: percentile(portTimes, 0.5), p99: percentile(portTimes, 0.99) },
    ring: { median: percentile(ringTimes, 0.5), p99: percentile(ringTimes, 0.99) },
  };
}

export const QUELL_AT_48K = (model: string) => `Quell ${model} in a 48 kHz context`;

/**
 * The default model in a 48 kHz context (a browser that will not open one at 16 kHz, or a page
 * that mixes Quell into a 48 kHz call): what the worklet runs, 128-sample quanta through
 * StreamAdapter with its resampling both ways, each frame's mask set a hop later, as live.
 */
async function streamLikeTheWorklet(x: Float32Array, rate: number, runner: ModelRunner): Promise<void> {
  const card = runner.card;
  const engine = new FrameEngine(engineOptions(card, 1));
  const adapter = new StreamAdapter(engine, rate, card.sampleRate);
  const quantum = new Float32Array(128);
  const mask = new Float32Array(binCount(card));
  let newFrame = -1;
  runner.reset();
  for (let i = 0; i + quantum.length <= x.length; i += quantum.length) {
    adapter.process(x.subarray(i, i + quantum.length), quantum, (frame) => (newFrame = frame));
    if (newFrame < 0) continue;
    await runner.step(engine.magnitudes, mask);
    engine.setMask(newFrame, mask);
    newFrame = -1;
  }
  if (engine.lateMasks > 0) throw new Error(`48 kHz stream: ${engine.lateMasks} late masks`);
}

/** Timed passes of each system for the real-time factors (after one warm-up pass each). */
export const RTF_ROUNDS = 5;

/**
 * Whole-engine CPU per second of audio: every Quell model (default first, and the default in a
 * 48 kHz context), then the peers. One 30 s pass varies by 10–15 % on this shared machine, and
 * the targets are ratios of these figures: each system is timed in every round, the rounds
 * interleaved, and its median kept.
 */
export async function realTimeFactors(cardPaths: string[]) {
  const seconds = 30;
  const x16 = add(speechLike(seconds, 16000, 8, 0.1).samples, whiteNoise(seconds * 16000, 0.01, 9));
  const x48 = resampleAligned(x16, 16000, 48000);
  const systems: { name: string; pass: () => Promise<unknown> }[] = [];
  for (const cardPath of cardPaths) {
    const runner = await loadRunner(cardPath);
    if (runner.card.fixture) continue;
    systems.push({ name: `Quell ${runner.card.name}`, pass: () => denoiseChannel(x16, 16000, runner) });
    if (cardPath === cardPaths[0])
      systems.push({ name: QUELL_AT_48K(runner.card.name), pass: () => streamLikeTheWorklet(x48, 48000, runner) });
  }
  for (const peer of PEERS) {
    const instance = await createPeer(peer);
    const x = peer.sampleRate === 48000 ? x48 : x16;
    systems.push({ name: peer.name, pass: async () => runPeer(instance, x) });
  }
  const passes: Record<string, number[]> = {};
  for (let round = 0; round <= RTF_ROUNDS; round++) {
    for (const system of systems) {
      const t = performance.now();
      await system.pass();
      if (round > 0) (passes[system.name] ??= []).push((performance.now() - t) / 1000 / seconds); // round 0 warms up
    }
  }
  return Object.fromEntries(systems.map((system) => [system.name, percentile(passes[system.name], 0.5)]));
}

/** A click train at `rate`: 1 kHz bursts every half second. */
function clicks(rate: number, seconds = 3): Float32Array {
  const x = new Float32Array(seconds * rate);
  const burst = Math.round(rate / 333);
  for (let t = Math.round(rate / 4); t + burst < x.length; t += rate / 2) {
    for (let i = 0; i < burst; i++) x[t + i] = 0.5 * Math.sin((Math.PI * i) / burst) * Math.sin((2 * Math.PI * 1000 * i) / rate);
  }
  return x;
}

/**
 * Mic-to-speaker delay measured on the output, not quoted: the default model's engine as the
 * worklet runs it (its mask wait, resampling at 44.1/48 kHz) and each peer, on a click train.
 * Masks are all ones so that every click comes through whatever the model makes of it.
 */
export async function measuredDelays(cardPath: string) {
  const card = readCard(cardPath);
  const rows: { system: string; rate: number; reportedMs: number | null; measuredMs: number }[] = [];
  for (const rate of [16000, 44100, 48000]) {
    const engine = new FrameEngine(engineOptions(card, DEFAULT_MASK_LATENCY));
    const adapter = new StreamAdapter(engine, rate, card.sampleRate);
    const ones = new Float32Array(binCount(card)).fill(1);
    const x = clicks(rate);
    const y = new Float32Array(x.length);
    for (let i = 0; i + 128 <= x.length; i += 128)
      adapter.process(x.subarray(i, i + 128), y.subarray(i, i + 128), (f) => engine.setMask(f, ones));
    rows.push({
      system: `Quell ${card.name}`,
      rate,
      reportedMs: (1000 * adapter.delaySamples) / rate,
      measuredMs: (1000 * bestLag(x, y, Math.round(0.1 * rate))) / rate,
    });
  }
  for (const peer of PEERS) {
    const instance = await createPeer(peer);
    const x = clicks(peer.sampleRate);
    rows.push({
      system: peer.name,
      rate: peer.sampleRate,
      reportedMs: null,
      measuredMs: (1000 * bestLag(x, runPeer(instance, x), Math.round(0.1 * peer.sampleRate))) / peer.sampleRate,
    });
  }
  return rows;
}

export async function nodeMemory(cardPath: string) {
  const runner = await loadRunner(cardPath);
  const chunk = add(speechLike(10, 16000, 3, 0.1).samples, whiteNoise(160000, 0.01, 4));
  const snapshot = () => {
    global.gc?.();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, wasm: wasmBytes(), rss: m.rss };
  };
  await denoiseChannel(chunk, 16000, runner);
  const after10s = snapshot();
  for (let i = 0; i < 59; i++) await denoiseChannel(chunk, 16000, runner); // 10 minutes in all
  return { after10s, after10min: snapshot() };
}

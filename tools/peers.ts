/**
 * The peers, run offline in Node exactly as the browser runs them: the AudioWorklet processors
 * of @sapphi-red/web-noise-suppressor (GTCRN, RNNoise, Speex) with their wasm, driven one
 * 128-sample render quantum at a time. We provide the AudioWorkletGlobalScope globals they use
 * (AudioWorkletProcessor, registerProcessor, sampleRate). Also RNNoise with its 2024 weights
 * from @shiguredo/rnnoise-wasm, whose API takes 480-sample frames: a small queue feeds it
 * render quanta, as a worklet around it would. And DTLN (two LSTM stages, 16 kHz) from
 * @vonage/noise-suppression: its TFLite wasm build takes 10 ms frames of 16-bit samples.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Processor = { process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean; processor?: unknown };
type ProcessorClass = new (options: { processorOptions: Record<string, unknown> }) => Processor;

const registry = new Map<string, ProcessorClass>();
const g = globalThis as Record<string, unknown>;
g.AudioWorkletProcessor ??= class {
  port = { addEventListener() {}, removeEventListener() {}, postMessage() {}, start() {}, onmessage: null };
};
g.registerProcessor ??= (name: string, ctor: ProcessorClass) => registry.set(name, ctor);

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve('@sapphi-red/web-noise-suppressor')); // …/dist

export interface Peer {
  name: string;
  /** The rate the peer runs at (RNNoise is a 48 kHz model). */
  sampleRate: number;
  /** A web-noise-suppressor worklet processor, the shiguredo RNNoise build, or Vonage's DTLN. */
  kind?: 'worklet' | 'shiguredo-rnnoise' | 'vonage-dtln';
  wasm: string;
  module: string;
  processorName: string;
}

export const PEERS: Peer[] = [
  {
    name: 'GTCRN',
    sampleRate: 16000,
    wasm: 'gtcrn.wasm',
    module: 'gtcrn/workletProcessor.js',
    processorName: '@sapphi-red/web-noise-suppressor/gtcrn',
  },
  {
    name: 'RNNoise',
    sampleRate: 48000,
    wasm: 'rnnoise_simd.wasm',
    module: 'rnnoise/workletProcessor.js',
    processorName: '@sapphi-red/web-noise-suppressor/rnnoise',
  },
  {
    name: 'Speex',
    sampleRate: 16000,
    wasm: 'speex.wasm',
    module: 'speex/workletProcessor.js',
    processorName: '@sapphi-red/web-noise-suppressor/speex',
  },
  { name: 'RNNoise 2024', sampleRate: 48000, kind: 'shiguredo-rnnoise', wasm: '', module: '@shiguredo/rnnoise-wasm', processorName: '' },
  { name: 'DTLN', sampleRate: 16000, kind: 'vonage-dtln', wasm: 'main-bin-mono.wasm', module: 'main-bin-mono.js', processorName: '' },
];

/**
 * Render quanta in, render quanta out, around a denoiser that takes frames of `size` samples
 * (scaled to 16-bit range) and denoises each in place: a queue of input, a ring of output, as a
 * worklet around it would keep. The ring adds no delay beyond the frame's own.
 */
function framed(size: number, denoiseFrame: (frame: Float32Array) => void, processor: unknown): Processor {
  const frame = new Float32Array(size);
  const pending = new Float32Array(4 * size); // ring of denoised samples not yet played
  let read = 0;
  let count = 0;
  let filled = 0;
  return {
    processor,
    process(inputs, outputs) {
      const input = inputs[0][0];
      const output = outputs[0][0];
      for (let i = 0; i < input.length; i++) {
        frame[filled++] = input[i] * 32768;
        if (filled === size) {
          denoiseFrame(frame);
          for (let k = 0; k < size; k++) pending[(read + count++) % pending.length] = frame[k] / 32768;
          filled = 0;
        }
      }
      for (let i = 0; i < output.length; i++) {
        if (count === 0) output[i] = 0;
        else {
          output[i] = pending[read];
          read = (read + 1) % pending.length;
          count--;
        }
      }
      return true;
    },
  };
}

interface FrameDenoiser {
  readonly frameSize: number;
  createDenoiseState(): { processFrame(frame: Float32Array): number };
}

/** shiguredo's RNNoise (16-bit-scaled frames of 480) behind a render-quantum interface. */
async function shiguredoRnnoise(): Promise<Processor> {
  g.window ??= globalThis; // its emscripten glue was built for the web and checks for a window
  const { Rnnoise } = (await import('@shiguredo/rnnoise-wasm')) as unknown as { Rnnoise: { load(): Promise<FrameDenoiser> } };
  const rnnoise = await Rnnoise.load();
  const state = rnnoise.createDenoiseState();
  return framed(rnnoise.frameSize, (frame) => state.processFrame(frame), state);
}

interface DtlnTransformer {
  getModel1(bytes: number): Uint8Array;
  getModel2(bytes: number): Uint8Array;
  init(threads: number): Promise<number>;
  getInputFrame(samples: number): Int16Array;
  runAlgorithm(samples: number, sampleRate: number, channels: number): number;
  getOutputFrame(): Int16Array;
}

/**
 * DTLN as @vonage/noise-suppression runs it in its worker: the single-thread ("mono") wasm
 * build, its two TFLite models, 10 ms frames of 16-bit samples at 16 kHz. Its emscripten glue
 * is an ES module written for the web that reads `location.href` once; it is evaluated here
 * with a `location` of its own rather than given a global one. 10 ms in gives 10 ms out (after
 * the first frame, which it keeps), so the frame queue adds nothing to its own delay.
 */
async function vonageDtln(peer: Peer): Promise<Processor> {
  const dir = dirname(require.resolve('@vonage/noise-suppression')); // …/dist
  const glue = readFileSync(join(dir, peer.module), 'utf8').replace(/export default Module;\s*$/, 'return Module;');
  const factory = new Function('location', glue)({ href: pathToFileURL(dir).href + '/' }) as (
    options: Record<string, unknown>,
  ) => Promise<{ DtlnTransformer: new () => DtlnTransformer }>;
  const quiet = () => {};
  const wasm = await factory({ wasmBinary: readFileSync(join(dir, peer.wasm)), print: quiet, printErr: quiet });
  const dtln = new wasm.DtlnTransformer();
  for (const [i, load] of [
    [1, dtln.getModel1],
    [2, dtln.getModel2],
  ] as const) {
    const bytes = readFileSync(join(dir, `model_${i}.tflite`));
    load.call(dtln, bytes.length).set(bytes);
  }
  if ((await dtln.init(1)) !== 0) throw new Error('DTLN (@vonage/noise-suppression) did not initialise');
  const size = peer.sampleRate / 100;
  const samples = new Int16Array(size);
  return framed(
    size,
    (frame) => {
      for (let k = 0; k < size; k++) samples[k] = Math.max(-32767, Math.min(32767, Math.round(frame[k])));
      dtln.getInputFrame(size).set(samples);
      const n = dtln.runAlgorithm(size, peer.sampleRate, 1);
      const out = dtln.getOutputFrame();
      for (let k = 0; k < size; k++) frame[k] = k < n ? out[k] : 0;
    },
    dtln,
  );
}

// RNNoise's emscripten glue sees Node and reaches for CommonJS globals that ESM lacks.
g.__dirname ??= dist;
g.require ??= require;

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/** A ready processor instance for `peer`, created in a scope whose sampleRate is the peer's. */
export async function createPeer(peer: Peer): Promise<Processor> {
  // RNNoise's emscripten glue adds process-wide 'uncaughtException' and 'unhandledRejection'
  // handlers for every instance, each holding that instance (and its wasm memory) for good; the
  // eval makes hundreds. Node's own handling of both is what they reimplement: drop them.
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(process.listeners(event))]));
  try {
    return await createInstance(peer);
  } finally {
    for (const event of PROCESS_EVENTS)
      for (const listener of process.listeners(event)) if (!before.get(event)!.has(listener)) process.off(event, listener);
  }
}

async function createInstance(peer: Peer): Promise<Processor> {
  if (peer.kind === 'shiguredo-rnnoise') return shiguredoRnnoise();
  if (peer.kind === 'vonage-dtln') return vonageDtln(peer);
  g.sampleRate = peer.sampleRate;
  if (!registry.has(peer.processorName)) await import(join(dist, peer.module));
  const ctor = registry.get(peer.processorName)!;
  const bytes = readFileSync(join(dist, peer.wasm));
  const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const instance = new ctor({ processorOptions: { maxChannels: 1, wasmBinary } });
  for (let i = 0; i < 500 && !instance.processor; i++) await new Promise((r) => setTimeout(r, 10)); // async wasm init
  if (!instance.processor) throw new Error(`${peer.name} did not initialise`);
  return instance;
}

/** Run a whole signal (at the peer's rate) through the processor, quantum by quantum. */
export function runPeer(instance: Processor, x: Float32Array): Float32Array {
  const quantum = 128;
  const y = new Float32Array(Math.ceil(x.length / quantum) * quantum);
  const input = new Float32Array(quantum);
  const output = new Float32Array(quantum);
  for (let i = 0; i < x.length; i += quantum) {
    input.fill(0);
    input.set(x.subarray(i, Math.min(i + quantum, x.length)));
    instance.process([[input]], [[output]]);
    y.set(output, i);
  }
  return y.subarray(0, x.length);
}

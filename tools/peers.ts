/**
 * The peers, run offline in Node exactly as the browser runs them: the AudioWorklet processors
 * of @sapphi-red/web-noise-suppressor (GTCRN, RNNoise, Speex) with their wasm, driven one
 * 128-sample render quantum at a time. We provide the AudioWorkletGlobalScope globals they use
 * (AudioWorkletProcessor, registerProcessor, sampleRate). Also RNNoise with its 2024 weights
 * from @shiguredo/rnnoise-wasm, whose API takes 480-sample frames: a small queue feeds it
 * render quanta, as a worklet around it would.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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
  /** A web-noise-suppressor worklet processor, or the shiguredo RNNoise build. */
  kind?: 'worklet' | 'shiguredo-rnnoise';
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
];

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
  const size = rnnoise.frameSize;
  const frame = new Float32Array(size);
  const pending = new Float32Array(4 * size); // ring of denoised samples not yet played
  let read = 0;
  let count = 0;
  let filled = 0;
  return {
    processor: state,
    process(inputs, outputs) {
      const input = inputs[0][0];
      const output = outputs[0][0];
      for (let i = 0; i < input.length; i++) {
        frame[filled++] = input[i] * 32768;
        if (filled === size) {
          state.processFrame(frame);
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

// RNNoise's emscripten glue sees Node and reaches for CommonJS globals that ESM lacks.
g.__dirname ??= dist;
g.require ??= require;

/** A ready processor instance for `peer`, created in a scope whose sampleRate is the peer's. */
export async function createPeer(peer: Peer): Promise<Processor> {
  if (peer.kind === 'shiguredo-rnnoise') return shiguredoRnnoise();
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

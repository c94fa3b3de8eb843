/**
 * Every message between Quell's threads, typed once and imported by both ends of each seam, so
 * that a misspelt message is a compile error rather than silently ignored:
 * the page's QuellNode ↔ the AudioWorklet processor (and the options it is built with),
 * QuellNode ↔ the model worker, the processor ↔ the model worker (over a MessagePort where
 * there is no shared memory; the ring is frame-ring.ts), and the page ↔ the file worker.
 */
import type { FrameRingBuffers } from './frame-ring';

/** The STFT a model was trained on, as its card states it, and the model's sample rate. */
export interface ProcessorFraming {
  fftSize: number;
  hopSize: number;
  modelSampleRate: number;
  window: string;
  synthesisSize?: number;
}

export interface ProcessorOptions extends ProcessorFraming {
  /** Hops the output waits for a frame's mask. */
  maskLatency: number;
  /** The shared-memory ring to the model worker; absent: masks come over a MessagePort. */
  ring?: FrameRingBuffers;
}

/** Node → processor. */
export type ToProcessor =
  | { type: 'enabled'; value: boolean }
  | { type: 'max-attenuation'; value: number }
  | { type: 'model-ready'; value: boolean }
  | { type: 'framing'; framing: ProcessorFraming }
  | { type: 'worker-port'; port: MessagePort }
  | { type: 'inject-nan'; count: number } // failure drill
  | { type: 'throw' }; // failure drill

export interface ProcessorStats {
  /** Mic-to-speaker delay of the engine now (algorithmic + mask wait + resampling), in seconds. */
  delaySeconds: number;
  frames: number;
  /** True while masks have stopped coming and the engine bypasses on its own. */
  starved: boolean;
  /** Masks that missed their frame: the previous mask was used instead. */
  lateMasks: number;
  /** Masks that came one hop late and corrected the part of their frame still to play. */
  correctedMasks: number;
  /** Render quanta in which the output ran dry (an audible dropout). */
  underruns: number;
  badSamples: number;
  peakIn: number;
  peakOut: number;
  /** The gain mask applied to the last frame: the model's, floored by the strength setting (computed in bypass too, not heard). */
  mask: Float32Array | null;
}

/** Processor → node. */
export type FromProcessor =
  | { type: 'delay'; samples: number; sampleRate: number; transport: 'shared-memory' | 'message-port' }
  | ({ type: 'stats' } & ProcessorStats);

/** Node → model worker. */
export type ToModelWorker =
  | { type: 'load'; cardUrl: string; wasmPaths?: string }
  | { type: 'connect'; port?: MessagePort; ring?: FrameRingBuffers }
  /** Send back the magnitudes of the last frames stepped (`history`), oldest first. */
  | { type: 'history' }
  /** Step the model over these frames (magnitudes, one frame after another) to warm its state, then say `warmed`. */
  | { type: 'warm'; frames: Float32Array };

/** The model worker's own figures, about ten times a second. */
export interface ModelWorkerStats {
  /** Last frame answered, and steps since the model loaded. */
  frame: number;
  steps: number;
  /** Over the last few seconds of steps. */
  stepMedianMs: number;
  stepP99Ms: number;
  /** Steps whose input or output was not finite (state reset, mask bypassed). */
  recoveries: number;
  /** Every step since the model loaded, from a histogram. */
  allSteps: {
    steps: number;
    p50Ms: number;
    p99Ms: number;
    p999Ms: number;
    maxMs: number;
    over1Ms: number;
    over2Ms: number;
    framesBehind: number[];
  };
}

/** Model worker → node. */
export type FromModelWorker =
  | { type: 'loading'; phase: string }
  | { type: 'ready'; card: import('./model/card').ModelCard }
  | ({ type: 'stats' } & ModelWorkerStats)
  | { type: 'history'; frames: Float32Array }
  | { type: 'warmed' }
  | { type: 'error'; message: string };

/** Processor → model worker, over the MessagePort transport: one frame's magnitudes. */
export interface FrameMessage {
  frame: number;
  magnitudes: Float32Array;
}

/** Model worker → processor, over the MessagePort transport: that frame's mask. */
export interface MaskMessage {
  frame: number;
  mask: Float32Array;
}

/** Page → file worker: a file to denoise, as a WAV file the worker reads itself, or as decoded channels. */
export type ToFileWorker = { cardUrl: string; maxAttenuationDb?: number } & (
  { file: File } | { channels: Float32Array[]; sampleRate: number }
);

/** File worker → page. */
export type FromFileWorker =
  | { type: 'progress'; fraction: number }
  | { type: 'done'; wav: Blob; seconds: number; processingSeconds: number }
  | { type: 'error'; message: string };

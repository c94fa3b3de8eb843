/**
 * What the page's QuellNode and the AudioWorklet processor say to each other: the options the
 * processor is built with and every message each way, typed once and imported by both sides,
 * so that a misspelt message is a compile error rather than silently ignored.
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
}

/** Processor → node. */
export type FromProcessor =
  | { type: 'delay'; samples: number; sampleRate: number; transport: 'shared-memory' | 'message-port' }
  | ({ type: 'stats' } & ProcessorStats);

/**
 * Quell as a library (for Vite-built pages: the worklet and workers are bundled by Vite).
 * Live: createDenoiser(context, options) → an AudioWorkletNode with setEnabled / setStrength /
 * setModel and 'stats' / 'error' / 'model' events. Offline: denoiseChannels with a ModelRunner.
 */
export { createDenoiser, QuellNode, DEFAULT_MASK_LATENCY, type DenoiserOptions, type DenoiserStats } from './engine/denoiser';
export { parseModelCard, type ModelCard, type StateSpec } from './engine/card';
export { ModelRunner } from './engine/model-runner';
export { denoiseChannel, denoiseChannels, resampleAligned, type OfflineOptions } from './engine/offline';
export { decodeWav, encodeWav, type DecodedWav } from './engine/wav';
export { FrameEngine, type FrameEngineOptions } from './dsp/frame-engine';

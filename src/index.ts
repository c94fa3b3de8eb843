/**
 * Quell's public face: everything a page (the app in src/app included) uses.
 * Live: createDenoiser(context, options) → an AudioWorkletNode with setEnabled / setStrength /
 * setModel and 'stats' / 'error' / 'model' events. Files: denoiseFileInWorker, or in the calling
 * thread denoiseChannels with a ModelRunner. Models: model cards and the index that lists them.
 */
export {
  createDenoiser,
  preloadModel,
  defaultModelUrl,
  QuellNode,
  DEFAULT_MASK_LATENCY,
  type DenoiserOptions,
  type DenoiserStats,
} from './engine/denoiser';
export { denoiseFileInWorker, type DenoisedFile, type FileJob } from './engine/file-denoiser';
export { fetchCard, fetchModelIndex } from './engine/load-web';
export { parseModelCard, binCount, type ModelCard, type StateSpec } from './engine/card';
export { ModelRunner } from './engine/model-runner';
export { denoiseChannel, denoiseChannels, resampleAligned, type OfflineOptions } from './engine/offline';
export { decodeWav, encodeWav, type DecodedWav } from './engine/wav';
export { FrameEngine, type FrameEngineOptions } from './dsp/frame-engine';

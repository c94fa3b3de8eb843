/**
 * Quell's public face: everything a page (the app in src/app included) uses.
 * Live: createDenoiser(context, options) → an AudioWorkletNode with setEnabled / setStrength /
 * setModel and 'stats' / 'error' / 'model' events. Files: denoiseFileInWorker, or in the calling
 * thread denoiseChannels with a ModelRunner. Models: model cards and the index that lists them.
 */
export {
  createDenoiser,
  defaultModelUrl,
  QuellNode,
  DEFAULT_MASK_LATENCY,
  type DenoiserOptions,
  type DenoiserStats,
} from './live/denoiser';
export { preloadModel } from './live/model-worker-host';
export { denoiseFileInWorker, type DenoisedFile, type FileJob } from './offline/file-denoiser';
export { fetchCard, fetchModelIndex } from './model/load-web';
export { parseModelCard, binCount, stateValues, type ModelCard, type StatePart } from './model/card';
export { ModelRunner } from './model/model-runner';
export { denoiseChannel, denoiseChannels, resampleAligned, type OfflineOptions } from './offline/offline';
export { decodeWav, encodeWav, type DecodedWav } from './io/wav';
export { FrameEngine, type FrameEngineOptions } from './dsp/frame-engine';

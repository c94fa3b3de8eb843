/**
 * File mode off the main thread: a file (WAV read piece by piece in the worker) or decoded
 * channels go to the file worker, which runs the same engine as the live path and returns a WAV.
 */
import type { FromFileWorker, ToFileWorker } from '../protocol';

export type FileJob = ToFileWorker;

export interface DenoisedFile {
  wav: Blob;
  /** Length of the audio, and the time the worker took, in seconds. */
  seconds: number;
  processingSeconds: number;
}

/** Start denoising `job`; `onProgress` gets the fraction done. `cancel()` stops the worker and rejects `result`. */
export function denoiseFileInWorker(
  job: FileJob,
  onProgress: (fraction: number) => void = () => undefined,
): { result: Promise<DenoisedFile>; cancel: () => void } {
  const worker = new Worker(new URL('./file-worker.ts', import.meta.url), { type: 'module', name: 'quell-file' });
  let cancel = () => undefined as void;
  const result = new Promise<DenoisedFile>((resolve, reject) => {
    cancel = () => {
      worker.terminate();
      reject(new Error('cancelled'));
    };
    worker.onmessage = (e: MessageEvent<FromFileWorker>) => {
      if (e.data.type === 'progress') onProgress(e.data.fraction);
      else if (e.data.type === 'done') resolve(e.data);
      else reject(new Error(e.data.message));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`the file worker crashed: ${e.message || 'unknown error'}`));
    };
    worker.postMessage(job);
  }).finally(() => worker.terminate());
  return { result, cancel: () => cancel() };
}

/**
 * The model worker's host side: start a worker and load a model in it (reporting its loading
 * phases), ask it a question and wait for the answer, and keep one preloaded before Start.
 */
import type { FromModelWorker, ToModelWorker } from '../protocol';

export interface LoadingWorker {
  url: string;
  worker: Worker;
  /** What the worker is doing now, until it is ready. */
  phase: string;
  onPhase?: (phase: string) => void;
  /** Resolves once the model is loaded and warmed up in the worker. */
  ready: Promise<void>;
}

/** Start a model worker and load `modelUrl` in it (fetch, compile the wasm, warm up). */
export function loadModelWorker(modelUrl: string): LoadingWorker {
  const worker = new Worker(new URL('./model-worker.ts', import.meta.url), { type: 'module', name: 'quell-model' });
  const loading: LoadingWorker = { url: modelUrl, worker, phase: 'starting', ready: Promise.resolve() };
  loading.ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FromModelWorker>) => {
      if (e.data.type === 'loading') {
        loading.phase = e.data.phase;
        loading.onPhase?.(e.data.phase);
      } else if (e.data.type === 'ready') resolve();
      else if (e.data.type === 'error') reject(new Error(e.data.message));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`model worker crashed: ${e.message || 'unknown error'}`));
    };
  });
  loading.ready.catch(() => undefined); // observed by whoever takes it
  toModelWorker(worker, { type: 'load', cardUrl: modelUrl });
  return loading;
}

export function toModelWorker(worker: Worker, message: ToModelWorker, transfer: Transferable[] = []): void {
  worker.postMessage(message, transfer);
}

/** Send `message` and wait for the worker's answer of type `answer`; null if none comes within a second. */
export function askModelWorker<T extends FromModelWorker['type']>(
  worker: Worker,
  message: ToModelWorker,
  answer: T,
): Promise<Extract<FromModelWorker, { type: T }> | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 1000);
    const listener = (e: MessageEvent<FromModelWorker>) => {
      if (e.data.type === answer) done(e.data as Extract<FromModelWorker, { type: T }>);
    };
    const done = (value: Extract<FromModelWorker, { type: T }> | null) => {
      clearTimeout(timer);
      worker.removeEventListener('message', listener);
      resolve(value);
    };
    worker.addEventListener('message', listener);
    toModelWorker(worker, message);
  });
}

let preloaded: LoadingWorker | null = null;

/**
 * Load a model in a worker before any AudioContext exists (on page load), so that pressing
 * Start only has to open the microphone: the first processed audio comes sooner. Resolves when
 * it is loaded; rejects with the reason it cannot be, so a page can say so before Start.
 */
export function preloadModel(modelUrl: string, onPhase?: (phase: string) => void): Promise<void> {
  const url = new URL(modelUrl, location.href).href;
  if (preloaded?.url !== url) {
    preloaded?.worker.terminate();
    preloaded = loadModelWorker(url);
  }
  if (onPhase) {
    preloaded.onPhase = onPhase;
    onPhase(preloaded.phase);
  }
  return preloaded.ready;
}

export function takePreloaded(modelUrl: string): LoadingWorker | null {
  const url = new URL(modelUrl, location.href).href;
  if (preloaded?.url !== url) return null;
  const taken = preloaded;
  preloaded = null;
  return taken;
}

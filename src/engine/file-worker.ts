/** Denoises a whole file off the main thread with the same engine as the live path. */
import * as ort from 'onnxruntime-web/wasm';
import { loadRunnerFromUrl } from './load-web';
import { denoiseChannels } from './offline';

ort.env.wasm.numThreads = 1;

const scope = self as unknown as { postMessage(m: unknown, t?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null };

scope.onmessage = async (e: MessageEvent<{ cardUrl: string; channels: Float32Array[]; sampleRate: number; maxAttenuationDb?: number }>) => {
  const { cardUrl, channels, sampleRate, maxAttenuationDb } = e.data;
  try {
    const runner = await loadRunnerFromUrl(ort, cardUrl);
    const started = performance.now();
    const out = await denoiseChannels(channels, sampleRate, runner, {
      maxAttenuationDb,
      onProgress: (fraction) => scope.postMessage({ type: 'progress', fraction }),
    });
    const seconds = (performance.now() - started) / 1000;
    scope.postMessage({ type: 'done', channels: out, sampleRate, processingSeconds: seconds }, out.map((c) => c.buffer));
  } catch (err) {
    scope.postMessage({ type: 'error', message: (err as Error).message });
  }
};

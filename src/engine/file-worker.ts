/** Denoises a whole file off the main thread with the same engine as the live path. */
import * as ort from 'onnxruntime-web/wasm';
import { parseModelCard } from './card';
import { ModelRunner } from './model-runner';
import { denoiseChannels } from './offline';

ort.env.wasm.numThreads = 1;

const scope = self as unknown as { postMessage(m: unknown, t?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null };

scope.onmessage = async (e: MessageEvent<{ cardUrl: string; channels: Float32Array[]; sampleRate: number; maxAttenuationDb?: number }>) => {
  const { cardUrl, channels, sampleRate, maxAttenuationDb } = e.data;
  try {
    const cardResponse = await fetch(cardUrl);
    if (!cardResponse.ok) throw new Error(`model card ${cardUrl} could not be fetched: HTTP ${cardResponse.status}`);
    const card = parseModelCard(await cardResponse.json(), cardUrl);
    const modelUrl = new URL(card.file, new URL(cardUrl, self.location.href)).href;
    const modelResponse = await fetch(modelUrl);
    if (!modelResponse.ok) throw new Error(`model file ${modelUrl} could not be fetched: HTTP ${modelResponse.status}`);
    const runner = await ModelRunner.create(ort, new Uint8Array(await modelResponse.arrayBuffer()), card, modelUrl);
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

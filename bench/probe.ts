/**
 * Benchmark probe, opened by `npm run bench` in headless Chromium (not part of the app).
 * Measures in the browser what the app's worklet and worker do per frame:
 *  - the DSP of one hop (STFT, mask, inverse FFT, overlap-add): the worklet's FrameEngine;
 *  - one frame's round trip to the app's model worker over the shared-memory ring, paced at
 *    one frame per hop as in real time, and the model step the worker timed meanwhile, so
 *    that messaging = round trip − step.
 * The page's main thread stands in for the audio thread (a worklet cannot time itself:
 * AudioWorkletGlobalScope has no performance.now()).
 */
import { FrameEngine } from '../src/dsp/frame-engine';
import { binCount, engineOptions } from '../src/model/card';
import { defaultModelUrl } from '../src/live/denoiser';
import { fetchCard } from '../src/model/load-web';
import { createFrameRing, FrameRing } from '../src/frame-ring';

const percentiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p99: s[Math.floor(s.length * 0.99)] };
};

async function dspPerHop(engine: FrameEngine, hopSize: number, bins: number) {
  const hop = new Float32Array(hopSize);
  const out = new Float32Array(hopSize);
  const mask = new Float32Array(bins).fill(0.5);
  const times: number[] = [];
  for (let i = 0; i < 4000; i++) {
    for (let n = 0; n < hopSize; n++) hop[n] = Math.sin(0.05 * (i * hopSize + n)) * 0.1 + (Math.random() - 0.5) * 0.01;
    const t0 = performance.now();
    await engine.processHop(hop, out, () => mask);
    if (i >= 500) times.push(performance.now() - t0); // after warm-up
  }
  return percentiles(times);
}

async function roundTrips(cardUrl: string, bins: number, hopMs: number) {
  const worker = new Worker(new URL('../src/live/model-worker.ts', import.meta.url), { type: 'module', name: 'quell-model' });
  const messages: MessageEvent[] = [];
  await new Promise<void>((resolve, reject) => {
    worker.onmessage = (e) => {
      if (e.data.type === 'ready') resolve();
      else if (e.data.type === 'error') reject(new Error(e.data.message));
      else messages.push(e);
    };
    worker.postMessage({ type: 'load', cardUrl });
  });
  const buffers = createFrameRing(bins);
  const ring = new FrameRing(buffers, bins);
  worker.postMessage({ type: 'connect', ring: buffers });
  const times: number[] = [];
  const magnitudes = new Float32Array(bins);
  for (let frame = 0; frame < 1500; frame++) {
    await new Promise((r) => setTimeout(r, hopMs)); // one frame per hop, as the audio arrives
    magnitudes.fill(0.01 * (frame % 7));
    const t0 = performance.now();
    ring.writeFrame(frame, magnitudes);
    // Spin until the mask is there (the worker does not notify: the worklet never waits, it
    // looks at the ring once per render quantum).
    while (ring.masksWritten < frame + 1) {
      if (performance.now() - t0 > 1000) throw new Error(`no mask for frame ${frame} after 1 s`);
    }
    if (frame >= 100) times.push(performance.now() - t0);
  }
  await new Promise((r) => setTimeout(r, 150)); // the worker's next stats message
  const stats = messages
    .map((m) => m.data)
    .filter((d) => d.type === 'stats')
    .pop();
  worker.terminate();
  return { roundTrip: percentiles(times), step: { median: stats.allSteps.p50Ms, p99: stats.allSteps.p99Ms } };
}

export type ProbeResult = Awaited<ReturnType<typeof probe>> & { error?: string };

async function probe() {
  const cardUrl = await defaultModelUrl();
  const card = await fetchCard(cardUrl);
  const bins = binCount(card);
  const engine = new FrameEngine(engineOptions(card, 0));
  const dsp = await dspPerHop(engine, card.hopSize, bins);
  const trips = await roundTrips(cardUrl, bins, (1000 * card.hopSize) / card.sampleRate);
  return { model: card.name, dsp, ...trips, isolated: crossOriginIsolated };
}

(window as unknown as { __probe: Promise<unknown> }).__probe = probe().catch((e) => ({ error: (e as Error).message }));

/**
 * The model worker: a thin shell around ModelRunner. It loads the card and the ONNX model,
 * then answers every frame from the worklet with a mask, carrying the recurrent state from
 * frame to frame. Frames arrive on a SharedArrayBuffer ring (cross-origin isolated pages) or
 * on a MessagePort straight from the worklet. Step times and the latest mask go to the page.
 */
import * as ort from 'onnxruntime-web/wasm';
import { binCount, type ModelCard } from '../model/card';
import { FrameRing, RING_SLOTS } from '../frame-ring';
import { loadRunnerFromUrl } from '../model/load-web';
import type { ModelRunner } from '../model/model-runner';
import type { FrameMessage, FromModelWorker, MaskMessage, ToModelWorker } from '../protocol';

ort.env.wasm.numThreads = 1; // one step is tiny: threads would cost more than they save
ort.env.wasm.proxy = false;

const scope = self as unknown as { postMessage(m: FromModelWorker): void; onmessage: ((e: MessageEvent<ToModelWorker>) => void) | null };
let runner: ModelRunner | null = null;
let card: ModelCard | null = null;
let mask = new Float32Array(0); // sized from the card at load
let ring: FrameRing | null = null;
/**
 * The magnitudes of the last frames stepped, so that a model switched in can be warmed on the
 * audio of the moment instead of starting cold (a recurrent model takes seconds to settle).
 */
const HISTORY_SECONDS = 1.5;
/** Steps run at load, before any frame: enough for the wasm engine to have optimised the step. */
const WARM_UP_STEPS = 500;
let history = new Float32Array(0);
let historyFrames = 0;
let historyNext = 0;
let historyCount = 0;
const stepTimes = new Float64Array(512); // the last 512 steps, for the live figures
let steps = 0;
let lastReport = 0;
// Every step since load, for long runs (the benchmark's soak): a histogram in 0.05 ms bins.
const HISTOGRAM_BIN_MS = 0.05;
const stepHistogram = new Uint32Array(400); // 0–20 ms; the last bin holds everything slower
let stepMaxMs = 0;
// Ring mode: how many newer frames the worklet had already written when each mask was
// written. With an L-hop mask wait, fewer than L is on time, L is one hop late (the rest of
// the frame is corrected), more is late.
const framesBehind = new Uint32Array(8);

async function load(cardUrl: string, wasmPaths?: string): Promise<void> {
  if (wasmPaths) ort.env.wasm.wasmPaths = wasmPaths;
  const loaded = await loadRunnerFromUrl(ort, cardUrl, (phase) => scope.postMessage({ type: 'loading', phase }));
  mask = new Float32Array(binCount(loaded.card));
  // The first runs compile and size ORT's kernels (milliseconds each), and the engine compiles
  // the hot wasm optimised only after some hundreds of runs: do them all now, not on the first
  // frames of the stream, which would then miss their deadline and let the noise through.
  scope.postMessage({ type: 'loading', phase: 'warming up' });
  const quiet = new Float32Array(mask.length).fill(1e-4); // not zeros: those are not stepped
  for (let i = 0; i < WARM_UP_STEPS; i++) await loaded.step(quiet, mask);
  loaded.reset();
  runner = loaded;
  card = loaded.card;
  historyFrames = Math.ceil((HISTORY_SECONDS * card.sampleRate) / card.hopSize);
  history = new Float32Array(historyFrames * mask.length);
  historyNext = historyCount = 0;
  steps = 0;
  stepHistogram.fill(0);
  framesBehind.fill(0);
  stepMaxMs = 0;
}

async function step(frame: number, magnitudes: Float32Array): Promise<void> {
  history.set(magnitudes, historyNext * mask.length);
  historyNext = (historyNext + 1) % historyFrames;
  historyCount = Math.min(historyCount + 1, historyFrames);
  const t0 = performance.now();
  await runner!.step(magnitudes, mask);
  const took = performance.now() - t0;
  stepTimes[steps++ % stepTimes.length] = took;
  stepHistogram[Math.min(stepHistogram.length - 1, Math.floor(took / HISTOGRAM_BIN_MS))]++;
  if (took > stepMaxMs) stepMaxMs = took;
  report(frame);
}

/** The step time below which a fraction `p` of all steps since load fell (upper bin edge). */
function histogramPercentile(p: number): number {
  if (steps === 0) return 0;
  const target = p * steps;
  let seen = 0;
  for (let i = 0; i < stepHistogram.length; i++) {
    seen += stepHistogram[i];
    if (seen >= target) return (i + 1) * HISTOGRAM_BIN_MS;
  }
  return stepMaxMs;
}

/** How many steps since load took `ms` or longer. */
function stepsOver(ms: number): number {
  let n = 0;
  for (let i = Math.round(ms / HISTOGRAM_BIN_MS); i < stepHistogram.length; i++) n += stepHistogram[i];
  return n;
}

function report(frame: number): void {
  const now = performance.now();
  if (now - lastReport < 100) return;
  lastReport = now;
  const n = Math.min(steps, stepTimes.length);
  const sorted = Array.from(stepTimes.subarray(0, n)).sort((a, b) => a - b);
  scope.postMessage({
    type: 'stats',
    frame,
    steps,
    stepMedianMs: sorted[Math.floor(n / 2)] ?? 0,
    stepP99Ms: sorted[Math.min(n - 1, Math.floor(n * 0.99))] ?? 0,
    recoveries: runner?.recoveries ?? 0,
    allSteps: {
      steps,
      p50Ms: histogramPercentile(0.5),
      p99Ms: histogramPercentile(0.99),
      p999Ms: histogramPercentile(0.999),
      maxMs: stepMaxMs,
      over1Ms: stepsOver(1),
      over2Ms: stepsOver(2),
      framesBehind: Array.from(framesBehind),
    },
  });
}

/** Ring mode: wait for frames with Atomics.waitAsync and answer each in order. */
async function serveRing(r: FrameRing): Promise<void> {
  let next = r.framesWritten;
  const magnitudes = new Float32Array(mask.length);
  while (ring === r) {
    const written = r.framesWritten;
    if (next >= written) {
      await r.waitForFrames(written);
      continue;
    }
    if (written - next >= RING_SLOTS) next = written - 1; // fell behind: those masks are late anyway
    r.readFrame(next, magnitudes);
    if (runner) {
      await step(next, magnitudes);
      r.writeMask(next, mask);
      framesBehind[Math.max(0, Math.min(framesBehind.length - 1, r.framesWritten - 1 - next))]++;
    }
    next++;
  }
}

/** A failed step stops this worker's answers: the node hears why at once (not from its watchdog) and restarts it. */
function reportStepError(err: unknown): void {
  runner = null;
  scope.postMessage({ type: 'error', message: `a model step failed: ${(err as Error)?.message ?? err}` });
}

scope.onmessage = async (e: MessageEvent<ToModelWorker>) => {
  const msg = e.data;
  try {
    if (msg.type === 'load') {
      await load(msg.cardUrl, msg.wasmPaths);
      scope.postMessage({ type: 'ready', card: card! });
    } else if (msg.type === 'history') {
      const bins = mask.length;
      const frames = new Float32Array(historyCount * bins);
      for (let i = 0; i < historyCount; i++) {
        const slot = (historyNext - historyCount + i + historyFrames) % historyFrames;
        frames.set(history.subarray(slot * bins, (slot + 1) * bins), i * bins);
      }
      scope.postMessage({ type: 'history', frames });
    } else if (msg.type === 'warm') {
      const bins = mask.length;
      for (let at = 0; at + bins <= msg.frames.length; at += bins) await runner!.step(msg.frames.subarray(at, at + bins), mask);
      scope.postMessage({ type: 'warmed' });
    } else if (msg.type === 'connect') {
      if (!card) throw new Error('connect came before a model was loaded');
      if (msg.ring) {
        const previous = ring;
        ring = new FrameRing(msg.ring, binCount(card));
        previous?.wake(); // its loop wakes, sees it is replaced, ends
        serveRing(ring).catch(reportStepError);
      } else if (msg.port) {
        const answer = msg.port;
        // Steps must not overlap (the state is carried), so frames are answered strictly in order.
        let queue = Promise.resolve();
        answer.onmessage = (m: MessageEvent<FrameMessage>) => {
          queue = queue
            .then(async () => {
              if (!runner) return;
              await step(m.data.frame, m.data.magnitudes);
              const out = mask.slice();
              answer.postMessage({ frame: m.data.frame, mask: out } satisfies MaskMessage, [out.buffer]);
            })
            .catch(reportStepError);
        };
      }
    }
  } catch (err) {
    scope.postMessage({ type: 'error', message: (err as Error).message });
  }
};

/**
 * Quell as a Web Audio node:
 *
 *   const node = await createDenoiser(context, { modelUrl: '/models/quell-gru.json' });
 *   context.createMediaStreamSource(stream).connect(node).connect(context.destination);
 *   node.setEnabled(false); node.setStrength(30); node.addEventListener('stats', …);
 *
 * The node is the AudioWorkletNode itself; it owns the model worker, wires the two together
 * (SharedArrayBuffer ring when cross-origin isolated, else a MessagePort), and restarts the
 * worker if it dies, passing audio through unprocessed meanwhile.
 */
import workletUrl from '../../worklets/quell-processor.ts?worker&url';
import type {
  FromModelWorker,
  FromProcessor,
  ModelWorkerStats,
  ProcessorFraming,
  ProcessorOptions,
  ProcessorStats,
  ToProcessor,
} from '../protocol';
import { framingWindows, synthesisSizeOf } from '../dsp/window';
import { binCount, DEFAULT_MASK_LATENCY, type ModelCard } from '../model/card';
import { fetchCard, fetchModelIndex } from '../model/load-web';
import { createFrameRing, type FrameRingBuffers } from '../frame-ring';
import { askModelWorker, loadModelWorker, takePreloaded, toModelWorker } from './model-worker-host';

export interface DenoiserOptions {
  /** URL of a model card (JSON); default: the default of models/index.json (the app's, or the package's own). */
  modelUrl?: string;
  /** Hops the output waits for a mask (latency budget); default 2. */
  maskLatency?: number;
  /** Maximum attenuation in dB (suppression strength); default: no limit. */
  maxAttenuationDb?: number;
  enabled?: boolean;
}

/** What the processor reports (protocol.ts), and the model worker's figures. */
export interface DenoiserStats extends ProcessorStats {
  stepMedianMs: number;
  stepP99Ms: number;
  workerRestarts: number;
  /** Every step since the model loaded (for long runs): percentiles, and how far behind the worker was. */
  allSteps?: ModelWorkerStats['allSteps'];
}

export { DEFAULT_MASK_LATENCY };

/** More hops than this is not a latency anyone wants, and would make the worklet's buffers huge. */
export const MAX_MASK_LATENCY = 8;

/**
 * The default model: in the app, its build's models/index.json; in the package (npm pack), the
 * one in models/ beside the package's module, wherever the embedding page serves it from.
 */
export async function defaultModelUrl(base = modelsBase()): Promise<string> {
  return (await fetchModelIndex(base)).defaultCard;
}

function modelsBase(): string {
  return import.meta.env?.MODE === 'package' ? new URL(/* @vite-ignore */ './', import.meta.url).href : (import.meta.env?.BASE_URL ?? '/');
}

const loadedContexts = new WeakSet<BaseAudioContext>();

/** RMS of a card's analysis window: what its magnitudes of a noise-like signal scale with. */
function windowGain(card: ModelCard): number {
  const { analysis } = framingWindows(card);
  return Math.sqrt(analysis.reduce((sum, w) => sum + w * w, 0) / analysis.length);
}

export class QuellNode extends AudioWorkletNode {
  card: ModelCard;
  modelUrl: string;
  readonly maskLatency: number;
  /** Mic-to-speaker delay of the engine (algorithmic + mask wait + resampling), in seconds. */
  delaySeconds = 0;
  transport = '';
  /** Null while a model runs; else why audio is passing through unprocessed. */
  failure: string | null = 'loading model';
  readonly stats: DenoiserStats = {
    delaySeconds: 0,
    frames: 0,
    starved: false,
    lateMasks: 0,
    correctedMasks: 0,
    underruns: 0,
    badSamples: 0,
    peakIn: 0,
    peakOut: 0,
    stepMedianMs: 0,
    stepP99Ms: 0,
    workerRestarts: 0,
    mask: null,
  };
  private worker: Worker | null = null;
  private ring: FrameRingBuffers | null = null;
  private enabled = true;
  private disposed = false;
  private processorFailed = false;
  private lastWorkerBeat = 0;
  private watchdog: ReturnType<typeof setInterval>;
  private lastFrames = 0;

  constructor(context: BaseAudioContext, card: ModelCard, modelUrl: string, options: DenoiserOptions) {
    const maskLatency = options.maskLatency ?? DEFAULT_MASK_LATENCY;
    if (!Number.isInteger(maskLatency) || maskLatency < 0 || maskLatency > MAX_MASK_LATENCY) {
      throw new Error(`maskLatency must be a whole number of hops from 0 to ${MAX_MASK_LATENCY}, got ${maskLatency}`);
    }
    const isolated = typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated === true;
    const ring = isolated ? createFrameRing(binCount(card)) : null;
    super(context, 'quell-processor', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      processorOptions: { ...processorFraming(card), maskLatency, ring: ring ?? undefined } satisfies ProcessorOptions,
    });
    this.card = card;
    this.modelUrl = modelUrl;
    this.maskLatency = maskLatency;
    this.ring = ring;
    this.port.onmessage = (e) => this.onWorkletMessage(e.data);
    // The processor threw: it outputs silence from now on. Whoever routes the audio must go
    // around this node (Session does), so the microphone is never muted by a failure. Chromium
    // reports it as an event with no detail (ours always carry one), on 'processorerror' or 'error'.
    const onProcessorError = (e: Event) => {
      if ((e as CustomEvent).detail !== undefined && (e as CustomEvent).detail !== null) return;
      if (this.processorFailed) return;
      this.processorFailed = true;
      this.failure = 'the audio engine stopped with an error; audio now bypasses it';
      this.dispatchEvent(new CustomEvent('error', { detail: { message: this.failure, recovering: false, fatal: true } }));
    };
    this.addEventListener('processorerror', onProcessorError);
    this.addEventListener('error', onProcessorError);
    if (options.maxAttenuationDb !== undefined) this.setStrength(options.maxAttenuationDb);
    if (options.enabled === false) this.setEnabled(false);
    this.watchdog = setInterval(() => this.checkWorker(), 250);
  }

  private send(msg: ToProcessor, transfer: Transferable[] = []): void {
    this.port.postMessage(msg, transfer);
  }

  /** Processing on or off; crossfaded, and the model keeps running so switching on is instant. */
  setEnabled(on: boolean): void {
    this.enabled = on;
    this.send({ type: 'enabled', value: on });
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Suppression strength: the most the model may attenuate, in dB (Infinity = no limit). */
  setStrength(maxAttenuationDb: number): void {
    this.send({ type: 'max-attenuation', value: maxAttenuationDb });
  }

  /**
   * Switch to another model card live: bypass while it loads, state starts from zero. A model
   * trained on another framing (window, hop, synthesis span) gets a new engine in the worklet,
   * crossfaded in, and the delay changes with it ('delay' in the stats).
   */
  async setModel(modelUrl: string): Promise<void> {
    const card = await fetchCard(modelUrl);
    if (card.fftSize !== this.card.fftSize) {
      throw new Error(
        `model ${card.name} has ${binCount(card)} bins where the running one has ${binCount(this.card)}; create a new denoiser for it`,
      );
    }
    // The running model goes on denoising while the new one loads (a failure leaves it running),
    // and the new one is warmed on the last second and a half of audio before it takes over:
    // a recurrent model starting cold lets noise through for seconds.
    const next = takePreloaded(modelUrl) ?? loadModelWorker(modelUrl);
    try {
      await next.ready;
    } catch (e) {
      next.worker.terminate();
      throw e;
    }
    const old = this.worker;
    if (old && !this.failure) {
      const history = await askModelWorker(old, { type: 'history' }, 'history');
      if (history) {
        const frames = history.frames;
        // Magnitudes of another analysis window differ by its gain: bring them to the new one's.
        const gain = windowGain(card) / windowGain(this.card);
        if (gain !== 1) for (let i = 0; i < frames.length; i++) frames[i] *= gain;
        await askModelWorker(next.worker, { type: 'warm', frames }, 'warmed');
      }
    }
    const framing = (c: ModelCard) => [c.window, c.hopSize, synthesisSizeOf(c), c.sampleRate].join();
    if (framing(card) !== framing(this.card)) this.send({ type: 'framing', framing: processorFraming(card) });
    this.card = card;
    this.modelUrl = modelUrl;
    old?.terminate(); // before the new one connects: only one worker may answer the ring
    this.worker = next.worker;
    this.adoptWorker(next.worker);
  }

  /** For tests and the failure drill: kill the model worker as a crash would. */
  crashWorkerForTest(): void {
    this.worker?.terminate();
  }

  /** For the failure drill: the processor throws, as a bug in it would. */
  breakProcessorForTest(): void {
    this.send({ type: 'throw' });
  }

  /** For the failure drill: the next `count` input samples become NaN. */
  injectNaNForTest(count: number): void {
    this.send({ type: 'inject-nan', count });
  }

  /** Stop the worker and disconnect; the node cannot be used again. */
  dispose(): void {
    this.disposed = true;
    clearInterval(this.watchdog);
    this.worker?.terminate();
    this.worker = null;
    this.disconnect();
  }

  /** (Re)start the model worker and connect it to the worklet; resolves when the model runs. */
  async startWorker(): Promise<void> {
    this.worker?.terminate();
    this.send({ type: 'model-ready', value: false });
    this.failure = 'loading model';
    const { worker, ready } = takePreloaded(this.modelUrl) ?? loadModelWorker(this.modelUrl);
    this.worker = worker;
    try {
      await ready; // a crash while loading rejects this
    } catch (e) {
      if (worker !== this.worker) return;
      this.failure = (e as Error).message;
      worker.terminate();
      this.worker = null;
      this.dispatchEvent(new CustomEvent('error', { detail: { message: this.failure, recovering: false } }));
      throw e;
    }
    if (worker !== this.worker) return;
    this.adoptWorker(worker);
  }

  /** Connect a loaded model worker to the worklet and let the engine use its masks. */
  private adoptWorker(worker: Worker): void {
    worker.onerror = (e) => {
      e.preventDefault();
      if (worker === this.worker) this.onWorkerDied(`model worker crashed: ${e.message || 'unknown error'}`);
    };
    worker.onmessage = (e: MessageEvent<FromModelWorker>) => {
      if (e.data.type === 'stats') {
        this.lastWorkerBeat = performance.now();
        Object.assign(this.stats, {
          stepMedianMs: e.data.stepMedianMs,
          stepP99Ms: e.data.stepP99Ms,
          allSteps: e.data.allSteps,
        });
      } else if (e.data.type === 'error' && worker === this.worker) {
        this.onWorkerDied(`model worker failed: ${e.data.message}`);
      }
    };
    if (this.ring) {
      toModelWorker(worker, { type: 'connect', ring: this.ring });
    } else {
      const channel = new MessageChannel();
      toModelWorker(worker, { type: 'connect', port: channel.port1 }, [channel.port1]);
      this.send({ type: 'worker-port', port: channel.port2 }, [channel.port2]);
    }
    this.failure = null;
    this.lastWorkerBeat = performance.now();
    this.send({ type: 'model-ready', value: true });
    this.dispatchEvent(new CustomEvent('model', { detail: this.card }));
  }

  private onWorkerDied(why: string): void {
    if (this.disposed) return;
    this.worker?.terminate();
    this.worker = null;
    this.failure = why;
    this.send({ type: 'model-ready', value: false });
    this.stats.workerRestarts++;
    this.dispatchEvent(new CustomEvent('error', { detail: { message: why, recovering: true } }));
    setTimeout(() => {
      if (!this.disposed && !this.worker) this.startWorker().catch(() => undefined);
    }, 300);
  }

  /** A worker that stops answering while audio flows is treated as crashed and restarted. */
  private checkWorker(): void {
    if (!this.worker || this.failure) return;
    const flowing = this.stats.frames > this.lastFrames;
    this.lastFrames = this.stats.frames;
    if (flowing && performance.now() - this.lastWorkerBeat > 1000) this.onWorkerDied('model worker stopped answering; restarting');
  }

  private onWorkletMessage(msg: FromProcessor): void {
    if (msg.type === 'delay') {
      this.delaySeconds = msg.samples / msg.sampleRate;
      this.stats.delaySeconds = this.delaySeconds;
      this.transport = msg.transport;
    } else if (msg.type === 'stats') {
      Object.assign(this.stats, msg);
      this.dispatchEvent(new CustomEvent('stats', { detail: this.stats }));
    }
  }
}

function processorFraming(card: ModelCard): ProcessorFraming {
  return {
    fftSize: card.fftSize,
    hopSize: card.hopSize,
    modelSampleRate: card.sampleRate,
    window: card.window,
    synthesisSize: card.synthesisSize,
  };
}

/** Framing used only to pass audio through when no model card could be read at all. */
const PASS_THROUGH: ModelCard = {
  name: 'none (pass-through)',
  family: 'none',
  file: '',
  sampleRate: 16000,
  fftSize: 512,
  hopSize: 128,
  window: 'sqrt-hann',
  input: { name: '', shape: [257] },
  output: { name: '', shape: [257] },
  stateLayout: [],
  parameters: 0,
};

/**
 * Create the denoiser node for `context` and start its model. It never fails for a model
 * problem: the node then passes audio through, `node.failure` says why, and an 'error' event fires.
 */
export async function createDenoiser(context: BaseAudioContext, options: DenoiserOptions = {}): Promise<QuellNode> {
  if (!loadedContexts.has(context)) {
    await context.audioWorklet.addModule(workletUrl);
    loadedContexts.add(context);
  }
  let modelUrl = options.modelUrl ?? '';
  let card: ModelCard;
  let failure: string | null = null;
  try {
    modelUrl ||= await defaultModelUrl();
    card = await fetchCard(modelUrl);
  } catch (e) {
    card = PASS_THROUGH;
    failure = (e as Error).message;
  }
  const node = new QuellNode(context, card, modelUrl, options);
  if (failure) {
    node.failure = failure;
  } else {
    await node.startWorker().catch(() => undefined); // failure is on node.failure and the 'error' event
  }
  return node;
}

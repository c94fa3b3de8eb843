/**
 * A live session: microphone → Quell node → speakers, with analysers for the meters and
 * spectrograms and a recorder for A/B. Every failure becomes a message a person can act on.
 */
import recorderUrl from '../../worklets/recorder-processor.ts?worker&url';
import { createDenoiser, defaultModelUrl, fetchCard, type DenoiserOptions, type QuellNode } from '../index';

export interface SessionOptions extends DenoiserOptions {
  deviceId?: string;
  /** Force the context's rate (tests of the resampling path); default: ask for the model's 16 kHz. */
  contextRate?: number;
}

export interface Capture {
  sampleRate: number;
  input: Float32Array;
  output: Float32Array;
  totalSamples: number;
}

/** Turn getUserMedia's exceptions into sentences. */
export function microphoneError(e: unknown): string {
  const name = (e as DOMException)?.name;
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'Microphone access was denied. Allow it in the browser’s site settings (the icon left of the address bar), then press Start again.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return 'No microphone was found. Plug one in or pick another input, then press Start again.';
  if (name === 'NotReadableError' || name === 'AbortError')
    return 'The microphone is busy or unavailable (another app may be using it). Close that app or pick another input.';
  return `The microphone could not be opened: ${(e as Error)?.message ?? e}`;
}

/**
 * A context at the model's rate saves resampling; browsers that refuse it (or its mic) get their
 * own rate. `rate` forces one (for tests and experiments).
 */
async function openContext(
  stream: MediaStream,
  rate: number | undefined,
  modelRate: number | undefined,
): Promise<{ context: AudioContext; source: MediaStreamAudioSourceNode }> {
  const attempts: (AudioContextOptions | undefined)[] = rate
    ? [{ sampleRate: rate, latencyHint: 'interactive' }]
    : [...(modelRate ? [{ sampleRate: modelRate, latencyHint: 'interactive' } as const] : []), { latencyHint: 'interactive' }];
  let lastError: unknown;
  for (const options of attempts) {
    let context: AudioContext | undefined;
    try {
      context = new AudioContext(options);
      const source = context.createMediaStreamSource(stream);
      return { context, source };
    } catch (e) {
      lastError = e;
      await context?.close().catch(() => undefined);
    }
  }
  throw new Error(`The browser refused to start audio: ${(lastError as Error)?.message ?? lastError}`, { cause: lastError });
}

export class Session {
  readonly context: AudioContext;
  readonly stream: MediaStream;
  readonly node: QuellNode;
  readonly inputAnalyser: AnalyserNode;
  readonly outputAnalyser: AnalyserNode;
  readonly startedAt: number;
  private readonly recorder: AudioWorkletNode;
  private readonly source: MediaStreamAudioSourceNode;
  private dumpId = 0;
  private readonly pendingDumps = new Map<number, (c: Capture) => void>();

  private constructor(
    context: AudioContext,
    stream: MediaStream,
    source: MediaStreamAudioSourceNode,
    node: QuellNode,
    recorder: AudioWorkletNode,
  ) {
    this.context = context;
    this.stream = stream;
    this.source = source;
    this.node = node;
    this.recorder = recorder;
    this.startedAt = performance.now();
    this.inputAnalyser = new AnalyserNode(context, { fftSize: 1024, smoothingTimeConstant: 0 });
    this.outputAnalyser = new AnalyserNode(context, { fftSize: 1024, smoothingTimeConstant: 0 });
    source.connect(this.inputAnalyser);
    source.connect(node);
    node.connect(this.outputAnalyser);
    node.connect(context.destination);
    source.connect(recorder, 0, 0);
    node.connect(recorder, 0, 1);
    node.addEventListener('error', (e) => {
      if ((e as CustomEvent<{ fatal?: boolean } | undefined>).detail?.fatal) this.bypassNode();
    });
    recorder.port.onmessage = (e) => {
      this.pendingDumps.get(e.data.id)?.(e.data as Capture);
      this.pendingDumps.delete(e.data.id);
    };
  }

  /** The node's processor died: route the microphone around it, to every place it fed. */
  private bypassNode(): void {
    this.node.disconnect();
    this.source.connect(this.outputAnalyser);
    this.source.connect(this.context.destination);
    this.source.connect(this.recorder, 0, 1);
  }

  static async start(options: SessionOptions = {}): Promise<Session> {
    if (!navigator.mediaDevices?.getUserMedia)
      throw new Error('This browser offers no microphone access here (it needs https or localhost).');
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          deviceId: options.deviceId ? { exact: options.deviceId } : undefined,
          channelCount: 1,
          // Quell replaces the browser's own processing; stacking both would colour the voice.
          noiseSuppression: false,
          echoCancellation: false,
          autoGainControl: false,
        },
      });
    } catch (e) {
      throw new Error(microphoneError(e), { cause: e });
    }
    try {
      // (an unreadable card is reported by createDenoiser below, which then passes audio through)
      const modelRate = await fetchCard(options.modelUrl ?? (await defaultModelUrl())).then(
        (c) => c.sampleRate,
        () => undefined,
      );
      const { context, source } = await openContext(stream, options.contextRate, modelRate);
      await context.audioWorklet.addModule(recorderUrl);
      const recorder = new AudioWorkletNode(context, 'quell-recorder', { numberOfInputs: 2, numberOfOutputs: 0 });
      const node = await createDenoiser(context, options);
      return new Session(context, stream, source, node, recorder);
    } catch (e) {
      stream.getTracks().forEach((t) => t.stop());
      throw e;
    }
  }

  get suspended(): boolean {
    return this.context.state === 'suspended';
  }

  /** What the browser reports for its own buffers (input and output). */
  get deviceDelaySeconds(): number {
    return (this.context.baseLatency || 0) + (this.context.outputLatency || 0);
  }

  /** Mic-to-speaker delay: the engine's plus the browser's own buffers. */
  get totalDelaySeconds(): number {
    return this.node.delaySeconds + this.deviceDelaySeconds;
  }

  /** The last (up to) 30 s of microphone and output, on one timeline. */
  capture(): Promise<Capture> {
    const id = ++this.dumpId;
    return new Promise((resolve) => {
      this.pendingDumps.set(id, resolve);
      this.recorder.port.postMessage({ type: 'dump', id });
    });
  }

  clearRecording(): void {
    this.recorder.port.postMessage({ type: 'clear' });
  }

  async stop(): Promise<void> {
    this.node.dispose();
    this.source.disconnect();
    this.stream.getTracks().forEach((t) => t.stop());
    await this.context.close().catch(() => undefined);
  }
}

import { type Framing, framingProblem } from '../dsp/window';
import type { FrameEngineOptions } from '../dsp/frame-engine';

/** One part of the state a model carries from step to step. */
export interface StatePart {
  name: string;
  values: number;
}

/**
 * The model card: the JSON written beside each ONNX model by training/export.py.
 * The engine reads every shape, name and DSP constant from it instead of repeating them.
 */
export interface ModelCard {
  name: string;
  family: string;
  /** ONNX file, relative to the card. */
  file: string;
  sampleRate: number;
  fftSize: number;
  hopSize: number;
  window: string;
  /** Span of each frame that is synthesised (low-delay window); absent in older cards. */
  synthesisSize?: number;
  /** The step's one input: the magnitudes (fftSize/2+1), then the carried state. */
  input: { name: string; shape: number[] };
  /** The step's one output: the mask, then the next state. */
  output: { name: string; shape: number[] };
  /** The carried state's parts, in order (the engine needs only their sum: stateValues). */
  stateLayout: StatePart[];
  parameters: number;
  description?: string;
  fixture?: boolean;
  validation?: Record<string, unknown>;
  data?: Record<string, unknown>;
}

/** Largest model file the loaders read: the contract allows 1 M parameters (4 MB as float32). */
export const MAX_MODEL_BYTES = 64 << 20;
/** Largest card the loaders read. */
export const MAX_CARD_BYTES = 1 << 20;

const MIN_FFT = 64;
const MAX_FFT = 8192;
const MAX_STATE_VALUES = 1 << 20;

/** Gain-mask bins (and STFT magnitudes) of a card's model: fftSize / 2 + 1. */
export function binCount(card: { fftSize: number }): number {
  return card.fftSize / 2 + 1;
}

/** Values of state a card's model carries from step to step. */
export function stateValues(card: { stateLayout: StatePart[] }): number {
  return card.stateLayout.reduce((sum, part) => sum + part.values, 0);
}

/** models/index.json: the cards a build offers (paths relative to the index), and the default. */
export interface ModelIndex {
  default: string;
  models: string[];
}

/** Check a parsed models/index.json; `source` names it in errors. */
export function parseModelIndex(json: unknown, source: string): ModelIndex {
  const i = json as Partial<ModelIndex> | null;
  if (!i || typeof i.default !== 'string' || !Array.isArray(i.models) || !i.models.every((m) => typeof m === 'string')) {
    throw new Error(`model index ${source} is invalid: it needs "default" (a card path) and "models" (a list of card paths)`);
  }
  return i as ModelIndex;
}

/** Check a parsed card; throws an Error that names the card and the first problem found. */
export function parseModelCard(json: unknown, source: string): ModelCard {
  const fail = (why: string): never => {
    throw new Error(`model card ${source} is invalid: ${why}`);
  };
  if (typeof json !== 'object' || json === null) fail('not a JSON object');
  const c = json as Record<string, unknown>;
  for (const key of ['name', 'file', 'window'] as const) if (typeof c[key] !== 'string') fail(`"${key}" must be a string`);
  // The model lives beside its card: a card may not point a loader at another folder, another
  // origin or a device (`../x.onnx`, `/dev/zero`, `https://…`).
  const file = c.file as string;
  if (!/^[\w.-]+\.onnx$/.test(file) || file.startsWith('.')) fail(`"file" must name an .onnx file in the card's own folder, got "${file}"`);
  for (const key of ['sampleRate', 'fftSize', 'hopSize'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`"${key}" must be a positive integer`);
  }
  const fftSize = c.fftSize as number;
  if (fftSize & (fftSize - 1) || fftSize < MIN_FFT || fftSize > MAX_FFT)
    fail(`"fftSize" must be a power of two from ${MIN_FFT} to ${MAX_FFT}, got ${fftSize}`);
  const rate = c.sampleRate as number;
  if (rate < 8000 || rate > 48000) fail(`"sampleRate" must be from 8000 to 48000 Hz, got ${rate}`);
  if (fftSize % (c.hopSize as number) !== 0) fail('"hopSize" must divide "fftSize"');
  const framing = framingProblem(c as unknown as Framing);
  if (framing) fail(framing);
  if ('states' in c && !('stateLayout' in c)) {
    fail(
      'it names a tensor per state, as models exported before the one-tensor step did; export it again (python3 training/export.py --reexport --out MODEL)',
    );
  }
  if (!Array.isArray(c.stateLayout)) fail('"stateLayout" must be a list');
  let state = 0;
  for (const part of c.stateLayout as StatePart[]) {
    if (typeof part?.name !== 'string' || !Number.isInteger(part.values) || part.values <= 0) {
      fail('each part of "stateLayout" needs a "name" and a whole positive number of "values"');
    }
    state += part.values;
  }
  if (state > MAX_STATE_VALUES) fail(`"stateLayout" may hold at most ${MAX_STATE_VALUES} values, got ${state}`);
  const bins = fftSize / 2 + 1;
  const io = (key: string, what: string) => {
    const v = c[key] as { name?: unknown; shape?: unknown } | undefined;
    if (!v || typeof v.name !== 'string' || !Array.isArray(v.shape)) fail(`"${key}" needs a name and a shape`);
    if ((v!.shape as number[]).reduce((a, b) => a * b, 1) !== bins + state) {
      fail(`"${key}" must hold ${bins + state} values (${what}: fftSize/2+1 = ${bins}, then the ${state} of "stateLayout")`);
    }
  };
  io('input', 'the magnitudes');
  io('output', 'the mask');
  return { family: 'unknown', parameters: 0, ...(c as object) } as ModelCard;
}

/**
 * Hops the live output waits for a frame's mask from the model worker: two, because the worklet
 * is called in bursts (two quanta back to back leave no time for a round trip between them);
 * the in-place correction of a mask one hop late covers only part of a low-delay frame.
 */
export const DEFAULT_MASK_LATENCY = 2;

/** The streaming engine's options for a card: its framing, rate and the given mask wait. */
export function engineOptions(card: ModelCard, maskLatency: number): FrameEngineOptions {
  const { fftSize, hopSize, window, synthesisSize, sampleRate } = card;
  return { fftSize, hopSize, window, synthesisSize, sampleRate, maskLatency };
}

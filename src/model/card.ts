import { type Framing, framingProblem } from '../dsp/window';
import type { FrameEngineOptions } from '../dsp/frame-engine';

/**
 * The model card: the JSON written beside each ONNX model by training/export.py.
 * The engine reads every shape, name and DSP constant from it instead of repeating them.
 */
export interface StateSpec {
  /** Graph input that receives the state. */
  input: string;
  /** Graph output that returns the next state. */
  output: string;
  shape: number[];
}

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
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
  states: StateSpec[];
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
  const bins = fftSize / 2 + 1;
  const io = (key: string) => {
    const v = c[key] as { name?: unknown; shape?: unknown } | undefined;
    if (!v || typeof v.name !== 'string' || !Array.isArray(v.shape)) fail(`"${key}" needs a name and a shape`);
    if ((v!.shape as number[]).reduce((a, b) => a * b, 1) !== bins) fail(`"${key}" must hold ${bins} values (fftSize/2+1)`);
  };
  io('input');
  io('output');
  if (!Array.isArray(c.states)) fail('"states" must be a list');
  for (const s of c.states as StateSpec[]) {
    if (typeof s.input !== 'string' || typeof s.output !== 'string' || !Array.isArray(s.shape)) {
      fail('each state needs "input", "output" and "shape"');
    }
    if (!s.shape.every((d) => Number.isInteger(d) && d > 0) || s.shape.reduce((a, b) => a * b, 1) > MAX_STATE_VALUES) {
      fail(`state "${s.input}" must have whole positive dimensions and at most ${MAX_STATE_VALUES} values, got [${s.shape.join(', ')}]`);
    }
  }
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

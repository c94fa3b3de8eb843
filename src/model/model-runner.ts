import type * as OrtModule from 'onnxruntime-web';
import { binCount, type ModelCard } from './card';

type Ort = typeof OrtModule;

/**
 * One model step per frame in onnxruntime-web, carrying the recurrent state from frame to
 * frame. The same class runs in the browser's worker and in Node (CLI, tests, benchmarks):
 * the caller passes in the `onnxruntime-web` module it imported.
 *
 * Every state tensor named in the card is fed back from the step's outputs and zeroed on
 * reset; nothing here knows whether the model is a GRU, an LSTM or a CNN. The input tensor is
 * allocated once. (onnxruntime-web's wasm backend leaves pre-allocated CPU output tensors
 * unfilled, so outputs are the ones each run returns.)
 */
export class ModelRunner {
  readonly card: ModelCard;
  /** Steps whose input or output was not finite (the state was reset and the mask bypassed). */
  recoveries = 0;
  private readonly ort: Ort;
  private readonly session: OrtModule.InferenceSession;
  private readonly inputData: Float32Array;
  private readonly zeroStates: OrtModule.Tensor[];
  private states: OrtModule.Tensor[];
  /** The mask of the last frame stepped (zeros on a fresh stream): a silent frame's answer. */
  private readonly lastMask: Float32Array;
  private readonly feeds: Record<string, OrtModule.Tensor>;

  private constructor(ort: Ort, session: OrtModule.InferenceSession, card: ModelCard) {
    this.card = card;
    this.ort = ort;
    this.session = session;
    const bins = binCount(card);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    this.inputData = new Float32Array(bins);
    this.lastMask = new Float32Array(bins);
    this.zeroStates = card.states.map((s) => new ort.Tensor('float32', new Float32Array(size(s.shape)), s.shape));
    this.states = [...this.zeroStates];
    this.feeds = { [card.input.name]: new ort.Tensor('float32', this.inputData, card.input.shape) };
  }

  /** Build a session from the model's bytes; `source` names the file in error messages. */
  static async create(ort: Ort, modelBytes: Uint8Array, card: ModelCard, source = card.file): Promise<ModelRunner> {
    let session: OrtModule.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    } catch (e) {
      throw new Error(`model file ${source} could not be loaded (corrupt or not ONNX): ${(e as Error).message}`, { cause: e });
    }
    const expected = [card.input.name, ...card.states.map((s) => s.input)];
    const outputs = [card.output.name, ...card.states.map((s) => s.output)];
    const missing = [
      ...expected.filter((n) => !session.inputNames.includes(n)),
      ...outputs.filter((n) => !session.outputNames.includes(n)),
    ];
    if (missing.length) throw new Error(`model file ${source} does not match its card: missing ${missing.join(', ')}`);
    return new ModelRunner(ort, session, card);
  }

  /** A runner on the same loaded model with state of its own (zeroed), for another stream at the same time. */
  withOwnState(): ModelRunner {
    return new ModelRunner(this.ort, this.session, this.card);
  }

  /** Zero every state tensor (a new stream, or a model switch). */
  reset(): void {
    this.states = [...this.zeroStates];
    this.lastMask.fill(0);
  }

  /** Run one step: magnitudes (fftSize/2+1) in, gain mask written to maskOut. A frame of exact zeros is not stepped. */
  async step(magnitudes: ArrayLike<number>, maskOut: Float32Array): Promise<void> {
    const input = this.inputData;
    let silent = true;
    for (let k = 0; k < input.length; k++) {
      const m = magnitudes[k];
      input[k] = m >= 0 && m < 1e6 ? m : 0; // NaN/Inf never reach the recurrent state
      if (input[k] !== 0) silent = false;
    }
    if (silent) {
      // Digital silence (a microphone opening or muted, a file's leading zeros) holds the state:
      // it says nothing about the voice or the noise, and stepping on it would pull the level
      // normalisation's running mean down to the log floor, so the noise that follows would look
      // far louder than the recent past and pass for a second. The mask of a silent frame changes
      // nothing heard, but it is what the engine holds if the next frame's mask is late (the first
      // real steps after a pause are the slowest): so it is the last mask the model gave, and
      // closed on a fresh stream, never an open one that would let the first noise through.
      maskOut.set(this.lastMask);
      return;
    }
    const { card, feeds } = this;
    for (let i = 0; i < card.states.length; i++) feeds[card.states[i].input] = this.states[i];
    const result = await this.session.run(feeds);
    const mask = result[card.output.name].data as Float32Array;
    maskOut.set(mask.subarray(0, maskOut.length));
    // One sum per tensor finds a NaN or an infinity anywhere in it (either makes the sum so),
    // for a fraction of the cost of testing each value on every step.
    let finite = true;
    let maskSum = 0;
    for (let k = 0; k < maskOut.length; k++) maskSum += maskOut[k];
    if (!(maskSum >= 0 && maskSum <= maskOut.length)) finite = false;
    const next = card.states.map((s) => result[s.output]);
    for (const t of next) {
      const d = t.data as Float32Array;
      let sum = 0;
      for (let i = 0; i < d.length; i++) sum += d[i];
      if (!Number.isFinite(sum)) finite = false;
    }
    if (!finite) {
      // Should never happen with sanitised input; if it does, start afresh rather than spread NaN.
      this.recoveries++;
      maskOut.fill(1);
      this.reset();
      return;
    }
    this.states = next;
    this.lastMask.set(maskOut);
  }

  /** The current state tensors' values, for tests. */
  stateValues(): Float32Array[] {
    return this.states.map((t) => t.data as Float32Array);
  }
}

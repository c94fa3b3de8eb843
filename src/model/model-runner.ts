import type * as OrtModule from 'onnxruntime-web';
import { binCount, stateValues, type ModelCard } from './card';

type Ort = typeof OrtModule;

/**
 * One model step per frame in onnxruntime-web, carrying the recurrent state from frame to
 * frame. The same class runs in the browser's worker and in Node (CLI, tests, benchmarks):
 * the caller passes in the `onnxruntime-web` module it imported.
 *
 * A step is one tensor in, the magnitudes then the state, and one out, the mask then the next
 * state (the card's input, output and stateLayout): onnxruntime-web pays for each tensor of a
 * run. The state values of one step's output are copied after the next frame's magnitudes, and
 * zeroed on reset; nothing here knows whether the model is a GRU, an LSTM or a CNN. The input
 * tensor is allocated once. (onnxruntime-web's wasm backend leaves pre-allocated CPU output
 * tensors unfilled, so the output is the one each run returns.)
 */
export class ModelRunner {
  readonly card: ModelCard;
  /** Steps whose input or output was not finite (the state was reset and the mask bypassed). */
  recoveries = 0;
  private readonly session: OrtModule.InferenceSession;
  private readonly ort: Ort;
  /** The step's input: this frame's magnitudes, then the state the last step returned. */
  private readonly stepInput: Float32Array;
  private readonly bins: number;
  /** The mask of the last frame stepped (zeros on a fresh stream): a silent frame's answer. */
  private readonly lastMask: Float32Array;
  private readonly feeds: Record<string, OrtModule.Tensor>;

  private constructor(ort: Ort, session: OrtModule.InferenceSession, card: ModelCard) {
    this.card = card;
    this.ort = ort;
    this.session = session;
    this.bins = binCount(card);
    this.stepInput = new Float32Array(this.bins + stateValues(card));
    this.lastMask = new Float32Array(this.bins);
    this.feeds = { [card.input.name]: new ort.Tensor('float32', this.stepInput, card.input.shape) };
  }

  /** Build a session from the model's bytes; `source` names the file in error messages. */
  static async create(ort: Ort, modelBytes: Uint8Array, card: ModelCard, source = card.file): Promise<ModelRunner> {
    let session: OrtModule.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    } catch (e) {
      throw new Error(`model file ${source} could not be loaded (corrupt or not ONNX): ${(e as Error).message}`, { cause: e });
    }
    const missing = [
      session.inputNames.includes(card.input.name) ? [] : [card.input.name],
      session.outputNames.includes(card.output.name) ? [] : [card.output.name],
    ].flat();
    if (missing.length) throw new Error(`model file ${source} does not match its card: missing ${missing.join(', ')}`);
    return new ModelRunner(ort, session, card);
  }

  /** A runner on the same loaded model with state of its own (zeroed), for another stream at the same time. */
  withOwnState(): ModelRunner {
    return new ModelRunner(this.ort, this.session, this.card);
  }

  /** Zero the state (a new stream, or a model switch). */
  reset(): void {
    this.stepInput.fill(0, this.bins);
    this.lastMask.fill(0);
  }

  /** Run one step: magnitudes (fftSize/2+1) in, gain mask written to maskOut. A frame of exact zeros is not stepped. */
  async step(magnitudes: ArrayLike<number>, maskOut: Float32Array): Promise<void> {
    const { bins, stepInput } = this;
    let silent = true;
    for (let k = 0; k < bins; k++) {
      const m = magnitudes[k];
      stepInput[k] = m >= 0 && m < 1e6 ? m : 0; // NaN/Inf never reach the recurrent state
      if (stepInput[k] !== 0) silent = false;
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
    const result = await this.session.run(this.feeds);
    const stepOutput = result[this.card.output.name].data as Float32Array;
    // One sum finds a NaN or an infinity anywhere (either makes the sum so), for a fraction of
    // the cost of testing each value on every step; the mask's sum must also lie in [0, bins].
    let maskSum = 0;
    for (let k = 0; k < bins; k++) maskSum += stepOutput[k];
    let stateSum = 0;
    for (let i = bins; i < stepOutput.length; i++) stateSum += stepOutput[i];
    if (!(maskSum >= 0 && maskSum <= bins) || !Number.isFinite(stateSum)) {
      // Should never happen with sanitised input; if it does, start afresh rather than spread NaN.
      this.recoveries++;
      maskOut.fill(1);
      this.reset();
      return;
    }
    maskOut.set(stepOutput.subarray(0, bins));
    stepInput.set(stepOutput.subarray(bins), bins);
    this.lastMask.set(maskOut);
  }

  /** The state the next step starts from, for tests. */
  state(): Float32Array {
    return this.stepInput.subarray(this.bins);
  }
}

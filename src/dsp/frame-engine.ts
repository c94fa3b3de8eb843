import { SpectralProcessor } from './spectral';
import { type Framing, synthesisSizeOf } from './window';

/**
 * How long masks may be missing in a row before the model is taken to be gone (worker stalled)
 * and the engine crossfades to bypass. Shorter stalls (a garbage collection, a busy core) hold
 * the last mask: bypassing for them let the raw noise burst through for as long as they lasted.
 */
const STARVED_AFTER_SECONDS = 0.2;

export interface FrameEngineOptions extends Framing {
  sampleRate: number;
  /** How many hops the output waits for a frame's mask (0 = the mask is set synchronously). */
  maskLatency: number;
  /** Length of the on/off crossfade. */
  fadeMs?: number;
}

/**
 * The streaming denoiser at the model's rate, one hop at a time, with no Web Audio in it.
 *
 *   pushHop(input)  → frames the newest fftSize samples, keeps the spectrum, exposes `magnitudes`
 *   setMask(f, m)   ← the model's mask for frame f (from a worker, or synchronously in file mode)
 *   pullHop(output) → masks frame (newest − maskLatency), inverse FFT, overlap-add, one hop out
 *   processHop(input, output, maskFor) → all three, where the mask can be waited for
 *
 * Only the last `synthesisSize` samples of each frame are synthesised (the whole frame for the
 * √Hann framing, one hop plus a short taper for the low-delay one), so the output is the input
 * delayed by `delaySamples` = synthesisSize − hopSize + maskLatency·hopSize.
 * A mask that has not arrived when its frame is due is played with the previous mask held
 * (no click). The frame's first hop has then been heard, but the rest of its synthesis span is
 * still in the overlap-add buffer: if the real mask comes within one more hop, that is
 * corrected in place (`correctedMasks` counts it; with the √Hann framing the first hop of a
 * frame carries under 7 % of its energy, with the low-delay framing nearly all of it, so
 * there the held mask is what is heard). A mask that misses
 * that too is "late": the held mask stays, and `lateMasks` counts it. After
 * STARVED_AFTER_SECONDS of late masks in a row the engine crossfades to bypass on its own until
 * masks return.
 * Bypass is a crossfade to the input delayed by the same amount through a delay line, so
 * switching never shifts the audio in time. Non-finite samples become 0 and everything is
 * clamped to [-1, 1] before it reaches the model or the output.
 */
export class FrameEngine {
  readonly fftSize: number;
  readonly hopSize: number;
  readonly binCount: number;
  readonly synthesisSize: number;
  readonly maskLatency: number;
  readonly delaySamples: number;
  /** Magnitudes of the frame last pushed: what the model reads. */
  readonly magnitudes: Float32Array;
  /** Frames pushed so far; the last pushed frame is framesPushed − 1. */
  framesPushed = 0;
  /** Masks that missed their frame entirely (the previous mask was used for all of it). */
  lateMasks = 0;
  /** Masks that came one hop after their frame began playing, and corrected the rest of it. */
  correctedMasks = 0;
  /** Non-finite or out-of-range input samples replaced so far. */
  badSamples = 0;
  /** Mask in use (after the floor), for displays. */
  readonly currentMask: Float32Array;

  private readonly spectral: SpectralProcessor;
  private readonly history: Float32Array; // last fftSize input samples, oldest first
  private readonly slots: number;
  private readonly spectra: Float32Array[];
  private readonly masks: Float32Array[];
  private readonly maskFrame: Int32Array; // which frame each mask slot holds (-1: none)
  private readonly heldMask: Float32Array;
  private readonly frameOut: Float32Array;
  private readonly overlap: Float32Array; // overlap-add accumulator, synthesisSize long
  private readonly dryLine: Float32Array; // input delay line for bypass
  private dryWrite = 0;
  private maskFloor = 0;
  private fade = 1; // 0 = bypass, 1 = processed
  private fadeTarget = 1;
  private readonly fadeStep: number;
  private readonly starvedAfter: number; // hops
  private enabled = true;
  private modelReady = true;
  /** Masks have stopped on purpose (holdLastMask): neither late nor starved. */
  private holding = false;
  /** Masks missed in a row; past starvedAfter the engine crossfades to bypass by itself. */
  private lateInARow = 0;
  /** First frame pushed after the model became ready: earlier frames have no mask coming. */
  private readyFrom = 0;
  /** Frame played with a held mask whose own mask may still correct the rest of it (-1: none). */
  private provisionalFrame = -1;
  private readonly provisionalMask: Float32Array; // the mask that frame was played with
  private readonly correctionMask: Float32Array;

  constructor(o: FrameEngineOptions) {
    this.fftSize = o.fftSize;
    this.hopSize = o.hopSize;
    this.binCount = o.fftSize / 2 + 1;
    this.maskLatency = o.maskLatency;
    this.synthesisSize = synthesisSizeOf(o);
    this.delaySamples = this.synthesisSize - o.hopSize + o.maskLatency * o.hopSize;
    this.spectral = new SpectralProcessor(o);
    this.history = new Float32Array(o.fftSize);
    this.magnitudes = new Float32Array(this.binCount);
    this.slots = o.maskLatency + 2;
    this.spectra = Array.from({ length: this.slots }, () => new Float32Array(2 * this.binCount));
    this.masks = Array.from({ length: this.slots }, () => new Float32Array(this.binCount));
    this.maskFrame = new Int32Array(this.slots).fill(-1);
    this.heldMask = new Float32Array(this.binCount).fill(1);
    this.currentMask = new Float32Array(this.binCount).fill(1);
    this.provisionalMask = new Float32Array(this.binCount);
    this.correctionMask = new Float32Array(this.binCount);
    this.frameOut = new Float32Array(o.fftSize);
    this.overlap = new Float32Array(this.synthesisSize);
    this.dryLine = new Float32Array(this.delaySamples + o.hopSize);
    this.fadeStep = 1 / Math.max(1, ((o.fadeMs ?? 10) / 1000) * o.sampleRate);
    this.starvedAfter = Math.ceil((STARVED_AFTER_SECONDS * o.sampleRate) / o.hopSize);
  }

  /** Processing on or off (crossfaded). The model keeps stepping either way, so its state stays warm. */
  setEnabled(on: boolean): void {
    this.enabled = on;
    this.updateFadeTarget();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** True while masks have stopped coming (the output is bypassed until they return). */
  get isStarved(): boolean {
    return this.lateInARow >= this.starvedAfter;
  }

  /** False while no model can answer (failed to load, worker crashed): pass audio through. */
  setModelReady(ready: boolean): void {
    this.modelReady = ready;
    this.lateInARow = 0;
    this.readyFrom = this.framesPushed;
    this.provisionalFrame = -1;
    this.updateFadeTarget();
  }

  /**
   * No more masks will come, but keep applying the last one rather than bypass: an engine being
   * crossfaded out on a model switch, whose model has already handed over to the next one.
   */
  holdLastMask(): void {
    this.holding = true;
    this.lateInARow = 0;
    this.provisionalFrame = -1;
    this.updateFadeTarget();
  }

  /** Maximum attenuation in dB, applied as a floor on the mask (Infinity: no floor). */
  setMaxAttenuation(db: number): void {
    this.maskFloor = Number.isFinite(db) ? Math.pow(10, -Math.max(0, db) / 20) : 0;
  }

  private updateFadeTarget(): void {
    this.fadeTarget = this.enabled && this.modelReady && !this.isStarved ? 1 : 0;
  }

  /** Frame the next hop of input; returns the new frame's index. Read `magnitudes` after. */
  pushHop(input: Float32Array): number {
    const { hopSize, fftSize, history, dryLine } = this;
    history.copyWithin(0, hopSize);
    let dryWrite = this.dryWrite;
    for (let i = 0; i < hopSize; i++) {
      let x = input[i];
      if (!(x >= -1 && x <= 1)) {
        // NaN and ±Inf fail both comparisons; out-of-range samples are clipped.
        this.badSamples++;
        x = x > 1 ? 1 : x < -1 ? -1 : 0;
      }
      history[fftSize - hopSize + i] = x;
      dryLine[dryWrite] = x;
      if (++dryWrite === dryLine.length) dryWrite = 0;
    }
    this.dryWrite = dryWrite;
    const frame = this.framesPushed++;
    const slot = frame % this.slots;
    this.spectral.analyze(history, this.spectra[slot], this.magnitudes);
    return frame;
  }

  /**
   * One hop where the mask can be had while the hop waits (files, tests, benchmarks): frame the
   * input, ask `maskFor` for the new frame's mask and set it (it may return nothing and set masks
   * itself, as a test of late masks does), then write one hop out. The live path cannot wait on
   * the audio thread: it calls pushHop and pullHop around the worker's ring itself.
   */
  async processHop(
    input: Float32Array,
    output: Float32Array,
    maskFor: (magnitudes: Float32Array, frame: number) => Promise<ArrayLike<number> | void> | ArrayLike<number> | void,
    upperGain?: Float32Array,
  ): Promise<void> {
    const frame = this.pushHop(input);
    const mask = await maskFor(this.magnitudes, frame);
    if (mask) this.setMask(frame, mask);
    this.pullHop(output, upperGain);
  }

  /** The model's mask for `frame`; ignored if that frame has already been played in full. */
  setMask(frame: number, mask: ArrayLike<number>): void {
    const due = this.framesPushed - 1 - this.maskLatency;
    if (frame === this.provisionalFrame) return this.correctPlayedFrame(frame, mask);
    if (frame < due || frame >= this.framesPushed) return;
    const slot = frame % this.slots;
    const target = this.masks[slot];
    for (let k = 0; k < this.binCount; k++) target[k] = sanitiseGain(mask[k]);
    this.maskFrame[slot] = frame;
  }

  /**
   * The mask of the frame played one hop ago with a held mask: synthesis is linear in the
   * mask, so adding the frame synthesised with (new − held) mask fixes the part of it that is
   * still in the overlap-add buffer (shifted by the hop played since).
   */
  private correctPlayedFrame(frame: number, mask: ArrayLike<number>): void {
    const { binCount, hopSize, fftSize, synthesisSize, frameOut, overlap } = this;
    for (let k = 0; k < binCount; k++) {
      const m = sanitiseGain(mask[k]);
      this.heldMask[k] = m; // the newest mask is the best guess for a next late frame too
      this.correctionMask[k] = (m > this.maskFloor ? m : this.maskFloor) - this.provisionalMask[k];
    }
    this.spectral.synthesize(this.spectra[frame % this.slots], this.correctionMask, frameOut);
    const start = fftSize - synthesisSize + hopSize;
    for (let n = 0; n < synthesisSize - hopSize; n++) overlap[n] += frameOut[start + n];
    this.provisionalFrame = -1;
    this.correctedMasks++;
    this.lateInARow = 0;
  }

  /**
   * Gain for the band above the model's Nyquist frequency, which a caller at a higher rate
   * carries around the model (StreamAdapter, file mode): the lower of the mask's mean over the
   * top eighth of the bins and the frame's broadband gain (so that noise is attenuated at least
   * as much up there as below), smoothed (fast rise, slower fall) so that it never pumps.
   */
  private upperGain = 1;

  private updateUpperGain(spectrum: Float32Array, mask: Float32Array): void {
    const { binCount } = this;
    const from = binCount - Math.floor(binCount / 8);
    let top = 0;
    for (let k = from; k < binCount; k++) top += mask[k];
    top /= binCount - from;
    let kept = 0;
    let total = 0;
    for (let k = 0; k < binCount; k++) {
      const e = spectrum[2 * k] * spectrum[2 * k] + spectrum[2 * k + 1] * spectrum[2 * k + 1];
      kept += e * mask[k] * mask[k];
      total += e;
    }
    const broadband = total > 0 ? Math.sqrt(kept / total) : top;
    const target = top < broadband ? top : broadband;
    this.upperGain += (target - this.upperGain) * (target > this.upperGain ? 0.5 : 0.2);
  }

  /**
   * One hop of output: the frame due now is masked, synthesised and overlap-added.
   *
   * With `upperGain`, the caller carries the band above the model's Nyquist frequency itself,
   * as g·(its input, delayed), with g written per sample into `upperGain`; the output then has
   * g·(this engine's delayed input) taken off, so that after upsampling the two add up to the
   * processed low band plus g·(the high band). In bypass g = 1 and this output is exactly 0:
   * the caller's delayed input alone, every band of it, bit for bit.
   */
  pullHop(output: Float32Array, upperGain?: Float32Array): void {
    const { hopSize, fftSize, synthesisSize, overlap, frameOut, binCount } = this;
    const due = this.framesPushed - 1 - this.maskLatency;
    if (this.provisionalFrame >= 0) {
      // Its mask did not come in time to correct the rest of it either.
      this.provisionalFrame = -1;
      this.lateMasks++;
      this.lateInARow++;
    }
    if (due >= 0) {
      const slot = due % this.slots;
      let provisional = false;
      if (this.maskFrame[slot] === due) {
        this.heldMask.set(this.masks[slot]);
        this.lateInARow = 0;
      } else if (this.modelReady && !this.holding && due >= this.readyFrom) {
        provisional = !this.isStarved; // while starved, no mask is expected to catch up
        if (!provisional) this.lateMasks++;
      }
      this.updateFadeTarget();
      const { currentMask: mask, heldMask: held, maskFloor: floor } = this;
      for (let k = 0; k < binCount; k++) {
        const m = held[k];
        mask[k] = m > floor ? m : floor;
      }
      if (provisional) {
        this.provisionalFrame = due;
        this.provisionalMask.set(mask);
      }
      if (upperGain) this.updateUpperGain(this.spectra[slot], mask);
      this.spectral.synthesize(this.spectra[slot], mask, frameOut);
      const start = fftSize - synthesisSize;
      for (let n = 0; n < synthesisSize; n++) overlap[n] += frameOut[start + n];
    }
    // The first hop of the accumulator is complete: every overlapping frame has been added.
    const dryLine = this.dryLine;
    const dryLength = dryLine.length;
    let dryRead = (this.dryWrite - hopSize - this.delaySamples + 2 * dryLength) % dryLength;
    const processed = due >= 0;
    if (this.fade === 1 && this.fadeTarget === 1) {
      // Processing, and staying so: the common case, without the crossfade's arithmetic.
      const upper = this.upperGain;
      for (let i = 0; i < hopSize; i++) {
        const dry = dryLine[dryRead];
        if (++dryRead === dryLength) dryRead = 0;
        const wet = processed ? overlap[i] : 0;
        if (upperGain) {
          upperGain[i] = upper;
          output[i] = wet - upper * dry;
        } else output[i] = wet;
      }
    } else {
      for (let i = 0; i < hopSize; i++) {
        const dry = dryLine[dryRead];
        if (++dryRead === dryLength) dryRead = 0;
        if (this.fade !== this.fadeTarget) {
          this.fade =
            this.fade < this.fadeTarget
              ? Math.min(this.fadeTarget, this.fade + this.fadeStep)
              : Math.max(this.fadeTarget, this.fade - this.fadeStep);
        }
        const wet = processed ? overlap[i] : 0;
        output[i] = this.fade === 1 ? wet : this.fade === 0 ? dry : dry + (wet - dry) * this.fade;
        if (upperGain) {
          const g = this.fade === 0 ? 1 : this.fade * this.upperGain + (1 - this.fade);
          upperGain[i] = g;
          output[i] -= g * dry;
        }
      }
    }
    overlap.copyWithin(0, hopSize);
    overlap.fill(0, synthesisSize - hopSize);
  }
}

/** A sample as the engine takes it: NaN and ±Inf become 0, the rest is clipped to [−1, 1]. */
export function cleanSample(x: number): number {
  return x >= -1 && x <= 1 ? x : x > 1 ? 1 : x < -1 ? -1 : 0;
}

/** A gain in [0, 1]; NaN becomes 1 (pass the bin through). */
function sanitiseGain(m: number): number {
  return m >= 0 ? (m <= 1 ? m : 1) : m < 0 ? 0 : 1;
}

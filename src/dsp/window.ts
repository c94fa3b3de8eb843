/**
 * Analysis and synthesis windows for a perfect-reconstruction STFT, by the name a model card
 * gives. Both windows are fftSize long; the synthesis window is zero before its last
 * `synthesisSize` samples, and only that span of each frame is overlap-added. The algorithmic
 * delay is synthesisSize − hopSize. training/quell/config.py computes the same windows.
 *
 * - "sqrt-hann": a periodic √Hann for analysis and its dual for synthesis,
 *   w_s[n] = w_a[n] / Σ_k w_a[n + k·hop]²; synthesisSize = fftSize (delay fftSize − hop).
 * - "low-delay" (Mauler & Martin 2011): the analysis window rises over fftSize − taper samples
 *   and falls over the last `taper` = synthesisSize − hop; synthesis covers only the last
 *   hop + taper samples, chosen so analysis × synthesis is a flat top (sin² rise, 1, cos² fall)
 *   whose copies at the hop sum to one. The frequency resolution of a long window, the delay
 *   of the taper.
 */
export interface Framing {
  fftSize: number;
  hopSize: number;
  window: string;
  /** Span of each frame that is synthesised; absent in older cards (= fftSize). */
  synthesisSize?: number;
}

export interface FramingWindows {
  analysis: Float32Array;
  synthesis: Float32Array;
  synthesisSize: number;
}

export const WINDOW_NAMES = ['sqrt-hann', 'low-delay'] as const;

export function sqrtHannWindow(size: number): Float32Array {
  const w = new Float32Array(size);
  for (let n = 0; n < size; n++) w[n] = Math.sqrt(0.5 - 0.5 * Math.cos((2 * Math.PI * n) / size));
  return w;
}

export function dualWindow(analysis: Float32Array, hopSize: number): Float32Array {
  const size = analysis.length;
  const w = new Float32Array(size);
  for (let n = 0; n < size; n++) {
    let sum = 0;
    for (let k = n % hopSize; k < size; k += hopSize) sum += analysis[k] * analysis[k];
    w[n] = sum > 0 ? analysis[n] / sum : 0;
  }
  return w;
}

/** The span of each frame that a framing synthesises. */
export function synthesisSizeOf(f: Framing): number {
  return f.window === 'sqrt-hann' ? f.fftSize : (f.synthesisSize ?? f.fftSize);
}

/** Samples from input to output that the framing itself costs (mask wait not included). */
export function framingDelay(f: Framing): number {
  return synthesisSizeOf(f) - f.hopSize;
}

/** Why a framing cannot be used, or null if it can. */
export function framingProblem(f: Framing): string | null {
  if (!(WINDOW_NAMES as readonly string[]).includes(f.window)) {
    return `unsupported window "${f.window}" (expected ${WINDOW_NAMES.map((n) => `"${n}"`).join(' or ')})`;
  }
  if (f.window === 'low-delay') {
    const size = f.synthesisSize;
    if (typeof size !== 'number' || !Number.isInteger(size) || size <= f.hopSize || size > 2 * f.hopSize) {
      return `"synthesisSize" must be an integer in (hopSize, 2·hopSize] for the low-delay window, got ${String(size)}`;
    }
  }
  return null;
}

export function framingWindows(f: Framing): FramingWindows {
  const problem = framingProblem(f);
  if (problem) throw new Error(problem);
  const { fftSize, hopSize } = f;
  if (f.window === 'sqrt-hann') {
    const analysis = sqrtHannWindow(fftSize);
    return { analysis, synthesis: dualWindow(analysis, hopSize), synthesisSize: fftSize };
  }
  const size = synthesisSizeOf(f);
  const taper = size - hopSize;
  const rise = fftSize - taper;
  const analysis = new Float32Array(fftSize);
  for (let n = 0; n < fftSize; n++) {
    analysis[n] = n < rise ? Math.sin((0.5 * Math.PI * n) / rise) : Math.cos((0.5 * Math.PI * (n - rise + 0.5)) / taper);
  }
  const synthesis = new Float32Array(fftSize);
  for (let m = 0; m < size; m++) {
    const flatTop =
      m < taper
        ? Math.sin((0.5 * Math.PI * (m + 0.5)) / taper) ** 2
        : m < hopSize
          ? 1
          : Math.cos((0.5 * Math.PI * (m - hopSize + 0.5)) / taper) ** 2;
    const n = fftSize - size + m;
    synthesis[n] = flatTop / analysis[n];
  }
  return { analysis, synthesis, synthesisSize: size };
}

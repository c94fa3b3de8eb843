/**
 * Analysis and synthesis windows for a perfect-reconstruction STFT.
 *
 * The analysis window is a periodic square-root Hann. The synthesis window is its dual for the
 * given hop: w_s[n] = w_a[n] / Σ_k w_a[n + k·hop]², so that analysis → synthesis → overlap-add
 * with a mask of ones gives the input back exactly (delayed by fftSize − hopSize samples).
 */
export function sqrtHannWindow(size: number): Float32Array {
  const w = new Float32Array(size);
  for (let n = 0; n < size; n++) w[n] = Math.sqrt(0.5 - 0.5 * Math.cos((2 * Math.PI * n) / size));
  return w;
}

export function synthesisWindow(analysis: Float32Array, hopSize: number): Float32Array {
  const size = analysis.length;
  const w = new Float32Array(size);
  for (let n = 0; n < size; n++) {
    let sum = 0;
    for (let k = n % hopSize; k < size; k += hopSize) sum += analysis[k] * analysis[k];
    w[n] = sum > 0 ? analysis[n] / sum : 0;
  }
  return w;
}

/** Window by name, as the model card states it. */
export function analysisWindow(name: string, size: number): Float32Array {
  if (name === 'sqrt-hann') return sqrtHannWindow(size);
  throw new Error(`unsupported window "${name}" in model card (expected "sqrt-hann")`);
}

import FFT from 'fft.js';
import { type Framing, framingWindows } from './window';

/**
 * One STFT frame at a time: window + real FFT + magnitudes on the way in, mask + inverse FFT
 * + synthesis window on the way out. All buffers are allocated once, in the constructor, so
 * the audio thread can call it every render quantum without creating garbage.
 */
export class SpectralProcessor {
  readonly fftSize: number;
  readonly binCount: number;
  /** The last synthesisSize samples of each synthesised frame are the ones to overlap-add. */
  readonly synthesisSize: number;
  private readonly halfFft: FFT;
  /** cos and sin of 2πk/fftSize, k < fftSize/2: the twiddles that split a half-size FFT's output, or join its input. */
  private readonly twiddleCos: Float64Array;
  private readonly twiddleSin: Float64Array;
  private readonly analysis: Float32Array;
  /** The synthesis window over M, the odd samples' negated (see synthesize). */
  private readonly synthesisScaled: Float64Array;
  private readonly windowed: Float32Array;
  private readonly half: number[];
  private readonly halfTime: number[];

  constructor(framing: Framing) {
    const { fftSize } = framing;
    this.fftSize = fftSize;
    this.binCount = fftSize / 2 + 1;
    const windows = framingWindows(framing);
    this.analysis = windows.analysis;
    this.synthesisScaled = Float64Array.from(windows.synthesis, (w, n) => ((n % 2 ? -1 : 1) * w) / (fftSize / 2));
    this.synthesisSize = windows.synthesisSize;
    this.windowed = new Float32Array(fftSize);
    this.halfFft = new FFT(fftSize / 2);
    this.half = this.halfFft.createComplexArray();
    this.halfTime = this.halfFft.createComplexArray();
    this.twiddleCos = new Float64Array(fftSize / 2);
    this.twiddleSin = new Float64Array(fftSize / 2);
    for (let k = 0; k < fftSize / 2; k++) {
      this.twiddleCos[k] = Math.cos((2 * Math.PI * k) / fftSize);
      this.twiddleSin[k] = Math.sin((2 * Math.PI * k) / fftSize);
    }
  }

  /**
   * frame (fftSize samples, oldest first) → spectrum (binCount complex, interleaved re/im) and magnitudes.
   *
   * The frame is real, so it is transformed at half size: read as fftSize/2 complex samples
   * z[m] = x[2m] + i·x[2m+1] (the windowed frame as it lies in memory), its M-point FFT Z gives
   * the spectra of the even and odd samples, E[k] = (Z[k] + Z*[M−k])/2 and
   * O[k] = (Z[k] − Z*[M−k])/(2i), and X[k] = E[k] + e^{−2πik/fftSize}·O[k].
   */
  analyze(frame: Float32Array, spectrum: Float32Array, magnitudes: Float32Array): void {
    const { fftSize, windowed, half, twiddleCos, twiddleSin, analysis } = this;
    const m = fftSize / 2;
    for (let n = 0; n < fftSize; n++) windowed[n] = frame[n] * analysis[n];
    this.halfFft.transform(half, windowed as unknown as number[]);
    // k = 0 and k = M: E[0] = Re Z[0], O[0] = Im Z[0], both real, and e^{−iπ} = −1
    const dc = half[0] + half[1];
    const nyquist = half[0] - half[1];
    spectrum[0] = dc;
    spectrum[1] = 0;
    magnitudes[0] = Math.abs(dc);
    spectrum[2 * m] = nyquist;
    spectrum[2 * m + 1] = 0;
    magnitudes[m] = Math.abs(nyquist);
    for (let k = 1; k < m; k++) {
      const zr = half[2 * k];
      const zi = half[2 * k + 1];
      const cr = half[2 * (m - k)];
      const ci = half[2 * (m - k) + 1];
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi - ci);
      const or = 0.5 * (zi + ci);
      const oi = -0.5 * (zr - cr);
      // e^{−iθ} = cos θ − i·sin θ, θ = 2πk/fftSize
      const c = twiddleCos[k];
      const sn = twiddleSin[k];
      const re = er + or * c + oi * sn;
      const im = ei + oi * c - or * sn;
      spectrum[2 * k] = re;
      spectrum[2 * k + 1] = im;
      magnitudes[k] = Math.sqrt(re * re + im * im);
    }
  }

  /**
   * spectrum × mask → time frame multiplied by the synthesis window, ready to overlap-add: the
   * last synthesisSize samples of frameOut (the window is zero before them; the rest is left as it was).
   *
   * The frame is real, so its inverse FFT is done at half size: with X the masked spectrum,
   * M = fftSize/2, E[k] = (X[k] + X*[M−k])/2 and O[k] = (X[k] − X*[M−k])/2 · e^{2πik/fftSize}
   * are the spectra of the even and odd samples, and the M-point inverse FFT of E + iO gives
   * x[2m] + i·x[2m+1]. Half the work of the full complex inverse it replaces. The inverse is a
   * forward FFT of the conjugate, conjugated, over M: the signs and the 1/M are in
   * `synthesisScaled`, which spares fft.js's inverse its own pass dividing by M.
   */
  synthesize(spectrum: Float32Array, mask: Float32Array, frameOut: Float32Array): void {
    const { fftSize, half, halfTime, twiddleCos, twiddleSin, synthesisScaled } = this;
    const m = fftSize / 2;
    for (let k = 0; k < m; k++) {
      const ar = spectrum[2 * k] * mask[k];
      const ai = spectrum[2 * k + 1] * mask[k];
      const br = spectrum[2 * (m - k)] * mask[m - k];
      const bi = spectrum[2 * (m - k) + 1] * mask[m - k];
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai - bi);
      const dr = 0.5 * (ar - br);
      const di = 0.5 * (ai + bi);
      const or = dr * twiddleCos[k] - di * twiddleSin[k];
      const oi = dr * twiddleSin[k] + di * twiddleCos[k];
      half[2 * k] = er - oi;
      half[2 * k + 1] = -(ei + or); // conjugated
    }
    this.halfFft.transform(halfTime, half);
    // the synthesis window is zero before its last synthesisSize samples: only those are written
    for (let n = fftSize - this.synthesisSize; n < fftSize; n++) frameOut[n] = halfTime[n] * synthesisScaled[n];
  }
}

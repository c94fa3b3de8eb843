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
  private readonly fft: FFT;
  private readonly halfFft: FFT;
  /** e^{+2πik/fftSize}, k < fftSize/2: the twiddles that split a half-size inverse FFT. */
  private readonly twiddleCos: Float64Array;
  private readonly twiddleSin: Float64Array;
  private readonly analysis: Float32Array;
  private readonly synthesis: Float32Array;
  private readonly windowed: Float32Array;
  private readonly full: number[];
  private readonly half: number[];
  private readonly halfTime: number[];

  constructor(framing: Framing) {
    const { fftSize } = framing;
    this.fftSize = fftSize;
    this.binCount = fftSize / 2 + 1;
    this.fft = new FFT(fftSize);
    const windows = framingWindows(framing);
    this.analysis = windows.analysis;
    this.synthesis = windows.synthesis;
    this.synthesisSize = windows.synthesisSize;
    this.windowed = new Float32Array(fftSize);
    this.full = this.fft.createComplexArray();
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

  /** frame (fftSize samples, oldest first) → spectrum (binCount complex, interleaved re/im) and magnitudes. */
  analyze(frame: Float32Array, spectrum: Float32Array, magnitudes: Float32Array): void {
    const { fftSize, binCount, windowed, full } = this;
    for (let n = 0; n < fftSize; n++) windowed[n] = frame[n] * this.analysis[n];
    this.fft.realTransform(full, windowed);
    for (let k = 0; k < binCount; k++) {
      const re = full[2 * k];
      const im = full[2 * k + 1];
      spectrum[2 * k] = re;
      spectrum[2 * k + 1] = im;
      magnitudes[k] = Math.sqrt(re * re + im * im);
    }
  }

  /**
   * spectrum × mask → time frame multiplied by the synthesis window, ready to overlap-add.
   *
   * The frame is real, so its inverse FFT is done at half size: with X the masked spectrum,
   * M = fftSize/2, E[k] = (X[k] + X*[M−k])/2 and O[k] = (X[k] − X*[M−k])/2 · e^{2πik/fftSize}
   * are the spectra of the even and odd samples, and the M-point inverse FFT of E + iO gives
   * x[2m] + i·x[2m+1]. Half the work of the full complex inverse it replaces.
   */
  synthesize(spectrum: Float32Array, mask: Float32Array, frameOut: Float32Array): void {
    const { fftSize, half, halfTime, twiddleCos, twiddleSin, synthesis } = this;
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
      half[2 * k + 1] = ei + or;
    }
    this.halfFft.inverseTransform(halfTime, half);
    for (let n = 0; n < m; n++) {
      frameOut[2 * n] = halfTime[2 * n] * synthesis[2 * n];
      frameOut[2 * n + 1] = halfTime[2 * n + 1] * synthesis[2 * n + 1];
    }
  }
}

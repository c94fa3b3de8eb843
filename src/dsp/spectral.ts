import FFT from 'fft.js';
import { analysisWindow, synthesisWindow } from './window';

/**
 * One STFT frame at a time: window + real FFT + magnitudes on the way in, mask + inverse FFT
 * + synthesis window on the way out. All buffers are allocated once, in the constructor, so
 * the audio thread can call it every render quantum without creating garbage.
 */
export class SpectralProcessor {
  readonly fftSize: number;
  readonly binCount: number;
  private readonly fft: FFT;
  private readonly analysis: Float32Array;
  private readonly synthesis: Float32Array;
  private readonly windowed: Float32Array;
  private readonly full: number[];
  private readonly timeComplex: number[];

  constructor(fftSize: number, hopSize: number, windowName = 'sqrt-hann') {
    this.fftSize = fftSize;
    this.binCount = fftSize / 2 + 1;
    this.fft = new FFT(fftSize);
    this.analysis = analysisWindow(windowName, fftSize);
    this.synthesis = synthesisWindow(this.analysis, hopSize);
    this.windowed = new Float32Array(fftSize);
    this.full = this.fft.createComplexArray();
    this.timeComplex = this.fft.createComplexArray();
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

  /** spectrum × mask → time frame multiplied by the synthesis window, ready to overlap-add. */
  synthesize(spectrum: Float32Array, mask: Float32Array, frameOut: Float32Array): void {
    const { fftSize, binCount, full } = this;
    for (let k = 0; k < binCount; k++) {
      full[2 * k] = spectrum[2 * k] * mask[k];
      full[2 * k + 1] = spectrum[2 * k + 1] * mask[k];
    }
    // Hermitian mirror: a real mask keeps the signal real.
    for (let k = binCount; k < fftSize; k++) {
      full[2 * k] = full[2 * (fftSize - k)];
      full[2 * k + 1] = -full[2 * (fftSize - k) + 1];
    }
    this.fft.inverseTransform(this.timeComplex, full);
    for (let n = 0; n < fftSize; n++) frameOut[n] = this.timeComplex[2 * n] * this.synthesis[n];
  }
}

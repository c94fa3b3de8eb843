/**
 * Keeps the last 30 s of two inputs (0: microphone, 1: what goes to the speakers) on one
 * timeline, for A/B listening, WAV downloads and the browser tests' capture hook.
 * Buffers are allocated once; `dump` copies them out in time order.
 */
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: unknown): void;

const SECONDS = 30;

class RecorderProcessor extends AudioWorkletProcessor {
  private readonly tracks = [new Float32Array(SECONDS * sampleRate), new Float32Array(SECONDS * sampleRate)];
  private write = 0;
  private total = 0;

  constructor() {
    super();
    this.port.onmessage = (e: MessageEvent) => {
      if (e.data.type === 'dump') this.dump(e.data.id);
      else if (e.data.type === 'clear') this.write = this.total = 0;
    };
  }

  private dump(id: number): void {
    const size = this.tracks[0].length;
    const n = Math.min(this.total, size);
    const start = (this.write - n + size) % size;
    const out = this.tracks.map((t) => {
      const copy = new Float32Array(n);
      for (let i = 0; i < n; i++) copy[i] = t[(start + i) % size];
      return copy;
    });
    this.port.postMessage({ id, sampleRate, input: out[0], output: out[1], totalSamples: this.total }, [out[0].buffer, out[1].buffer]);
  }

  process(inputs: Float32Array[][]): boolean {
    const size = this.tracks[0].length;
    const n = inputs[0]?.[0]?.length ?? inputs[1]?.[0]?.length ?? 128;
    for (let t = 0; t < 2; t++) {
      const src = inputs[t]?.[0];
      const dst = this.tracks[t];
      for (let i = 0; i < n; i++) dst[(this.write + i) % size] = src ? src[i] : 0;
    }
    this.write = (this.write + n) % size;
    this.total += n;
    return true;
  }
}

registerProcessor('quell-recorder', RecorderProcessor);

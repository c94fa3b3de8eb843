/**
 * Denoises a file off the main thread with the same engine as the live path. A WAV file is read
 * from disk a chunk at a time and the result is gathered as a Blob, so the page's memory does
 * not grow with the file's length; other formats arrive decoded by the page.
 */
import * as ort from 'onnxruntime-web/wasm';
import { loadRunnerFromUrl } from '../model/load-web';
import { channelsSource, denoiseFrames, type FrameSource } from './offline';
import type { FromFileWorker, ToFileWorker } from '../protocol';
import { decodeFrames, encodeFrames, readWavLayout, wavHeader } from '../io/wav';

ort.env.wasm.numThreads = 1;

// A worker-only global, which the DOM typings this project compiles against do not declare.
declare const FileReaderSync: { new (): { readAsArrayBuffer(blob: Blob): ArrayBuffer } };

const scope = self as unknown as { postMessage(m: FromFileWorker): void; onmessage: ((e: MessageEvent<ToFileWorker>) => void) | null };

/** A WAV file read piece by piece (workers may read files synchronously). */
function wavSource(file: File): FrameSource {
  const reader = new FileReaderSync();
  const read = (offset: number, length: number) => new Uint8Array(reader.readAsArrayBuffer(file.slice(offset, offset + length)));
  const layout = readWavLayout(read, file.size, file.name);
  return {
    sampleRate: layout.sampleRate,
    channelCount: layout.channelCount,
    frames: layout.frames,
    read: (from, n, into) => {
      decodeFrames(read(layout.dataOffset + from * layout.frameBytes, n * layout.frameBytes), layout, into);
    },
  };
}

scope.onmessage = async (e: MessageEvent<ToFileWorker>) => {
  const job = e.data;
  try {
    const source = 'file' in job ? wavSource(job.file) : channelsSource(job.channels, job.sampleRate);
    if (source.frames === 0) throw new Error('the file holds no audio');
    const runner = await loadRunnerFromUrl(ort, job.cardUrl);
    const started = performance.now();
    // 16-bit output: what players and call apps expect, and a quarter of the size of float.
    const parts: BlobPart[] = [wavHeader(source.channelCount, source.sampleRate, 'pcm16', source.frames) as BlobPart];
    await denoiseFrames(source, runner, (pieces) => void parts.push(encodeFrames(pieces, 'pcm16') as BlobPart), {
      maxAttenuationDb: job.maxAttenuationDb,
      onProgress: (fraction) => scope.postMessage({ type: 'progress', fraction }),
    });
    const wav = new Blob(parts, { type: 'audio/wav' });
    scope.postMessage({
      type: 'done',
      wav,
      seconds: source.frames / source.sampleRate,
      processingSeconds: (performance.now() - started) / 1000,
    });
  } catch (err) {
    scope.postMessage({ type: 'error', message: (err as Error).message });
  }
};

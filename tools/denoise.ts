/**
 * Denoise WAV files offline with the same engine code the browser runs.
 *
 *   npm run denoise -- IN.wav OUT.wav [--model models/quell-gru.json] [--max-attenuation 40]
 *   npm run denoise -- IN_DIR OUT_DIR          (every .wav in IN_DIR)
 *   npm run denoise -- rec.wav rec.wav --in-place
 *
 * Never loses a recording: each output is written to a temporary file beside it and renamed
 * into place only when complete, and an output that is its own input is refused unless
 * --in-place is given. A batch goes through every file, names each one that failed, and exits
 * non-zero if any did. Ends with one JSON line: files, audio seconds, processing seconds,
 * real-time factor.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRunner, readModelIndex } from '../src/model/load-node';
import type { ModelRunner } from '../src/model/model-runner';
import { CHUNK_FRAMES, denoiseFrames, peakOf, type FrameSource } from '../src/offline/offline';
import { decodeFrames, encodeFrames, readWavLayout, wavHeader } from '../src/io/wav';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// `npm run` starts scripts in the package root; paths the user typed are relative to where they were.
const userDir = process.env.INIT_CWD ?? process.cwd();

const USAGE = `usage: npm run denoise -- IN.wav OUT.wav | IN_DIR OUT_DIR [options]

  --model CARD.json        model card (default: the bundled default model)
  --max-attenuation DB     at most DB decibels of suppression, a number ≥ 0 (default: no limit)
  --in-place               allow OUT to be IN (written atomically: the original stays until the new file is complete)
  --help                   this text`;

export function defaultCardPath(): string {
  return readModelIndex(join(root, 'models')).defaultCard;
}

class UsageError extends Error {}

interface Options {
  cardPath: string;
  maxAttenuationDb: number;
  inPlace: boolean;
  input: string;
  output: string;
}

export function parseArgs(args: string[]): Options | 'help' {
  let cardPath = '';
  let maxAttenuationDb = Infinity;
  let inPlace = false;
  const paths: string[] = [];
  const value = (i: number, name: string) => {
    const v = args[i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--model') cardPath = resolve(userDir, value(++i, '--model'));
    else if (a === '--max-attenuation') {
      const text = value(++i, '--max-attenuation');
      const db = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(db)) throw new UsageError(`--max-attenuation must be a number of decibels ≥ 0, got "${text}"`);
      maxAttenuationDb = db;
    } else if (a === '--in-place') inPlace = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    else paths.push(a);
  }
  if (paths.length !== 2) throw new UsageError(`expected an input and an output, got ${paths.length} path${paths.length === 1 ? '' : 's'}`);
  return {
    cardPath: cardPath || defaultCardPath(),
    maxAttenuationDb,
    inPlace,
    input: resolve(userDir, paths[0]),
    output: resolve(userDir, paths[1]),
  };
}

/** The same file or folder, whatever the spelling (links, relative paths). */
function samePath(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

/**
 * A file written beside `path` and renamed over it only when complete, so that a failure (a full
 * disk, a crash) never leaves a truncated file where the output, or the input, was.
 */
class AtomicFile {
  private readonly temporary: string;
  private readonly fd: number;

  constructor(private readonly path: string) {
    this.temporary = join(dirname(path), `.${basename(path)}.quell-${process.pid}.tmp`);
    this.fd = this.attempt(() => openSync(this.temporary, 'w'));
  }

  write(bytes: Uint8Array): void {
    this.attempt(() => {
      for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at);
    });
  }

  commit(): void {
    this.attempt(() => {
      closeSync(this.fd);
      renameSync(this.temporary, this.path);
    });
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    rmSync(this.temporary, { force: true });
  }

  private attempt<T>(action: () => T): T {
    try {
      return action();
    } catch (e) {
      rmSync(this.temporary, { force: true });
      throw new Error(`could not write ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * Denoise one file to another, streaming: the input is read, and the output written, a chunk
 * at a time (see denoiseFrames). Returns the audio's length in seconds.
 */
async function denoiseFile(
  src: string,
  dst: string,
  runner: ModelRunner,
  maxAttenuationDb: number,
  onProgress: (fraction: number) => void,
): Promise<number> {
  let fd: number;
  try {
    fd = openSync(src, 'r');
  } catch (e) {
    throw new Error(`could not read ${src}: ${(e as Error).message}`, { cause: e });
  }
  let output: AtomicFile | null = null;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${src} is not a file`);
    const read = (offset: number, length: number) => {
      const b = Buffer.alloc(length);
      let n = 0;
      try {
        n = readSync(fd, b, 0, length, offset);
      } catch (e) {
        throw new Error(`could not read ${src}: ${(e as Error).message}`, { cause: e });
      }
      return b.subarray(0, n);
    };
    const layout = readWavLayout(read, stat.size, src);
    const { channelCount, frames, sampleRate } = layout;
    const source: FrameSource = {
      sampleRate,
      channelCount,
      frames,
      read: (from, n, into) => {
        if (decodeFrames(read(layout.dataOffset + from * layout.frameBytes, n * layout.frameBytes), layout, into) < n)
          throw new Error(`could not read ${src}: it ended early`);
      },
    };
    if (layout.encoding.startsWith('float')) {
      // Float audio can go past full scale: a first pass finds how far.
      const chunk = Array.from({ length: channelCount }, () => new Float32Array(Math.min(CHUNK_FRAMES, frames)));
      source.peak = 0;
      for (let done = 0; done < frames; done += CHUNK_FRAMES) {
        const n = Math.min(CHUNK_FRAMES, frames - done);
        source.read(done, n, chunk);
        source.peak = Math.max(source.peak, peakOf(chunk, n));
      }
      const over = 20 * Math.log10(source.peak);
      if (over > 0)
        console.error(
          `denoise: ${src} goes ${over.toFixed(1)} dB past full scale: denoised ${over.toFixed(1)} dB lower and given its level back`,
        );
    }
    const encoding = ['pcm16', 'pcm24'].includes(layout.encoding) ? layout.encoding : 'float32';
    mkdirSync(dirname(dst), { recursive: true });
    const out: AtomicFile = (output = new AtomicFile(dst));
    out.write(wavHeader(channelCount, sampleRate, encoding, frames));
    const long = frames >= 10 * sampleRate; // short files finish before anyone looks at progress
    await denoiseFrames(source, runner, (pieces) => out.write(encodeFrames(pieces, encoding)), {
      maxAttenuationDb,
      onProgress: long ? onProgress : undefined,
    });
    out.commit();
    return frames / sampleRate;
  } catch (e) {
    output?.abort();
    throw e;
  } finally {
    closeSync(fd);
  }
}

function plan(o: Options): [string, string][] {
  if (!existsSync(o.input)) throw new UsageError(`input ${o.input} does not exist`);
  if (!statSync(o.input).isDirectory()) {
    if (existsSync(o.output) && statSync(o.output).isDirectory())
      throw new UsageError(`output ${o.output} is a folder; give a file name, or give a folder as input too`);
    if (samePath(o.input, o.output) && !o.inPlace)
      throw new UsageError(`output ${o.output} is the input: pass --in-place to replace it (atomically)`);
    return [[o.input, o.output]];
  }
  if (existsSync(o.output) && !statSync(o.output).isDirectory())
    throw new UsageError(`input ${o.input} is a folder, so the output must be one too: ${o.output} is a file`);
  const inside = relative(o.input, o.output);
  if (samePath(o.input, o.output) && !o.inPlace)
    throw new UsageError(`output folder ${o.output} is the input folder: pass --in-place to replace its files (atomically)`);
  if (!samePath(o.input, o.output) && inside && !inside.startsWith('..'))
    throw new UsageError(`output folder ${o.output} is inside the input folder ${o.input}`);
  const files = readdirSync(o.input)
    .filter((f) => f.toLowerCase().endsWith('.wav') && statSync(join(o.input, f)).isFile())
    .sort();
  if (files.length === 0) throw new UsageError(`no .wav files in ${o.input}`);
  return files.map((f) => [join(o.input, f), join(o.output, f)]);
}

async function main(): Promise<number> {
  let options: Options | 'help';
  let jobs: [string, string][];
  try {
    options = parseArgs(process.argv.slice(2));
    if (options === 'help') {
      console.log(USAGE);
      return 0;
    }
    jobs = plan(options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`denoise: ${e.message}\n${USAGE}`);
    return 2;
  }
  const runner = await loadRunner(options.cardPath);
  let audioSeconds = 0;
  const failed: string[] = [];
  const started = performance.now();
  const interactive = process.stderr.isTTY;
  for (const [src, dst] of jobs) {
    try {
      let lastShown = -1;
      const onProgress = (f: number) => {
        const pct = Math.floor(f * 100);
        if (pct === lastShown || pct % 10 !== 0) return;
        lastShown = pct;
        process.stderr.write(interactive ? `\r${basename(src)}: ${pct}%${pct === 100 ? '\n' : ''}` : `${basename(src)}: ${pct}%\n`);
      };
      audioSeconds += await denoiseFile(src, dst, runner, options.maxAttenuationDb, onProgress);
    } catch (e) {
      failed.push(src);
      console.error(`denoise: ${(e as Error).message}`);
    }
  }
  const processingSeconds = (performance.now() - started) / 1000;
  if (jobs.length > 1 || failed.length)
    console.error(
      `denoise: ${jobs.length - failed.length} of ${jobs.length} file${jobs.length === 1 ? '' : 's'} denoised${failed.length ? `; failed: ${failed.join(', ')}` : ''}`,
    );
  console.log(
    JSON.stringify({
      files: jobs.length - failed.length,
      failed: failed.length,
      model: runner.card.name,
      audioSeconds: +audioSeconds.toFixed(3),
      processingSeconds: +processingSeconds.toFixed(3),
      realTimeFactor: audioSeconds > 0 ? +(processingSeconds / audioSeconds).toFixed(4) : null,
    }),
  );
  return failed.length ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((e: Error) => {
    console.error(`denoise: ${e.message}`);
    process.exit(1);
  });

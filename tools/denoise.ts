/**
 * Denoise WAV files offline with the same engine code the browser runs.
 *
 *   npm run denoise -- IN.wav OUT.wav [--model models/quell-gru.json] [--max-attenuation 40]
 *   npm run denoise -- IN_DIR OUT_DIR          (every .wav in IN_DIR)
 *
 * Ends with one JSON line: audio seconds, processing seconds, real-time factor.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRunner } from '../src/engine/load-node';
import { denoiseChannels } from '../src/engine/offline';
import { decodeWav, encodeWav } from '../src/engine/wav';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function defaultCardPath(): string {
  const index = JSON.parse(readFileSync(join(root, 'models', 'index.json'), 'utf8'));
  return join(root, 'models', index.default);
}

function usage(message?: string): never {
  if (message) console.error(`denoise: ${message}`);
  console.error('usage: npm run denoise -- IN.wav OUT.wav | IN_DIR OUT_DIR [--model CARD.json] [--max-attenuation DB]');
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let cardPath = defaultCardPath();
  let maxAttenuationDb = Infinity;
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--model') cardPath = resolve(args[++i] ?? usage('--model needs a path'));
    else if (args[i] === '--max-attenuation') maxAttenuationDb = Number(args[++i]);
    else if (args[i] === '--help' || args[i] === '-h') usage();
    else paths.push(args[i]);
  }
  if (paths.length !== 2) usage('expected an input and an output');
  const [input, output] = paths;
  if (!existsSync(input)) usage(`input ${input} does not exist`);
  const jobs: [string, string][] = [];
  if (statSync(input).isDirectory()) {
    const files = readdirSync(input).filter((f) => f.toLowerCase().endsWith('.wav')).sort();
    if (files.length === 0) usage(`no .wav files in ${input}`);
    mkdirSync(output, { recursive: true });
    for (const f of files) jobs.push([join(input, f), join(output, f)]);
  } else {
    jobs.push([input, output]);
  }
  const runner = await loadRunner(cardPath);
  let audioSeconds = 0;
  const started = performance.now();
  const interactive = process.stderr.isTTY;
  for (const [src, dst] of jobs) {
    const decoded = decodeWav(readFileSync(src), src);
    const seconds = decoded.channels[0].length / decoded.sampleRate;
    audioSeconds += seconds;
    let lastShown = -1;
    const onProgress = (f: number) => {
      const pct = Math.floor(f * 100);
      if (seconds < 10 || pct === lastShown || pct % 10 !== 0) return;
      lastShown = pct;
      process.stderr.write(interactive ? `\r${basename(src)}: ${pct}%` : `${basename(src)}: ${pct}%\n`);
    };
    const out = await denoiseChannels(decoded.channels, decoded.sampleRate, runner, { maxAttenuationDb, onProgress });
    if (interactive && seconds >= 10) process.stderr.write('\n');
    const encoding = ['pcm16', 'pcm24'].includes(decoded.encoding) ? decoded.encoding : 'float32';
    mkdirSync(dirname(resolve(dst)), { recursive: true });
    writeFileSync(dst, encodeWav(out, decoded.sampleRate, encoding));
  }
  const processingSeconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({
    files: jobs.length,
    model: runner.card.name,
    audioSeconds: +audioSeconds.toFixed(3),
    processingSeconds: +processingSeconds.toFixed(3),
    realTimeFactor: +(processingSeconds / audioSeconds).toFixed(4),
  }));
}

main().catch((e: Error) => {
  console.error(`denoise: ${e.message}`);
  process.exit(1);
});

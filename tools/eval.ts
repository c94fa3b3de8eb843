/**
 * npm run eval — the evaluation table, regenerated, never edited by hand.
 *
 * Builds (once) two fixed sets (training/make_eval_set.py): "unseen", from whole packages that
 * training never touches (other voices, languages, microphones, rooms and noises), and "val",
 * the training sources' held-out groups. Then runs the noisy input, every Quell model in
 * models/index.json and every peer (tools/peers.ts) on both, the systems shared out among
 * worker processes of this script, and writes docs/EVALUATION.md (the unseen table
 * first: it is the one that predicts what users hear) and docs/evaluation.json.
 *
 *   npm run eval [-- --limit N] [-- --jobs J]   (N clips per group, for a quick look; J processes,
 *                                                default one per core up to 4)
 *   npm run eval -- --candidate CARD [--candidate CARD…]
 *       a model that is not (yet) in models/index.json beside the default, on the unseen set, and
 *       whether the ship rule (tools/ship-rule.ts) would make it the default; writes nothing
 */
import { execFileSync, spawn } from 'node:child_process';
import { framingDelay } from '../src/dsp/window';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRunner, readCard, readModelIndex } from '../src/model/load-node';
import { denoiseChannel, denoiseParts, resampleAligned } from '../src/offline/offline';
import { decodeWav } from '../src/io/wav';
import { bestLag, energyDb, errorSplit, estoi, levelDb, siSdr, stoi } from './metrics';
import { PEERS, createPeer, runPeer } from './peers';
import { TARGETS, shipVerdict, targetsMet, type Reference } from './ship-rule';
import { gaussian, rng } from './signals';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = process.env.QUELL_CACHE ?? join(root, '.cache');
const SETS = ['unseen', 'val'] as const;
/** training/make_eval_set.py writes every clip at this rate; loadSet checks it. */
const EVAL_RATE = 16000;
type SetName = (typeof SETS)[number];

interface Item {
  id: string;
  kind: 'mix' | 'clean' | 'noise';
  noise: string;
  snr: number | null;
  speechDbfs?: number;
}
interface System {
  name: string;
  run: (x: Float32Array) => Promise<Float32Array>;
  delayMs: number;
  seconds: number;
  /** Quell's: the output's speech and noise parts (see errorSplits). */
  parts?: (mixture: Float32Array, speech: Float32Array, noise: Float32Array) => Promise<Float32Array[]>;
}

function ensureEvalSet(name: SetName): void {
  if (existsSync(join(cache, 'eval', name, 'manifest.json'))) return;
  const py = '/usr/bin/python3';
  if (!existsSync(join(cache, 'prepared', `speech_${name}.pkl`))) {
    execFileSync('bash', [join(root, 'training/fetch_data.sh')], { stdio: 'inherit' });
    execFileSync(py, [join(root, 'training/prepare_data.py')], { stdio: 'inherit' });
  }
  execFileSync(py, [join(root, 'training/make_eval_set.py'), name], { stdio: 'inherit' });
}

/**
 * A peer as a whole-file function at 16 kHz with its own delay removed. The delay is measured
 * (and removed) at the peer's own rate, so that RNNoise at 48 kHz is aligned to the sample,
 * not to the nearest 16 kHz sample. Each run starts from a fresh instance, as Quell's runs start
 * from zero state: otherwise a peer would hear every clip after the one before it (how a system
 * does after other sound is what the in-a-stream table measures, for all alike).
 */
async function peerSystem(peer: (typeof PEERS)[number], probe: Float32Array): Promise<System> {
  const probeUp = resampleAligned(probe.subarray(0, 3 * EVAL_RATE), EVAL_RATE, peer.sampleRate);
  const lag = bestLag(probeUp, runPeer(await createPeer(peer), probeUp), Math.round(0.25 * peer.sampleRate)); // its constant delay, from a clean clip
  const system: System = {
    name: peer.name,
    delayMs: (lag / peer.sampleRate) * 1000,
    seconds: 0,
    run: async (x) => {
      const instance = await createPeer(peer);
      const t = performance.now();
      const up = resampleAligned(x, EVAL_RATE, peer.sampleRate);
      const padded = new Float32Array(up.length + lag);
      padded.set(up);
      const aligned = runPeer(instance, padded).slice(lag, lag + up.length);
      const y = resampleAligned(aligned, peer.sampleRate, EVAL_RATE).slice(0, x.length);
      system.seconds += (performance.now() - t) / 1000;
      return y;
    },
  };
  return system;
}

function table(rows: string[][]): string {
  const head = `| ${rows[0].join(' | ')} |\n|${rows[0].map(() => '---').join('|')}|\n`;
  return (
    head +
    rows
      .slice(1)
      .map((r) => `| ${r.join(' | ')} |`)
      .join('\n') +
    '\n'
  );
}

type Scores = { sisdr: number; dsisdr: number; stoi: number; estoi: number; atten: number; level: number };
type Summary = ReturnType<typeof summarise>[number];

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

function loadSet(name: SetName, limit: number) {
  ensureEvalSet(name);
  const dir = join(cache, 'eval', name);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { items: Item[] };
  const perGroup = new Map<string, number>();
  const items = manifest.items.filter((it) => {
    const key = `${it.kind}:${it.noise}:${it.snr}`;
    perGroup.set(key, (perGroup.get(key) ?? 0) + 1);
    return perGroup.get(key)! <= limit;
  });
  const load = (id: string, which: string) => {
    const file = join(dir, `${id}.${which}.wav`);
    const wav = decodeWav(readFileSync(file));
    if (wav.sampleRate !== EVAL_RATE) throw new Error(`${file} is at ${wav.sampleRate} Hz; the eval set is at ${EVAL_RATE} Hz`);
    return wav.channels[0];
  };
  return { items, load };
}

/**
 * The clips scored alone from a fresh start (noise alone, clean speech alone) are run from several
 * starts a fraction of a hop apart and scored by the mean over them. From a fresh start a recurrent
 * model settles on what it hears differently for starts a few samples apart: one noise clip's
 * attenuation moves by up to 30 dB, and the median of a few clips by several, with where the clip
 * happens to fall on the frame grid. Averaged over the grid's phases, the figure is the model's and
 * not the draw's (for the peers too, on their grids). The mixtures, many more, are run once.
 */
const FRESH_START_OFFSETS = [0, 32, 64, 96];

/** `clip` run after `prefix`, as one new signal. */
function after(prefix: Float32Array, clip: Float32Array): Float32Array {
  const x = new Float32Array(prefix.length + clip.length);
  x.set(prefix);
  x.set(clip, prefix.length);
  return x;
}

/** Mean attenuation (dB) of `clip` over FRESH_START_OFFSETS, each run after `prefix` (scored on the clip alone). */
async function noiseAttenuation(system: System, clip: Float32Array, prefix: Float32Array = new Float32Array(0)): Promise<number> {
  const dbs: number[] = [];
  for (const offset of FRESH_START_OFFSETS) {
    const start = clip.subarray(offset);
    const y = await system.run(after(prefix, start));
    dbs.push(energyDb(start) - energyDb(y.subarray(prefix.length)));
  }
  return avg(dbs);
}

/** A clean clip's mean SI-SDR (at most 99 dB) and voice level over FRESH_START_OFFSETS. */
async function cleanScores(system: System, clean: Float32Array): Promise<{ sisdr: number; level: number }> {
  const sisdr: number[] = [];
  const level: number[] = [];
  for (const offset of FRESH_START_OFFSETS) {
    const input = clean.slice(offset);
    const y = await system.run(input);
    sisdr.push(Math.min(siSdr(y, input), 99));
    level.push(levelDb(y, input));
  }
  return { sisdr: avg(sisdr), level: avg(level) };
}

async function score(set: ReturnType<typeof loadSet>, systems: System[], label: string) {
  const { items, load } = set;
  const results = new Map<string, { item: Item; scores: Scores }[]>();
  let audioSeconds = 0;
  for (const [n, item] of items.entries()) {
    const clean = load(item.id, 'clean');
    const noisy = load(item.id, 'noisy');
    // every run counts towards the real-time factor, a clip alone's from each of its starts
    const runs = item.kind === 'mix' ? [noisy.length] : FRESH_START_OFFSETS.map((k) => noisy.length - k);
    audioSeconds += runs.reduce((a, b) => a + b, 0) / EVAL_RATE;
    const base = item.kind === 'mix' ? siSdr(noisy, clean) : 0; // the noisy input's, for ΔSI-SDR
    for (const s of systems) {
      const scores: Scores = { sisdr: NaN, dsisdr: NaN, stoi: NaN, estoi: NaN, atten: NaN, level: NaN };
      if (item.kind === 'noise') scores.atten = await noiseAttenuation(s, noisy);
      else if (item.kind === 'clean') Object.assign(scores, await cleanScores(s, clean));
      else {
        const y = await s.run(noisy);
        scores.sisdr = siSdr(y, clean);
        scores.dsisdr = scores.sisdr - base;
        scores.level = levelDb(y, clean);
        scores.stoi = stoi(clean, y, EVAL_RATE);
        scores.estoi = estoi(clean, y, EVAL_RATE);
      }
      if (!results.has(s.name)) results.set(s.name, []);
      results.get(s.name)!.push({ item, scores });
    }
    process.stderr.write(`\r${label}: ${n + 1}/${items.length} clips`);
  }
  process.stderr.write('\n');
  return { results, audioSeconds };
}

/**
 * What a person who keeps the page open hears: clips run again after something else, scored on
 * the clip alone. A model that locks onto what it heard first suppresses well from a fresh start
 * and badly after half a second of digital silence (a microphone that opens with zeros), two
 * seconds of a quiet room (−70 dBFS), or 8 s of speech in another noise.
 */
const QUIET_ROOM_RMS = 10 ** (-70 / 20);

const STREAM_PREFIXES = [
  'fresh start',
  'after 0.5 s of digital silence',
  'after 2 s of a quiet room',
  'after 8 s of other speech in noise',
];

interface StreamScores {
  /** Median noise-alone attenuation (each clip's mean over FRESH_START_OFFSETS) after each of STREAM_PREFIXES. */
  noiseAttenuation: number[];
  /**
   * The clean clips over a quiet room's floor (white noise at −70 dBFS RMS), from
   * FRESH_START_OFFSETS as the clean clips alone: SI-SDR of the output against that input, mean and
   * worst. The stored clean clips pause in digital silence, which no open microphone delivers.
   */
  cleanOverFloor: { mean: number; worst: number };
  /** Mean ΔSI-SDR of the mixtures, each run after the previous one (8 s of other speech in another noise). */
  deltaSiSdr: number;
}

async function streamScores(set: ReturnType<typeof loadSet>, systems: System[]): Promise<Map<string, StreamScores>> {
  const { items, load } = set;
  const noiseItems = items.filter((i) => i.kind === 'noise');
  const mixes = items.filter((i) => i.kind === 'mix');
  const random = rng(11);
  const quietRoom = Float32Array.from({ length: 2 * EVAL_RATE }, () => gaussian(random) * QUIET_ROOM_RMS);
  const perPrefix = new Map(systems.map((s) => [s.name, STREAM_PREFIXES.map(() => [] as number[])]));
  for (const [n, item] of noiseItems.entries()) {
    const noisy = load(item.id, 'noisy');
    const other = load(mixes[(n * 7) % mixes.length].id, 'noisy');
    const prefixes = [new Float32Array(0), new Float32Array(EVAL_RATE / 2), quietRoom, other];
    for (const s of systems) {
      for (const [p, prefix] of prefixes.entries()) perPrefix.get(s.name)![p].push(await noiseAttenuation(s, noisy, prefix));
    }
    process.stderr.write(`\rin a stream: ${n + 1}/${noiseItems.length} noise-alone clips`);
  }
  process.stderr.write('\n');
  const overFloor = new Map(systems.map((s) => [s.name, [] as number[]]));
  for (const item of items.filter((i) => i.kind === 'clean')) {
    const clean = load(item.id, 'clean');
    const input = clean.map((x) => x + gaussian(random) * QUIET_ROOM_RMS);
    for (const s of systems) overFloor.get(s.name)!.push((await cleanScores(s, input)).sisdr);
  }
  const gains = new Map(systems.map((s) => [s.name, [] as number[]]));
  for (const [n, item] of mixes.entries()) {
    const noisy = load(item.id, 'noisy');
    const clean = load(item.id, 'clean');
    const previous = load(mixes[(n + mixes.length - 1) % mixes.length].id, 'noisy');
    const base = siSdr(noisy, clean);
    for (const s of systems) {
      const y = await s.run(after(previous, noisy));
      gains.get(s.name)!.push(siSdr(y.subarray(previous.length), clean) - base);
    }
    process.stderr.write(`\rin a stream: ${n + 1}/${mixes.length} mixtures`);
  }
  process.stderr.write('\n');
  return new Map(
    systems.map((s) => {
      const floor = overFloor.get(s.name)!;
      return [
        s.name,
        {
          noiseAttenuation: perPrefix.get(s.name)!.map(median),
          cleanOverFloor: { mean: avg(floor), worst: Math.min(...floor) },
          deltaSiSdr: avg(gains.get(s.name)!),
        },
      ];
    }),
  );
}

/** Mean speech error and noise left (tools/metrics errorSplit) of the mixtures at each input SNR. */
type ErrorBySnr = Record<number, { speechErrorDb: number; noiseLeftDb: number }>;

/**
 * Where each Quell model's error comes from: its masks on each mixture replayed on the
 * mixture's speech alone and its noise alone (denoiseParts). Peers are whole boxes: only
 * their output can be scored.
 */
async function errorSplits(set: ReturnType<typeof loadSet>, systems: System[]): Promise<Map<string, ErrorBySnr>> {
  const { items, load } = set;
  const mixes = items.filter((i) => i.kind === 'mix');
  const split = new Map<string, Map<number, { speechErrorDb: number; noiseLeftDb: number }[]>>();
  for (const [n, item] of mixes.entries()) {
    const speech = load(item.id, 'clean');
    const noisy = load(item.id, 'noisy');
    const noise = noisy.map((v, i) => v - speech[i]);
    for (const s of systems) {
      if (!s.parts) continue;
      const [speechOut, noiseOut] = await s.parts(noisy, speech, noise);
      const bySnr = split.get(s.name) ?? split.set(s.name, new Map()).get(s.name)!;
      const rows = bySnr.get(item.snr!) ?? bySnr.set(item.snr!, []).get(item.snr!)!;
      rows.push(errorSplit(speechOut, noiseOut, speech));
    }
    process.stderr.write(`\rerror split: ${n + 1}/${mixes.length} mixtures`);
  }
  process.stderr.write('\n');
  return new Map(
    [...split].map(([name, bySnr]) => [
      name,
      Object.fromEntries(
        [...bySnr].map(([snr, rows]) => [
          snr,
          { speechErrorDb: avg(rows.map((r) => r.speechErrorDb)), noiseLeftDb: avg(rows.map((r) => r.noiseLeftDb)) },
        ]),
      ),
    ]),
  );
}

/** Scores per system, and its CPU per second of audio (`seconds` spent over `audioSeconds` scored). */
function summarise(
  items: Item[],
  systems: Pick<System, 'name' | 'seconds' | 'delayMs'>[],
  results: Map<string, { item: Item; scores: Scores }[]>,
  audioSeconds: number,
) {
  const snrs = [...new Set(items.filter((i) => i.kind === 'mix').map((i) => i.snr!))].sort((a, b) => a - b);
  const noises = [...new Set(items.filter((i) => i.kind === 'mix').map((i) => i.noise))];
  const noiseOnly = [...new Set(items.filter((i) => i.kind === 'noise').map((i) => i.noise))];
  return systems.map((s) => {
    const r = results.get(s.name)!;
    const mix = r.filter((x) => x.item.kind === 'mix');
    const clean = r.filter((x) => x.item.kind === 'clean').map((x) => x.scores.sisdr); // capped per start in cleanScores
    const quiet = r.filter((x) => x.item.kind !== 'noise' && (x.item.speechDbfs ?? 0) < -30);
    const atten = r.filter((x) => x.item.kind === 'noise');
    return {
      system: s.name,
      deltaSiSdr: avg(mix.map((x) => x.scores.dsisdr)),
      deltaSiSdrBySnr: Object.fromEntries(snrs.map((snr) => [snr, avg(mix.filter((x) => x.item.snr === snr).map((x) => x.scores.dsisdr))])),
      deltaSiSdrByNoise: Object.fromEntries(
        noises.map((nz) => [nz, avg(mix.filter((x) => x.item.noise === nz).map((x) => x.scores.dsisdr))]),
      ),
      deltaSiSdrQuietSpeech: avg(quiet.filter((x) => x.item.kind === 'mix').map((x) => x.scores.dsisdr)),
      stoi: avg(mix.map((x) => x.scores.stoi)),
      estoi: avg(mix.map((x) => x.scores.estoi)),
      cleanSiSdr: avg(clean),
      cleanSiSdrWorst: Math.min(...clean),
      /** Mean level (dB) at which the clean clips come out: what a listener hears when suppression goes on. */
      cleanLevelDb: avg(r.filter((x) => x.item.kind === 'clean').map((x) => x.scores.level)),
      noiseAttenuationDb: avg(atten.map((x) => x.scores.atten)),
      noiseAttenuationMedianDb: median(atten.map((x) => x.scores.atten)),
      noiseAttenuationByNoise: Object.fromEntries(
        noiseOnly.map((nz) => [nz, median(atten.filter((x) => x.item.noise === nz).map((x) => x.scores.atten))]),
      ),
      /** Where measured (the unseen set): scores in a stream, see streamScores. */
      inStream: undefined as StreamScores | undefined,
      /** Where measured (Quell's models on the unseen set): see errorSplits. */
      errorBySnr: undefined as ErrorBySnr | undefined,
      realTimeFactor: s.seconds / audioSeconds,
      delayMs: s.delayMs,
    };
  });
}

function streamSection(summary: Summary[]): string {
  const rows = summary.filter((s) => s.inStream);
  if (!rows.length) return '';
  return `In a stream: the same clips, each run after something else and scored on the clip alone (a page kept open hears one long stream, not clips from a fresh start). Noise alone, median attenuation (dB), and the mixtures' mean ΔSI-SDR when each follows the previous one. Last, the clean clips as an open microphone in a quiet room delivers them, over a floor of white noise at −70 dBFS RMS (the stored clips pause in digital silence), from the same ${FRESH_START_OFFSETS.length} starts as the clips alone: SI-SDR of the output against that input:

${table([
  [
    'system',
    ...STREAM_PREFIXES.map((p) => `noise alone, ${p}`),
    'ΔSI-SDR after the previous mixture (dB)',
    'clean in over a −70 dBFS floor: SI-SDR mean (worst) (dB)',
  ],
  ...rows.map((s) => [
    s.system,
    ...s.inStream!.noiseAttenuation.map((x) => x.toFixed(1)),
    s.inStream!.deltaSiSdr.toFixed(2),
    `${s.inStream!.cleanOverFloor.mean.toFixed(1)} (${s.inStream!.cleanOverFloor.worst.toFixed(1)})`,
  ]),
])}`;
}

function section(title: string, blurb: string, items: Item[], summary: Summary[]): string {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const snrs = Object.keys(summary[0].deltaSiSdrBySnr)
    .map(Number)
    .sort((a, b) => a - b);
  const noises = Object.keys(summary[0].deltaSiSdrByNoise);
  const noiseOnly = Object.keys(summary[0].noiseAttenuationByNoise);
  const main = table([
    [
      'system',
      'ΔSI-SDR (dB)',
      'STOI',
      'ESTOI',
      'clean in: SI-SDR mean (worst) (dB)',
      'clean in: voice level (dB)',
      'noise alone: attenuation median (dB)',
      'real-time factor',
      'delay (ms)',
    ],
    ...summary.map((s) => [
      s.system,
      f(s.deltaSiSdr),
      f(s.stoi, 3),
      f(s.estoi, 3),
      `${f(s.cleanSiSdr, 1)} (${f(s.cleanSiSdrWorst, 1)})`,
      f(s.cleanLevelDb, 1),
      f(s.noiseAttenuationMedianDb, 1),
      s.system === 'Noisy input' ? '–' : f(s.realTimeFactor, 4),
      f(s.delayMs, 1),
    ]),
  ]);
  const bySnr = table([
    ['system', ...snrs.map((x) => `${x} dB`)],
    ...summary.map((s) => [s.system, ...snrs.map((x) => f(s.deltaSiSdrBySnr[x]))]),
  ]);
  const byNoise = table([
    ['system', ...noises, 'speech below −30 dBFS'],
    ...summary.map((s) => [s.system, ...noises.map((x) => f(s.deltaSiSdrByNoise[x])), f(s.deltaSiSdrQuietSpeech)]),
  ]);
  const byNoiseOnly = table([
    ['system', ...noiseOnly],
    ...summary.map((s) => [s.system, ...noiseOnly.map((x) => f(s.noiseAttenuationByNoise[x], 1))]),
  ]);
  const split = summary.filter((s) => s.errorBySnr);
  const errorTable = split.length
    ? `Where Quell's error comes from, by input SNR: each model's masks on each mixture replayed on the mixture's speech alone and on its noise alone (\`denoiseParts\`), in dB against the speech the output keeps (its projection, as SI-SDR takes it): what the masks did to the voice beyond a change of level, and the noise they let through. The output's SI-SDR is about −10·log10 of the two powers' sum, so whichever is higher is what limits it (the noisy input's noise is at −SNR).

${table([
  ['system', ...snrs.map((x) => `${x} dB: speech error / noise left`)],
  ...split.map((s) => [s.system, ...snrs.map((x) => `${f(s.errorBySnr![x].speechErrorDb, 1)} / ${f(s.errorBySnr![x].noiseLeftDb, 1)}`)]),
])}`
    : '';
  const mixes = items.filter((i) => i.kind === 'mix').length;
  return `## ${title}

${blurb} ${mixes} mixtures of 8 s (noises ${noises.join(', ')}; SNR ${snrs.join(', ')} dB), ${items.filter((i) => i.kind === 'clean').length} clean-speech clips and ${items.filter((i) => i.kind === 'noise').length} noise-only clips. Each noise-only and clean-speech clip is run from ${FRESH_START_OFFSETS.length} starts (${FRESH_START_OFFSETS.join(', ')} samples in) and scored by the mean over them (attenuation and SI-SDR in dB): from a fresh start, where a clip falls on the frame grid moves one noise clip's figure by tens of dB.

${main}
ΔSI-SDR by input SNR (dB):

${bySnr}
${errorTable}
ΔSI-SDR by noise type (dB):

${byNoise}
Noise alone, median attenuation by kind (dB):

${byNoiseOnly}
${streamSection(summary)}`;
}

/** What one process measured for its share of the systems, on both sets (JSON between processes). */
interface Measured {
  systems: { name: string; delayMs: number; secondsBySet: Record<SetName, number> }[];
  results: Record<SetName, [string, { id: string; scores: Scores }[]][]>;
  audioSeconds: Record<SetName, number>;
  stream: [string, StreamScores][];
  split: [string, ErrorBySnr][];
}

const option = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** Every value given for an option that may be repeated. */
const options = (name: string) =>
  process.argv.flatMap((arg, i) => (arg === name && i + 1 < process.argv.length ? [process.argv[i + 1]] : []));

/** A Quell model as a system: its live delay, its CPU time, and its output's speech and noise parts. */
function quellSystem(name: string, runner: Awaited<ReturnType<typeof loadRunner>>): System {
  const card = runner.card;
  // Quell's live delay at 16 kHz: the framing's own delay + the mask wait (2 hops); files are compensated.
  const delayMs = ((framingDelay(card) + 2 * card.hopSize) / card.sampleRate) * 1000;
  const system: System = {
    name,
    delayMs,
    seconds: 0,
    run: async (x) => {
      const t = performance.now();
      const y = await denoiseChannel(x, EVAL_RATE, runner);
      system.seconds += (performance.now() - t) / 1000;
      return y;
    },
    parts: async (mixture, speech, noise) => (await denoiseParts(mixture, [speech, noise], EVAL_RATE, runner)).parts,
  };
  return system;
}

/** A card given with --candidate: its path and its system's name. */
interface Candidate {
  path: string;
  name: string;
}

/** Every system, or those named in `only`: the noisy input, each Quell model, each peer, and each candidate. */
async function buildSystems(probe: Float32Array, only?: Set<string>, candidates: Candidate[] = []) {
  const wanted = (name: string) => !only || only.has(name);
  const systems: System[] = [];
  if (wanted('Noisy input')) systems.push({ name: 'Noisy input', delayMs: 0, seconds: 0, run: async (x) => x });
  const cardOf = new Map<string, string>(); // system name → card path, to record its scores
  for (const cardPath of readModelIndex(join(root, 'models')).cards) {
    const runner = await loadRunner(cardPath);
    if (runner.card.fixture) continue;
    const name = `Quell ${runner.card.name}`;
    cardOf.set(name, cardPath);
    if (wanted(name)) systems.push(quellSystem(name, runner));
  }
  for (const peer of PEERS) if (wanted(peer.name)) systems.push(await peerSystem(peer, probe));
  for (const { path, name } of candidates) if (wanted(name)) systems.push(quellSystem(name, await loadRunner(path)));
  return { systems, cardOf };
}

/** Score `systems` on the sets given (and in a stream on the unseen one), in this process. */
async function measure(sets: Partial<Record<SetName, ReturnType<typeof loadSet>>>, systems: System[]): Promise<Measured> {
  const secondsBySet = new Map(systems.map((s) => [s.name, {} as Record<SetName, number>]));
  const measured: Measured = {
    systems: [],
    results: {} as Measured['results'],
    audioSeconds: {} as Measured['audioSeconds'],
    stream: [],
    split: [],
  };
  for (const name of SETS) {
    if (!sets[name]) continue;
    for (const s of systems) s.seconds = 0;
    const { results, audioSeconds } = await score(sets[name], systems, name);
    measured.results[name] = [...results].map(([system, rows]) => [system, rows.map((r) => ({ id: r.item.id, scores: r.scores }))]);
    measured.audioSeconds[name] = audioSeconds;
    for (const s of systems) secondsBySet.get(s.name)![name] = s.seconds;
    if (name === 'unseen') {
      measured.stream = [...(await streamScores(sets[name]!, systems))];
      measured.split = [...(await errorSplits(sets[name]!, systems))];
    }
  }
  measured.systems = systems.map((s) => ({ name: s.name, delayMs: s.delayMs, secondsBySet: secondsBySet.get(s.name)! }));
  return measured;
}

/**
 * The systems split over `jobs` processes of this script (one core each), by their cost on the
 * probe so that the slowest peer does not make one process last twice as long as the others.
 * Each measures its share exactly as the single-process run would; CPU time is per process.
 */
async function measureInParallel(
  systems: System[],
  probe: Float32Array,
  jobs: number,
  limit: number,
  candidates: Candidate[],
): Promise<Measured> {
  const cost = new Map<string, number>();
  for (const s of systems) {
    const t = performance.now();
    await s.run(probe);
    cost.set(s.name, performance.now() - t);
  }
  const shares: { names: string[]; cost: number }[] = Array.from({ length: jobs }, () => ({ names: [], cost: 0 }));
  for (const s of [...systems].sort((a, b) => cost.get(b.name)! - cost.get(a.name)!)) {
    const share = shares.reduce((a, b) => (b.cost < a.cost ? b : a));
    share.names.push(s.name);
    share.cost += cost.get(s.name)!;
  }
  const dir = mkdtempSync(join(tmpdir(), 'quell-eval-'));
  const parts = await Promise.all(
    shares
      .filter((share) => share.names.length)
      .map(async (share, k) => {
        const out = join(dir, `part${k}.json`);
        const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--systems', JSON.stringify(share.names), '--out', out];
        if (limit !== Infinity) args.push('--limit', String(limit));
        for (const { path } of candidates) args.push('--candidate', path);
        await new Promise<void>((done, fail) => {
          const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
          child.on('exit', (code) =>
            code === 0 ? done() : fail(new Error(`eval worker for ${share.names.join(', ')} exited with ${code}`)),
          );
        });
        return JSON.parse(readFileSync(out, 'utf8'), (_, v) => (v === null ? NaN : v)) as Measured;
      }),
  );
  rmSync(dir, { recursive: true, force: true });
  // back in the order of `systems`
  const order = (name: string) => systems.findIndex((s) => s.name === name);
  const byOrder = <T extends [string, unknown]>(xs: T[]) => xs.sort((a, b) => order(a[0]) - order(b[0]));
  return {
    systems: parts.flatMap((p) => p.systems).sort((a, b) => order(a.name) - order(b.name)),
    results: Object.fromEntries(
      Object.keys(parts[0].results).map((name) => [name, byOrder(parts.flatMap((p) => p.results[name as SetName]))]),
    ) as Measured['results'],
    audioSeconds: parts[0].audioSeconds,
    stream: byOrder(parts.flatMap((p) => p.stream)),
    split: byOrder(parts.flatMap((p) => p.split)),
  };
}

/** The scores of `name`'s set per system, the unseen set's stream and error split attached. */
function summariesOf(name: SetName, set: ReturnType<typeof loadSet>, measured: Measured): Summary[] {
  const items = new Map(set.items.map((item) => [item.id, item]));
  const results = new Map(
    measured.results[name].map(([system, rows]) => [system, rows.map((r) => ({ item: items.get(r.id)!, scores: r.scores }))]),
  );
  const scored = measured.systems.map((s) => ({ name: s.name, delayMs: s.delayMs, seconds: s.secondsBySet[name] }));
  const summary = summarise(set.items, scored, results, measured.audioSeconds[name]);
  if (name === 'unseen') {
    const stream = new Map(measured.stream);
    const split = new Map(measured.split);
    for (const s of summary) {
      s.inStream = stream.get(s.system);
      s.errorBySnr = split.get(s.system);
    }
  }
  return summary;
}

/** A card's raw JSON, for what the parsed card leaves out (the make-up gain). */
const rawCard = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/**
 * Whether two cards describe step graphs of the same cost: the graph builders write the same nodes
 * for the same family, framing, sizes, states and make-up gain, so only the weights differ.
 */
function sameCost(a: string, b: string): boolean {
  const shape = (path: string) => {
    const card = rawCard(path);
    const keys = ['family', 'window', 'fftSize', 'hopSize', 'synthesisSize', 'parameters', 'stateLayout'];
    return JSON.stringify([...keys.map((k) => card[k]), card.maskGain !== undefined]);
  };
  return shape(a) === shape(b);
}

/** The candidates beside the default on the unseen set, and the ship rule's verdict on each. */
function candidateReport(summary: Summary[], defaultName: string, defaultCard: string, candidates: Candidate[], limited: boolean): string {
  const f = (x: number | undefined, d = 2) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '–');
  const evaluation = join(root, 'docs/evaluation.json');
  const peers = existsSync(evaluation)
    ? (JSON.parse(readFileSync(evaluation, 'utf8')).summary?.unseen as Summary[] | undefined)
    : undefined;
  const gtcrn = peers?.find((s) => s.system === 'GTCRN');
  if (!gtcrn) throw new Error(`${evaluation} has no GTCRN row on the unseen set: run the whole npm run eval first`);
  const noisy = summary.find((s) => s.system === 'Noisy input')!;
  const reference: Reference = { noisy, gtcrn };
  const rows = summary.filter((s) => s !== noisy);
  const kinds = Object.keys(noisy.noiseAttenuationByNoise);
  const snrs = Object.keys(noisy.deltaSiSdrBySnr)
    .map(Number)
    .sort((a, b) => a - b);
  const lines = [
    `# Candidates on the unseen sources${limited ? ' (--limit: a quick look, no verdict)' : ''}`,
    '',
    `Targets (issue 15; GTCRN's figures from ${evaluation.slice(root.length + 1)}): ${TARGETS.map((t) => t.name).join('; ')}.`,
    '',
    table([
      [
        'system',
        'ΔSI-SDR',
        ...snrs.map((snr) => `${snr} dB`),
        'ESTOI',
        'clean in: mean (worst)',
        'noise alone: median',
        ...kinds,
        ...STREAM_PREFIXES.slice(1).map((p) => `noise alone ${p}`),
        'clean in over a −70 dBFS floor',
        'targets met',
        'real-time factor',
      ],
      ...rows.map((s) => [
        s.system,
        f(s.deltaSiSdr),
        ...snrs.map((snr) => f(s.deltaSiSdrBySnr[snr])),
        f(s.estoi, 3),
        `${f(s.cleanSiSdr, 1)} (${f(s.cleanSiSdrWorst, 1)})`,
        f(s.noiseAttenuationMedianDb, 1),
        ...kinds.map((k) => f(s.noiseAttenuationByNoise[k], 1)),
        ...(s.inStream?.noiseAttenuation.slice(1) ?? []).map((x) => f(x, 1)),
        `${f(s.inStream?.cleanOverFloor.mean, 1)} (${f(s.inStream?.cleanOverFloor.worst, 1)})`,
        String(targetsMet(s, reference).length),
        f(s.realTimeFactor, 4),
      ]),
    ]),
  ];
  if (!limited) {
    const current = rows.find((s) => s.system === defaultName)!;
    for (const { path, name } of candidates) {
      const candidate = rows.find((s) => s.system === name)!;
      const verdict = shipVerdict(current, candidate, reference, sameCost(defaultCard, path));
      lines.push(`${candidate.system} (${path}): ${verdict.ships ? 'ships' : 'does not ship'} against ${defaultName}: ${verdict.reason}.`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const limit = Number(option('--limit') ?? Infinity);
  const only = option('--systems');
  const jobs = Number(option('--jobs') ?? Math.min(availableParallelism(), 4));
  // reads each card: a bad one stops here, named
  const candidates = options('--candidate').map((path) => ({ path: resolve(path), name: `candidate ${readCard(resolve(path)).name}` }));
  if (!(limit >= 1)) throw new Error(`--limit must be a number of clips per group, at least 1 (got ${option('--limit')})`);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new Error(`--jobs must be a whole number of processes, at least 1 (got ${option('--jobs')})`);
  const names = candidates.map((c) => c.name);
  if (new Set(names).size < names.length) throw new Error(`--candidate: two cards have the same name (${names.join(', ')})`);
  const setNames = candidates.length ? (['unseen'] as const) : SETS;
  const sets: Partial<Record<SetName, ReturnType<typeof loadSet>>> = Object.fromEntries(
    setNames.map((name) => [name, loadSet(name, limit)]),
  );
  const probeSet = (sets.val ?? sets.unseen)!;
  const probe = probeSet.load(probeSet.items.find((i) => i.kind === 'clean')!.id, 'clean');
  const index = readModelIndex(join(root, 'models'));
  const defaultName = `Quell ${readCard(index.defaultCard).name}`;
  const wanted = only
    ? new Set(JSON.parse(only) as string[])
    : candidates.length
      ? new Set(['Noisy input', defaultName, ...names])
      : undefined;
  const { systems, cardOf } = await buildSystems(probe, wanted, candidates);
  if (only) {
    // a worker of measureInParallel: NaN (no score of that kind) travels as null
    writeFileSync(option('--out')!, JSON.stringify(await measure(sets, systems)));
    return;
  }
  const measured = jobs > 1 ? await measureInParallel(systems, probe, jobs, limit, candidates) : await measure(sets, systems);
  if (candidates.length) {
    const summary = summariesOf('unseen', sets.unseen!, measured);
    console.log(candidateReport(summary, defaultName, index.defaultCard, candidates, limit !== Infinity));
    return;
  }
  const allSets = sets as Record<SetName, ReturnType<typeof loadSet>>;

  const blurbs: Record<SetName, [string, string]> = {
    unseen: [
      'Unseen sources (headline)',
      'Built by `training/make_eval_set.py unseen` from whole packages that training never touches (`training/prepare_data.py` UNSEEN_*): home-recorded words in 21 languages (ktuberling), Mandarin syllables (gcin-voice), an Italian male prompt voice (asterisk it); machinery, ventilation and ambience (ufoai), work and impact sounds, animals and crowds (widelands), babble of those unseen talkers, pink noise. Speech from −45 to −6 dBFS, a third of it reverberant.',
    ],
    val: [
      'In-domain (validation split)',
      'Built by `training/make_eval_set.py val` from the validation split: groups (game levels, languages, speakers, noise files) held out from training, but from the same sources, so it flatters every model trained on them.',
    ],
  };
  const summaries = {} as Record<SetName, Summary[]>;
  const sections: string[] = [];
  for (const name of SETS) {
    summaries[name] = summariesOf(name, allSets[name], measured);
    sections.push(section(blurbs[name][0], blurbs[name][1], allSets[name].items, summaries[name]));
  }
  const doc = `# Evaluation

Generated by \`npm run eval\` on ${new Date().toISOString().slice(0, 10)} — do not edit by hand.

All systems run on this machine, each in one process (the systems are shared out among up to four processes, one per core, when there are cores to spare): Quell through its TypeScript engine in onnxruntime-web (wasm, one thread); GTCRN, RNNoise (48 kHz, resampled) and Speex as the AudioWorklet processors of \`@sapphi-red/web-noise-suppressor\`, RNNoise 2024 (its 2024 weights, 48 kHz) from \`@shiguredo/rnnoise-wasm\`, and DTLN (16 kHz) as \`@vonage/noise-suppression\` runs it (its single-thread TFLite wasm, 10 ms frames). Peers' outputs are aligned by their measured delay before scoring. Every run of every system starts fresh (Quell from zero state, each peer as a new instance); the in-a-stream table shows how each does after other sound. Delay: Quell's is its live mic-to-speaker engine delay at 16 kHz; peers' is measured on their output.

${sections.join('\n')}`;
  mkdirSync(join(root, 'docs'), { recursive: true });
  if (limit === Infinity) {
    // Each model card carries its own scores on both sets.
    for (const [i, s] of summaries.unseen.entries()) {
      const path = cardOf.get(s.system);
      if (!path) continue;
      const card = JSON.parse(readFileSync(path, 'utf8'));
      const strip = ({ system: _name, ...scores }: Summary) => scores;
      card.validation = {
        date: new Date().toISOString().slice(0, 10),
        set: 'npm run eval (docs/EVALUATION.md)',
        unseen: strip(s),
        inDomain: strip(summaries.val[i]),
      };
      writeFileSync(path, JSON.stringify(card, null, 2) + '\n');
    }
    writeFileSync(join(root, 'docs/EVALUATION.md'), doc);
    writeFileSync(
      join(root, 'docs/evaluation.json'),
      JSON.stringify(
        {
          date: new Date().toISOString(),
          clips: { unseen: allSets.unseen.items.length, val: allSets.val.items.length },
          summary: summaries,
        },
        null,
        1,
      ) + '\n',
    );
  }
  console.log(doc);
}

main().catch((e: Error) => {
  console.error(`eval: ${e.message}`);
  process.exit(1);
});

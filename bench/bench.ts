/**
 * npm run bench [-- --soak-minutes 10]
 *
 * Prints, in one run on this machine: model step time (Node and the app's worker in headless
 * Chromium), the rest of a frame, messaging, whole-engine CPU against GTCRN / RNNoise / Speex as
 * ratios, delay, start-to-first-audio, memory after 10 s against after the soak, and a soak of
 * real-time audio through the app with one core kept busy by a second process.
 * Writes docs/BENCHMARKS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { FrameEngine } from '../src/dsp/frame-engine';
import { binCount, DEFAULT_MASK_LATENCY, engineOptions } from '../src/model/card';
import { framingDelay } from '../src/dsp/window';
import { StreamAdapter } from '../src/dsp/stream-adapter';
import { loadRunner, readCard, readModelIndex } from '../src/model/load-node';
import type { ModelRunner } from '../src/model/model-runner';
import { denoiseChannel, resampleAligned } from '../src/offline/offline';
import { launchWithMicrophone } from '../harness/browser';
import { noisySpeech } from '../harness/audio';
import type { AppState } from '../harness/app';
import type { ProbeResult } from './probe';

/** The page's memory as its test hook measures it (bytes; null where the browser cannot say). */
interface PageMemory {
  total: number | null;
  modelWorker: number | null;
  mainHeap: number | null;
}
import { bestLag } from '../tools/metrics';
import { PEERS, createPeer, runPeer } from '../tools/peers';
import { add, speechLike, whiteNoise } from '../tools/signals';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Node's process.memoryUsage() does not count WebAssembly memory, and onnxruntime-web keeps
// its whole heap in one: it makes it with `new WebAssembly.Memory(...)` when its runtime first
// starts (the first model loaded below), so every Memory made from here on is recorded and
// its current size read when memory is reported.
const wasmMemories: WebAssembly.Memory[] = [];
WebAssembly.Memory = new Proxy(WebAssembly.Memory, {
  construct(target, args) {
    const memory = Reflect.construct(target, args) as WebAssembly.Memory;
    wasmMemories.push(memory);
    return memory;
  },
});
const wasmBytes = () => wasmMemories.reduce((sum, m) => sum + m.buffer.byteLength, 0);
const argText = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const arg = (name: string, fallback: number) => Number(argText(name) ?? fallback);
const soakMinutes = arg('soak-minutes', 10);
// --soak-only: just the browser soak, printed and not written to the docs (for profiling).
const soakOnly = process.argv.includes('--soak-only');
// --latency N: the app's mask wait in hops (default: the app's own default);
// --query 'a=1&b=2': more of the page's query string (for experiments).
const pageQuery = [argText('latency') && `latency=${argText('latency')}`, argText('query')].filter(Boolean).join('&');
const lines: string[] = [];
const say = (s = '') => {
  console.log(s);
  lines.push(s);
};

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const ms = (x: number) => `${x.toFixed(3)} ms`;
const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(2)} %`;

async function nodeFigures(cardPath: string) {
  const runner = await loadRunner(cardPath);
  const card = runner.card;
  const bins = binCount(card);
  const signal = add(speechLike(20, 16000, 5, 0.1).samples, whiteNoise(320000, 0.01, 6));
  const engine = new FrameEngine(engineOptions(card, 0));
  const mask = new Float32Array(bins);
  const out = new Float32Array(card.hopSize);
  const stepTimes: number[] = [];
  const dspTimes: number[] = [];
  for (let h = 0; h + card.hopSize <= signal.length; h += card.hopSize) {
    let t = performance.now();
    const frame = engine.pushHop(signal.subarray(h, h + card.hopSize));
    let dsp = performance.now() - t;
    t = performance.now();
    await runner.step(engine.magnitudes, mask);
    const step = performance.now() - t;
    t = performance.now();
    engine.setMask(frame, mask);
    engine.pullHop(out);
    dsp += performance.now() - t;
    if (h > 200 * card.hopSize) {
      // after warm-up
      stepTimes.push(step);
      dspTimes.push(dsp);
    }
  }
  return {
    card,
    runner,
    step: { median: percentile(stepTimes, 0.5), p99: percentile(stepTimes, 0.99) },
    dsp: { median: percentile(dspTimes, 0.5), p99: percentile(dspTimes, 0.99) },
  };
}

/** Round trip of one frame between threads: MessagePort copy, and the shared-memory ring (Atomics). */
async function messaging() {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const control = new Int32Array(workerData.sab);
    parentPort.on('message', (m) => { if (m.port) m.port.on('message', (x) => m.port.postMessage({ frame: x.frame, mask: new Float32Array(257) })); });
    (async () => { let seen = 0; for (;;) { const r = Atomics.waitAsync(control, 0, seen); if (r.async) await r.value; seen = Atomics.load(control, 0); if (seen < 0) break; Atomics.store(control, 1, seen); Atomics.notify(control, 1); } })();`;
  const sab = new SharedArrayBuffer(8);
  const control = new Int32Array(sab);
  const worker = new Worker(code, { eval: true, workerData: { sab } });
  const channel = new MessageChannel();
  worker.postMessage({ port: channel.port2 }, [channel.port2]);
  const portTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    await new Promise<void>((res) => {
      channel.port1.once('message', () => res());
      channel.port1.postMessage({ frame: i, magnitudes: new Float32Array(257) });
    });
    if (i > 100) portTimes.push(performance.now() - t);
  }
  const ringTimes: number[] = [];
  for (let i = 1; i <= 2000; i++) {
    const t = performance.now();
    Atomics.store(control, 0, i);
    Atomics.notify(control, 0);
    while (Atomics.load(control, 1) !== i) {
      const r = Atomics.waitAsync(control, 1, Atomics.load(control, 1));
      if (r.async) await r.value;
    }
    if (i > 100) ringTimes.push(performance.now() - t);
  }
  Atomics.store(control, 0, -1);
  Atomics.notify(control, 0);
  await worker.terminate();
  channel.port1.close();
  return {
    port: { median: percentile(portTimes, 0.5), p99: percentile(portTimes, 0.99) },
    ring: { median: percentile(ringTimes, 0.5), p99: percentile(ringTimes, 0.99) },
  };
}

const QUELL_AT_48K = (model: string) => `Quell ${model} in a 48 kHz context`;

/**
 * The default model in a 48 kHz context (a browser that will not open one at 16 kHz, or a page
 * that mixes Quell into a 48 kHz call): what the worklet runs, 128-sample quanta through
 * StreamAdapter with its resampling both ways, each frame's mask set a hop later, as live.
 */
async function streamLikeTheWorklet(x: Float32Array, rate: number, runner: ModelRunner): Promise<void> {
  const card = runner.card;
  const engine = new FrameEngine(engineOptions(card, 1));
  const adapter = new StreamAdapter(engine, rate, card.sampleRate);
  const quantum = new Float32Array(128);
  const mask = new Float32Array(binCount(card));
  let newFrame = -1;
  runner.reset();
  for (let i = 0; i + quantum.length <= x.length; i += quantum.length) {
    adapter.process(x.subarray(i, i + quantum.length), quantum, (frame) => (newFrame = frame));
    if (newFrame < 0) continue;
    await runner.step(engine.magnitudes, mask);
    engine.setMask(newFrame, mask);
    newFrame = -1;
  }
  if (engine.lateMasks > 0) throw new Error(`48 kHz stream: ${engine.lateMasks} late masks`);
}

/** Timed passes of each system for the real-time factors (after one warm-up pass each). */
const RTF_ROUNDS = 5;

/**
 * Whole-engine CPU per second of audio: every Quell model (default first, and the default in a
 * 48 kHz context), then the peers. One 30 s pass varies by 10–15 % on this shared machine, and
 * the targets are ratios of these figures: each system is timed in every round, the rounds
 * interleaved, and its median kept.
 */
async function realTimeFactors(cardPaths: string[]) {
  const seconds = 30;
  const x16 = add(speechLike(seconds, 16000, 8, 0.1).samples, whiteNoise(seconds * 16000, 0.01, 9));
  const x48 = resampleAligned(x16, 16000, 48000);
  const systems: { name: string; pass: () => Promise<unknown> }[] = [];
  for (const cardPath of cardPaths) {
    const runner = await loadRunner(cardPath);
    if (runner.card.fixture) continue;
    systems.push({ name: `Quell ${runner.card.name}`, pass: () => denoiseChannel(x16, 16000, runner) });
    if (cardPath === cardPaths[0])
      systems.push({ name: QUELL_AT_48K(runner.card.name), pass: () => streamLikeTheWorklet(x48, 48000, runner) });
  }
  for (const peer of PEERS) {
    const instance = await createPeer(peer);
    const x = peer.sampleRate === 48000 ? x48 : x16;
    systems.push({ name: peer.name, pass: async () => runPeer(instance, x) });
  }
  const passes: Record<string, number[]> = {};
  for (let round = 0; round <= RTF_ROUNDS; round++) {
    for (const system of systems) {
      const t = performance.now();
      await system.pass();
      if (round > 0) (passes[system.name] ??= []).push((performance.now() - t) / 1000 / seconds); // round 0 warms up
    }
  }
  return Object.fromEntries(systems.map((system) => [system.name, percentile(passes[system.name], 0.5)]));
}

/** A click train at `rate`: 1 kHz bursts every half second. */
function clicks(rate: number, seconds = 3): Float32Array {
  const x = new Float32Array(seconds * rate);
  const burst = Math.round(rate / 333);
  for (let t = Math.round(rate / 4); t + burst < x.length; t += rate / 2) {
    for (let i = 0; i < burst; i++) x[t + i] = 0.5 * Math.sin((Math.PI * i) / burst) * Math.sin((2 * Math.PI * 1000 * i) / rate);
  }
  return x;
}

/**
 * Mic-to-speaker delay measured on the output, not quoted: the default model's engine as the
 * worklet runs it (its mask wait, resampling at 44.1/48 kHz) and each peer, on a click train.
 * Masks are all ones so that every click comes through whatever the model makes of it.
 */
async function measuredDelays(cardPath: string) {
  const card = readCard(cardPath);
  const rows: { system: string; rate: number; reportedMs: number | null; measuredMs: number }[] = [];
  for (const rate of [16000, 44100, 48000]) {
    const engine = new FrameEngine(engineOptions(card, DEFAULT_MASK_LATENCY));
    const adapter = new StreamAdapter(engine, rate, card.sampleRate);
    const ones = new Float32Array(binCount(card)).fill(1);
    const x = clicks(rate);
    const y = new Float32Array(x.length);
    for (let i = 0; i + 128 <= x.length; i += 128)
      adapter.process(x.subarray(i, i + 128), y.subarray(i, i + 128), (f) => engine.setMask(f, ones));
    rows.push({
      system: `Quell ${card.name}`,
      rate,
      reportedMs: (1000 * adapter.delaySamples) / rate,
      measuredMs: (1000 * bestLag(x, y, Math.round(0.1 * rate))) / rate,
    });
  }
  for (const peer of PEERS) {
    const instance = await createPeer(peer);
    const x = clicks(peer.sampleRate);
    rows.push({
      system: peer.name,
      rate: peer.sampleRate,
      reportedMs: null,
      measuredMs: (1000 * bestLag(x, runPeer(instance, x), Math.round(0.1 * peer.sampleRate))) / peer.sampleRate,
    });
  }
  return rows;
}

async function nodeMemory(cardPath: string) {
  const runner = await loadRunner(cardPath);
  const chunk = add(speechLike(10, 16000, 3, 0.1).samples, whiteNoise(160000, 0.01, 4));
  const snapshot = () => {
    global.gc?.();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, wasm: wasmBytes(), rss: m.rss };
  };
  await denoiseChannel(chunk, 16000, runner);
  const after10s = snapshot();
  for (let i = 0; i < 59; i++) await denoiseChannel(chunk, 16000, runner); // 10 minutes in all
  return { after10s, after10min: snapshot() };
}

/** A process's or thread's name, parent and CPU seconds so far, from Linux's /proc …/stat. */
function procStat(path: string): { name: string; ppid: number; cpuSeconds: number } {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
  const ticks = 100; // USER_HZ
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ppid: Number(fields[1]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticks,
  };
}

/** CPU seconds used so far by each process of the browser, by Chromium's process type. */
function browserCpuSeconds(browserPid: number): Record<string, number> {
  const byType: Record<string, number> = {};
  const children = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const visit = (pid: number) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const kind = type === 'utility' ? `utility ${/--utility-sub-type=([\w.]+)/.exec(cmd)?.[1]?.split('.').pop() ?? ''}` : type;
      byType[kind] = (byType[kind] ?? 0) + procStat(`/proc/${pid}/stat`).cpuSeconds;
      if (type === 'renderer') {
        // The page's threads by name: main thread, audio worklet, the model worker, compositor…
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const thread = procStat(`/proc/${pid}/task/${tid}/stat`);
          const key = `renderer/${thread.name}`;
          byType[key] = (byType[key] ?? 0) + thread.cpuSeconds;
        }
      }
    } catch {
      // the process ended meanwhile
    }
    children(pid).forEach(visit);
  };
  visit(browserPid);
  return byType;
}

/** The browser Playwright launched from this process (its child whose command names chrom…). */
function findBrowserPid(): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (procStat(`/proc/${entry}/stat`).ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('chrom'))
        return Number(entry);
    } catch {
      // gone
    }
  }
  return 0;
}

function startServer(): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    // Its own process group, so that stopping it also stops the vite process npx starts.
    const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', '4174', '--strictPort'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const timer = setTimeout(() => reject(new Error('vite preview did not start')), 30000);
    server.stdout!.on('data', (d) => {
      if (String(d).includes('4174')) {
        clearTimeout(timer);
        resolvePromise(server);
      }
    });
  });
}

async function browserFigures() {
  await new Promise<void>((res, rej) =>
    spawn('npx', ['vite', 'build', '--mode', 'test', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' }).on('exit', (c) =>
      c === 0 ? res() : rej(new Error('build failed')),
    ),
  );
  const server = await startServer();
  const card = readCard(defaultCardPath()); // the page runs the default model
  const scenario = noisySpeech('bench');
  const browser = await launchWithMicrophone(scenario.file);
  let busy: ChildProcess | null = null;
  try {
    // The engine's parts, timed inside the browser, with the machine otherwise quiet.
    const probePage = await browser.newPage();
    probePage.on('pageerror', (e) => console.error(`probe page error: ${e.message}`));
    probePage.on('crash', () => console.error('probe page crashed'));
    await probePage.goto('http://127.0.0.1:4174/bench/probe.html');
    const probe = await probePage.evaluate(() => (window as unknown as { __probe: Promise<ProbeResult> }).__probe);
    if (probe.error) throw new Error(`engine probe: ${probe.error}`);
    await probePage.close();
    busy = spawn(process.execPath, ['-e', 'for(;;){}']); // from here on a second process keeps one core busy
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:4174/${pageQuery ? `?${pageQuery}` : ''}`);
    await page.waitForTimeout(3000); // a person reads the page before pressing Start (the model preloads meanwhile)
    await page.getByRole('button', { name: 'Start microphone' }).click();
    const read = () => page.evaluate(() => (window as unknown as { __quell: { state(): AppState } }).__quell.state());
    // The page's state once audio runs (after waitFrames): its stats are there from the first frame on.
    const get = async () => {
      const st = await read();
      if (!st.stats) throw new Error('the page reports no engine stats');
      return st as AppState & { stats: NonNullable<AppState['stats']> };
    };
    const memory = () => page.evaluate(() => (window as unknown as { __quell: { memory(): Promise<PageMemory> } }).__quell.memory());
    const waitFrames = async (n: number) => {
      for (;;) {
        const s = await read();
        if ((s.stats?.frames ?? 0) >= n) return s;
        await page.waitForTimeout(500);
      }
    };
    await waitFrames(Math.round((10 * card.sampleRate) / card.hopSize));
    const early = { state: await get(), memory: await memory() };
    // measureUserAgentSpecificMemory (which no user's page calls) makes every context of the
    // page do work: in trial runs, 7–8 frames went late 4.6 s after it returned in 2 of 7,
    // and none in 7 without it. So the soak is counted from 10 s after it, and frames late
    // before then are shown apart.
    await page.waitForTimeout(10000);
    const soakStart = await get();
    const soakFrames = Math.round((soakMinutes * 60 * card.sampleRate) / card.hopSize);
    let last = soakStart;
    const browserPid = findBrowserPid();
    const cpuBefore = browserCpuSeconds(browserPid);
    const t0 = Date.now();
    while (last.stats.frames - soakStart.stats.frames < soakFrames) {
      await page.waitForTimeout(5000);
      last = await get();
      process.stderr.write(
        `\rsoak: ${((Date.now() - t0) / 60000).toFixed(1)} / ${soakMinutes} min, late frames ${last.stats.lateMasks - soakStart.stats.lateMasks}`,
      );
    }
    process.stderr.write('\n');
    const cpuAfter = browserCpuSeconds(browserPid);
    const soakSeconds = (Date.now() - t0) / 1000;
    const cpuShare = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, (v - (cpuBefore[k] ?? 0)) / soakSeconds]));
    return { probe, early, soakStart: soakStart.stats, late: { state: last, memory: await memory() }, cpuShare };
  } finally {
    busy?.kill();
    await browser.close();
    process.kill(-server.pid!);
  }
}

const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;

async function soakSection() {
  const b = await browserFigures();
  const p = b.probe;
  say(`## In headless Chromium, per frame, machine otherwise quiet (${p.model})`);
  say();
  say('| part | median | p99 |');
  say('|---|---|---|');
  say(
    `| model step in the app's worker (onnxruntime-web wasm, one thread), one frame per hop | ${ms(p.step.median)} | ${ms(p.step.p99)} |`,
  );
  say(
    `| rest of the frame: STFT, mask, inverse FFT, overlap-add (the worklet's code, on the page thread) | ${ms(p.dsp.median)} | ${ms(p.dsp.p99)} |`,
  );
  say(
    `| frame → worker → mask round trip over the shared-memory ring (step included) | ${ms(p.roundTrip.median)} | ${ms(p.roundTrip.p99)} |`,
  );
  say(`| messaging alone (round trip − step, medians) | ${ms(Math.max(0, p.roundTrip.median - p.step.median))} | |`);
  say();
  say(
    'Steps are timed one frame per hop (8 ms apart), as audio arrives: caches are cold between frames, so a step costs more than in a tight loop (the Node table above).',
  );
  say();
  say(`## In the app (headless Chromium), soak of ${soakMinutes} min of real-time audio with one core kept busy`);
  say();
  const s = b.late.state;
  const all = s.stats.allSteps!;
  say(
    `- Worker model step, every step since Start, the soak and the 20 s before it (${all.steps}): ${ms(all.p50Ms)} median, ${ms(all.p99Ms)} p99, ${ms(all.p999Ms)} p99.9, ${ms(all.maxMs)} max (0.05 ms bins); ${pct(all.over1Ms, all.steps)} took 1 ms or more, ${pct(all.over2Ms, all.steps)} 2 ms or more`,
  );
  say(
    `- Masks written while the worklet was 0 / 1 / 2 / 3+ frames ahead of the worker: ${[all.framesBehind[0], all.framesBehind[1], all.framesBehind[2], all.framesBehind.slice(3).reduce((a: number, b: number) => a + b, 0)].join(' / ')} (with a ${s.maskLatency}-hop wait, ${s.maskLatency} ahead is one hop late and corrects the rest of its frame; more is late)`,
  );
  const start = b.soakStart;
  const soakLate = s.stats.lateMasks - start.lateMasks;
  say(
    `- Late frames in the soak: ${soakLate} of ${s.stats.frames - start.frames}; before it (start-up, and the 10 s after the first memory snapshot): ${start.lateMasks} of ${start.frames}; masks one hop late that corrected the rest of their frame: ${s.stats.correctedMasks - start.correctedMasks} in the soak; engine dropouts (FIFO underruns) since Start: ${s.stats.underruns}; playout glitches reported by the browser: ${s.playout ? `${s.playout.fallbackFramesEvents} (${s.playout.fallbackFramesDuration.toFixed(1)} ms)` : 'not available in this browser'}`,
  );
  const card = readCard(defaultCardPath()); // the page runs the default model
  const hopMs = (1000 * card.hopSize) / card.sampleRate;
  say(
    `- Delay mic→speaker: engine ${(s.delaySeconds * 1000).toFixed(1)} ms (framing ${((1000 * framingDelay(card)) / card.sampleRate).toFixed(0)} ms + mask wait ${s.maskLatency} hops, ${s.maskLatency * hopMs} ms), with the browser's reported device buffers ${(s.totalDelaySeconds * 1000).toFixed(1)} ms; context at ${s.contextRate} Hz, transport ${s.transport}`,
  );
  say(
    `- Start pressed → first processed audio: ${b.early.state.firstAudioMs?.toFixed(0)} ms (microphone permission auto-granted; the model preloads while the page is read)`,
  );
  const memLine = (m: { total: number | null; modelWorker: number | null; mainHeap: number | null }) =>
    `${m.total !== null ? `${mb(m.total)} whole page (workers and wasm included), of which the model worker (its JS heap and onnxruntime's wasm memory) ${m.modelWorker !== null ? mb(m.modelWorker) : 'n/a'}` : 'n/a'}; main-thread JS heap ${m.mainHeap !== null ? mb(m.mainHeap) : 'n/a'}`;
  const pageMb = (m: { total: number | null; modelWorker: number | null }) =>
    m.total !== null ? `${mb(m.total)} whole page, model worker ${m.modelWorker !== null ? mb(m.modelWorker) : 'n/a'}` : 'n/a';
  say(`- Memory after 10 s: ${memLine(b.early.memory)}`);
  say(`- Memory after ${soakMinutes} min: ${memLine(b.late.memory)}`);
  say(
    `- Browser CPU during the soak, share of one core by process: ${Object.entries(b.cpuShare)
      .filter(([, v]) => v >= 0.001)
      .map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`)
      .join(', ')}`,
  );
  say();
  say(
    `Targets: worker step p99 ≤ 2 ms → **${ms(all.p99Ms)}**; late frames in the soak 0 → **${soakLate}**; flat memory → **${pageMb(b.early.memory)} → ${pageMb(b.late.memory)}**.`,
  );
}

function defaultCardPath(): string {
  return readModelIndex(join(root, 'models')).defaultCard;
}

async function main() {
  if (soakOnly) return soakSection();
  const index = readModelIndex(join(root, 'models'));
  const defaultCard = defaultCardPath();
  const defaultName = readCard(defaultCard).name;
  say(`# Benchmarks`);
  say();
  say(
    `Generated by \`npm run bench -- --soak-minutes ${soakMinutes}\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}, onnxruntime-web wasm, one thread). Do not edit by hand.`,
  );
  say();
  say('## Per frame (8 ms of audio at 16 kHz), in Node');
  say();
  say('| model | parameters | model step median | p99 | rest of the frame (STFT, mask, inverse FFT, overlap-add) median | p99 |');
  say('|---|---|---|---|---|---|');
  for (const cardPath of index.cards) {
    const f = await nodeFigures(cardPath);
    say(`| ${f.card.name} | ${f.card.parameters} | ${ms(f.step.median)} | ${ms(f.step.p99)} | ${ms(f.dsp.median)} | ${ms(f.dsp.p99)} |`);
  }
  const msg = await messaging();
  say();
  say(
    `Messaging one frame worklet↔worker and back (Node worker_threads as a stand-in): shared-memory ring ${ms(msg.ring.median)} median, ${ms(msg.ring.p99)} p99; MessagePort ${ms(msg.port.median)} median, ${ms(msg.port.p99)} p99.`,
  );
  say();
  say(`## CPU per second of audio (real-time factor), same 30 s of audio, one thread, median of ${RTF_ROUNDS} interleaved passes`);
  say();
  const ordered = [index.defaultCard, ...index.cards.filter((c) => c !== index.defaultCard)];
  const rtf = await realTimeFactors(ordered);
  const quell = Object.values(rtf)[0]; // the default model
  say(`| system | real-time factor | ${Object.keys(rtf)[0]} / system |`);
  say('|---|---|---|');
  for (const [name, value] of Object.entries(rtf))
    say(`| ${name}${name === 'RNNoise' ? ' (48 kHz)' : ''} | ${value.toFixed(4)} | ${(quell / value).toFixed(2)} |`);
  say();
  const quell48 = rtf[QUELL_AT_48K(defaultName)];
  say(
    `Targets for the default model: Quell/RNNoise ≤ 0.9 → **${(quell / rtf.RNNoise).toFixed(2)}** at 16 kHz, **${(quell48 / rtf.RNNoise).toFixed(2)}** in a 48 kHz context (RNNoise's own rate) with the worklet's own resampling; Quell/GTCRN ≤ 0.2 → **${(quell / rtf.GTCRN).toFixed(2)}** (both at 16 kHz).`,
  );
  say();
  say('## Delay, measured on the output (click train, cross-correlation peak)');
  say();
  say('| system | context rate | engine delay reported | measured |');
  say('|---|---|---|---|');
  for (const d of await measuredDelays(defaultCard))
    say(
      `| ${d.system} | ${d.rate} Hz | ${d.reportedMs === null ? '–' : `${d.reportedMs.toFixed(2)} ms`} | ${d.measuredMs.toFixed(2)} ms |`,
    );
  say();
  say(
    `Quell's engine delay is its framing's own (synthesis span − hop), the mask wait (${DEFAULT_MASK_LATENCY} hops) and, off 16 kHz, resampling both ways; the browser's device buffers come on top for every system alike. Targets: ≤ 20 ms at 16 kHz, ≤ 25 ms in a 48 kHz context.`,
  );
  const mem = await nodeMemory(defaultCard);
  say();
  const nodeMem = (m: typeof mem.after10s) => `JS heap ${mb(m.heap)}, onnxruntime wasm memory ${mb(m.wasm)}, process RSS ${mb(m.rss)}`;
  say(
    `Node memory streaming the engine (${defaultName}): after 10 s ${nodeMem(mem.after10s)}; after 10 min ${nodeMem(mem.after10min)}. (The wasm memory is onnxruntime-web's one heap, shared by every model this process has loaded.)`,
  );
  say();
  await soakSection();
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'docs/BENCHMARKS.md'), lines.join('\n') + '\n');
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(`bench: ${e.stack ?? e.message}`);
    process.exit(1);
  });

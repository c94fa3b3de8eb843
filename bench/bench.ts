/**
 * npm run bench [-- --soak-minutes 10]
 *
 * Prints, in one run on this machine: model step time (Node and the app's worker in headless
 * Chromium), the rest of a frame, messaging, whole-engine CPU against GTCRN / RNNoise / Speex as
 * ratios, delay, start-to-first-audio, memory after 10 s against after the soak, and a soak of
 * real-time audio through the app with one core kept busy by a second process.
 * Writes docs/BENCHMARKS.md. The figures come from node-figures.ts and browser-figures.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { framingDelay } from '../src/dsp/window';
import { binCount, DEFAULT_MASK_LATENCY } from '../src/model/card';
import { readCard, readModelIndex } from '../src/model/load-node';
import { browserFigures } from './browser-figures';
import { defaultCardPath, mb, ms, pct, root } from './common';
import { measuredDelays, messaging, nodeFigures, nodeMemory, QUELL_AT_48K, realTimeFactors, RTF_ROUNDS } from './node-figures';

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

async function soakSection() {
  const b = await browserFigures(soakMinutes, pageQuery);
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
  const msg = await messaging(binCount(readCard(defaultCard)));
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

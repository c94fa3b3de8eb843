/**
 * The bench's figures measured in headless Chromium: the engine's parts timed in a probe page,
 * then the app itself on a synthetic microphone through a soak with one core kept busy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { noisySpeech } from '../harness/audio';
import type { AppState } from '../harness/app';
import { launchWithMicrophone } from '../harness/browser';
import { readCard } from '../src/model/load-node';
import { defaultCardPath, root } from './common';
import type { ProbeResult } from './probe';

/** The page's memory as its test hook measures it (bytes; null where the browser cannot say). */
export interface PageMemory {
  total: number | null;
  modelWorker: number | null;
  mainHeap: number | null;
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

export async function browserFigures(soakMinutes: number, pageQuery: string) {
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

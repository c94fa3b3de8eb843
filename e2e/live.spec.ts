/**
 * Live denoising in a real Chromium with a synthetic microphone: what reaches the speakers.
 * Each test asserts a measured figure with a margin a real defect would still break.
 */
import { expect, test } from '@playwright/test';
import { resampleAligned } from '../src/offline/offline';
import {
  alignNear,
  bestLag,
  bypassError,
  capture,
  energy,
  reductionPerWindow,
  flow,
  longestDropout,
  loopOffset,
  maxStep,
  openApp,
  start,
  state,
  type Captured,
} from '../harness/app';
import { clickTrain, noiseAlone, noisySpeech, RATE, type Scenario } from '../harness/audio';

const db = (ratio: number) => 10 * Math.log10(ratio);

/** The source scenario at the capture's rate, and where its last full loop starts in the capture. */
function locate(s: Scenario, cap: Captured) {
  const r = cap.sampleRate;
  const noisy = resampleAligned(s.noisy, RATE, r);
  const clean = resampleAligned(s.clean, RATE, r);
  const active = Uint8Array.from({ length: noisy.length }, (_, i) => s.active[Math.min(s.active.length - 1, Math.round((i * RATE) / r))]);
  const loop = noisy.length;
  let offset = loopOffset(noisy, cap.input);
  // the last loop that fits, output included; each wrap is found again on 2–6 s (speech in noise)
  while (offset + 2 * loop < cap.input.length - r) offset = alignNear(noisy, cap.input, offset + loop, Math.round(0.03 * r), 2 * r, 6 * r);
  return { noisy, clean, active, loop, offset };
}

async function checkDenoising(query: string) {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file, { query });
  try {
    await start(page);
    await flow(page, 24);
    const st = await state(page);
    const cap = await capture(page);
    const r = cap.sampleRate;
    const d = Math.round(st.delaySeconds * r);
    const { noisy, clean, active, offset, loop } = locate(scenario, cap);
    console.log(
      `${query || '16 kHz'}: last whole loop at ${(offset / r).toFixed(3)} s of ${(cap.input.length / r).toFixed(3)} s captured (loop ${(loop / r).toFixed(2)} s)`,
    );
    // 1. noise alone (0.3–1.9 s of each loop, the microphone having opened with digital silence): at least 30 dB quieter
    const a = offset + Math.round(0.3 * r);
    const b = offset + Math.round(1.9 * r);
    const reduction = db(energy(cap.input, a, b) / energy(cap.output, a + d, b + d));
    console.log(`${query || '16 kHz'}: noise-only reduction ${reduction.toFixed(1)} dB`);
    expect(reduction).toBeGreaterThanOrEqual(30);
    // 2. speech kept: energy within 3 dB of the clean voice, and correlated with it. Each second
    // of the loop is found again in the captured input: Chromium's file microphone can slip a
    // few milliseconds under load, which would shift the clean voice against the output although
    // the output follows its input exactly (rarely, and correlation then fell to about 0).
    let eClean = 0;
    let eOut = 0;
    let cross = 0;
    let slips = 0;
    for (let from = 0; from < clean.length; from += r) {
      const to = Math.min(clean.length, from + r);
      const at = alignNear(noisy, cap.input, offset, Math.round(0.03 * r), from, to);
      if (at !== offset) slips++;
      for (let i = from; i < to; i++) {
        if (!active[i]) continue;
        const y = cap.output[at + i + d];
        eClean += clean[i] ** 2;
        eOut += y ** 2;
        cross += clean[i] * y;
      }
    }
    console.log(`${query || '16 kHz'}: seconds of the loop where the microphone had slipped: ${slips}`);
    const levelDb = db(eOut / eClean);
    const correlation = cross / Math.sqrt(eClean * eOut);
    console.log(`${query || '16 kHz'}: speech level ${levelDb.toFixed(2)} dB, correlation ${correlation.toFixed(3)}`);
    expect(Math.abs(levelDb)).toBeLessThanOrEqual(3);
    expect(correlation).toBeGreaterThanOrEqual(0.85);
    expect(st.stats!.underruns).toBe(0);
  } finally {
    await browser.close();
  }
}

/** The engine's delay targets: 20 ms at the model's 16 kHz, 25 ms with resampling at 48 kHz. */
const DELAY_TARGET_MS: Record<number, number> = { 16000: 20, 48000: 25 };

async function checkDelay(query: string) {
  const clicks = clickTrain();
  const { browser, page } = await openApp(clicks.file, { query });
  try {
    await start(page);
    // Let clicks through even if the model calls them noise: at most 6 dB of suppression.
    await page.getByRole('slider').fill('6');
    await flow(page, 4);
    const st = await state(page);
    const cap = await capture(page);
    const r = cap.sampleRate;
    const documented = st.delaySeconds * r;
    const to = cap.output.length;
    const measured = bestLag(cap.input, cap.output, Math.round(0.2 * r), to - 2 * r, to);
    const shown = await page.getByTestId('delay').textContent();
    console.log(`${query || '16 kHz'}: delay documented ${documented.toFixed(1)} samples, measured ${measured} at ${r} Hz; page: ${shown}`);
    // one number: measured on the output, reported by the engine, shown on the page
    expect(Math.abs(measured - documented)).toBeLessThanOrEqual(1);
    expect(shown).toMatch(new RegExp(`^${((measured / r) * 1000).toFixed(1).replace('.', '\\.')} ms engine`));
    expect((measured / r) * 1000).toBeLessThanOrEqual(DELAY_TARGET_MS[r]);
  } finally {
    await browser.close();
  }
}

test('processing on: noise-only stretches ≥ 30 dB quieter, speech kept (16 kHz context)', async () => {
  await checkDenoising('');
});

test('processing off: the output is the input delayed by the engine delay, bit for bit', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await page.getByRole('button', { name: /Noise suppression/ }).click(); // off before starting
    await start(page);
    await flow(page, 3);
    const st = await state(page);
    expect(st.enabled).toBe(false);
    const cap = await capture(page);
    const d = Math.round(st.delaySeconds * cap.sampleRate);
    expect(bypassError(cap, d, 2)).toBeLessThan(1e-6);
  } finally {
    await browser.close();
  }
});

test('toggling on and off while audio flows: no click, no dropout, the delay stays put', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 2);
    await page.evaluate(() => (window as unknown as { __quell: { clear(): void } }).__quell.clear());
    // The space bar toggles processing when no control has focus (a focused button takes Space
    // itself, as buttons do: after Start, that is the Stop button).
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (let i = 0; i < 16; i++) {
      await page.keyboard.press('Space');
      await page.waitForTimeout(150 + ((i * 37) % 120));
    }
    if ((await state(page)).enabled) await page.keyboard.press('Space'); // end in bypass
    await flow(page, 1.5);
    const st = await state(page);
    const cap = await capture(page);
    const d = Math.round(st.delaySeconds * cap.sampleRate);
    const stepIn = maxStep(cap.input);
    const stepOut = maxStep(cap.output, d + 1);
    console.log(`largest sample step: input ${stepIn.toFixed(4)}, output ${stepOut.toFixed(4)}`);
    expect(stepOut).toBeLessThanOrEqual(stepIn * 1.1);
    expect(longestDropout(cap, d)).toBeLessThan(16);
    expect(bypassError(cap, d, 0.5)).toBeLessThan(1e-6); // back in bypass: still exactly the documented delay
    expect(st.stats!.underruns).toBe(0);
  } finally {
    await browser.close();
  }
});

test('after 20 s of audio the page shows its timing figures and late frames are rare; nothing is fetched from elsewhere', async () => {
  const scenario = noisySpeech();
  const hosts = new Set<string>();
  const { browser, page } = await openApp(scenario.file, { setup: async (p) => p.on('request', (r) => hosts.add(new URL(r.url()).host)) });
  try {
    await start(page);
    await flow(page, 20);
    await expect(page.getByTestId('step-time')).toHaveText(/^\d+\.\d\d ms median · \d+\.\d\d ms p99$/);
    await expect(page.getByTestId('late-frames')).toHaveText(/^\d+/);
    await expect(page.getByTestId('delay')).toHaveText(/^\d+\.\d ms engine/);
    // Whether a mask is back in time depends on how the machine schedules its threads: none
    // late is a benchmark target (npm run bench's 10-minute soak), not something a test on a
    // shared 2-core machine can hold: a busy CI machine has made over 1 % late.
    // A stalled or broken worker makes nearly every frame late, so this checks that most masks
    // come in time, and that the page shows the engine's count with the share it makes.
    // The page's count first: the engine's, read after it, can only be the same or higher.
    const lateText = (await page.getByTestId('late-frames').textContent()) ?? '';
    const [, shownLate, shownFrames, shownPercent] = /^(\d+) of (\d+) · (\d+(?:\.\d+)?) %/.exec(lateText) ?? [];
    expect(shownLate, `late-frame text: ${lateText}`).toBeDefined();
    expect(Math.abs(Number(shownPercent) - (100 * Number(shownLate)) / Number(shownFrames))).toBeLessThanOrEqual(0.05 + 1e-9); // shown to 0.1 %
    const st = await state(page);
    expect(Number(shownLate)).toBeLessThanOrEqual(st.stats!.lateMasks);
    expect(Number(shownFrames)).toBeLessThanOrEqual(st.stats!.frames);
    console.log(`late masks: ${st.stats!.lateMasks} of ${st.stats!.frames}; page: ${lateText}`);
    expect(st.stats!.lateMasks).toBeLessThan(0.05 * st.stats!.frames);
    expect(st.stats!.stepMedianMs).toBeGreaterThan(0);
    expect([...hosts].filter((h) => h !== '127.0.0.1:4173')).toEqual([]); // onnxruntime's wasm is served by the app
  } finally {
    await browser.close();
  }
});

test('the live views follow the audio: the level meters move, the spectrograms sweep and show it', async () => {
  const { browser, page } = await openApp(noisySpeech().file);
  try {
    const input = page.getByRole('meter', { name: 'Input level' });
    await expect(input).toHaveAttribute('aria-valuetext', 'silent');
    await start(page);
    await flow(page, 2);
    await expect.poll(async () => Number(await input.getAttribute('aria-valuenow'))).toBeGreaterThan(-60);
    // Per spectrogram: where the white cursor line is, and how many pixels show energy.
    const look = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLCanvasElement>('.spectrogram canvas')].map((c) => {
          const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let cursor = -1;
          for (let x = 0; x < c.width; x++) if (px[4 * x] === 255 && px[4 * x + 1] === 255 && px[4 * x + 2] === 255) cursor = x;
          let lit = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i] > 60) lit++;
          return { width: c.width, cursor, lit };
        }),
      );
    const before = await look();
    await page.waitForTimeout(1000);
    const after = await look();
    expect(after).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      expect(after[i].cursor).toBeGreaterThanOrEqual(0);
      expect((after[i].cursor - before[i].cursor + after[i].width) % after[i].width).toBeGreaterThanOrEqual(10); // ≥ 10 columns a second
      expect(after[i].lit).toBeGreaterThan(500);
    }
  } finally {
    await browser.close();
  }
});

test('the delay measured on a click train equals the documented one and the page shows it: at most 20 ms', async () => {
  await checkDelay('');
});

test('48 kHz AudioContext (resampling path): denoising holds', async () => {
  await checkDenoising('?rate=48000');
});

test('48 kHz AudioContext (resampling path): measured delay equals the documented one and the page shows it: at most 25 ms', async () => {
  await checkDelay('?rate=48000');
});

test('switching model live: no click, no dropout', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 2);
    const picker = page.getByRole('combobox', { name: 'Model' });
    const options = await picker.locator('option').allTextContents();
    const current = (await state(page)).model;
    const other = options.find((o) => !o.startsWith(current) && !o.includes('fixture'));
    test.skip(!other, 'only one trained model is shipped');
    await page.evaluate(() => (window as unknown as { __quell: { clear(): void } }).__quell.clear());
    await picker.selectOption({ label: other! });
    await expect.poll(async () => (await state(page)).model, { timeout: 15_000 }).toBe(other!.split(' ')[0]);
    await expect.poll(async () => (await state(page)).failure, { timeout: 15_000 }).toBeNull();
    await flow(page, 1.5);
    const st = await state(page);
    const cap = await capture(page);
    const d = Math.round(st.delaySeconds * cap.sampleRate);
    expect(maxStep(cap.output, d + 1)).toBeLessThanOrEqual(maxStep(cap.input) * 1.1);
    expect(longestDropout(cap, d)).toBeLessThan(16);
  } finally {
    await browser.close();
  }
});

test('from Start, noise alone is held down from the first quarter second, and fully within a second', async () => {
  const { browser, page } = await openApp(noiseAlone('noise-from-start').file);
  try {
    await start(page);
    // The first frames can be Chromium's opening digital silence (0.65 s, longer on a loaded
    // machine), which leaves no output to measure: audio flows until more than 2 s of windows
    // follow the first processed sample, for at most 12 s.
    const measure = async () => {
      const st = await state(page);
      const cap = await capture(page);
      const d = Math.round(st.delaySeconds * cap.sampleRate);
      const first = cap.output.findIndex((v) => v !== 0); // the first processed audio
      return { st, reductions: first < 0 ? [] : reductionPerWindow(cap, d, cap.sampleRate / 4, Math.max(0, first - d)) };
    };
    await flow(page, 4);
    let { st, reductions } = await measure();
    for (let more = 0; reductions.length <= 8 && more < 8; more++) {
      await flow(page, 1);
      ({ st, reductions } = await measure());
    }
    console.log(
      `noise reduction per 250 ms from Start: ${reductions.map((r) => r.toFixed(0)).join(' ')} dB ` +
        `(late masks ${st.stats!.lateMasks}, caught up ${st.stats!.correctedMasks}; worker frames behind ${st.stats!.allSteps?.framesBehind.join(' ')})`,
    );
    expect(reductions.length).toBeGreaterThan(8);
    // The recurrent state starts empty, so the first quarter second is suppressed less. Chromium's
    // microphone opens with digital silence, which the engine does not step the model on: stepped
    // on it, the model took the noise that followed for something new and let it through for up
    // to a second (6–50 dB in the first quarter second, by how long the silence lasted).
    expect(Math.min(...reductions)).toBeGreaterThan(25);
    expect(Math.min(...reductions.slice(4))).toBeGreaterThan(40);
  } finally {
    await browser.close();
  }
});

test('switching model live keeps the noise down: the new model is warmed on the audio before it takes over', async () => {
  const { browser, page } = await openApp(noiseAlone().file);
  try {
    await start(page);
    await flow(page, 3);
    const picker = page.getByRole('combobox', { name: 'Model' });
    const other = (await picker.locator('option').allTextContents()).find((o) => o.startsWith('quell-gru-v1 '));
    test.skip(!other, 'quell-gru-v1 is not shipped');
    await page.evaluate(() => (window as unknown as { __quell: { clear(): void } }).__quell.clear());
    await flow(page, 0.5);
    await picker.selectOption({ label: other! });
    await expect.poll(async () => (await state(page)).model, { timeout: 15_000 }).toBe('quell-gru-v1');
    await flow(page, 2);
    const st = await state(page);
    const cap = await capture(page);
    const d = Math.round(st.delaySeconds * cap.sampleRate);
    // Noise reduction in every 100 ms from before the switch to 2 s after it: never the raw noise.
    const reductions = reductionPerWindow(cap, d, cap.sampleRate / 10);
    console.log(`noise reduction per 100 ms across the switch: ${reductions.map((r) => r.toFixed(0)).join(' ')} dB`);
    expect(reductions.length).toBeGreaterThan(20);
    expect(Math.min(...reductions)).toBeGreaterThan(6);
  } finally {
    await browser.close();
  }
});

test('before Start the pickers show real choices: a microphone, and models without the test fixture', async () => {
  const { browser, page } = await openApp(noisySpeech().file);
  try {
    const mic = page.getByRole('combobox', { name: 'Microphone' });
    await expect
      .poll(async () => (await mic.evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.textContent ?? '')).trim())
      .not.toBe('');
    const models = page.getByRole('combobox', { name: 'Model' });
    await expect.poll(async () => (await models.locator('option').allTextContents()).length).toBeGreaterThan(0);
    expect((await models.locator('option').allTextContents()).some((o) => o.includes('fixture'))).toBe(false);
    await expect(page.getByText('only the test fixture')).toHaveCount(0);
  } finally {
    await browser.close();
  }
});

/** Every failure explains itself on the page and leaves audio flowing, finite and click-free. */
import { expect, test } from '@playwright/test';
import { bypassError, capture, flow, longestDropout, maxStep, openApp, start, state } from '../harness/app';
import { noisySpeech } from '../harness/audio';

test('microphone permission denied: a clear message, no crash, Start still offered', async () => {
  const { browser, page } = await openApp(null, { denyMicrophone: true });
  try {
    await page.getByRole('button', { name: 'Start microphone' }).click();
    await expect(page.getByRole('alert')).toContainText(/denied/i);
    await expect(page.getByRole('button', { name: 'Start microphone' })).toBeEnabled();
    expect((await state(page)).running).toBe(false);
  } finally {
    await browser.close();
  }
});

for (const [label, fulfil] of [
  ['answers 404', { status: 404, body: 'not found' }],
  ['is garbage', { status: 200, body: 'this is not an onnx model', contentType: 'application/octet-stream' }],
] as const) {
  test(`model file ${label}: banner, and the audio passes through unprocessed`, async () => {
    const scenario = noisySpeech();
    const { browser, page } = await openApp(scenario.file, {
      setup: (p) => p.route(/models\/.*\.onnx$/, (route) => route.fulfill(fulfil)),
    });
    try {
      // said before Start, and the toggle does not claim to be removing noise
      await expect(page.getByTestId('model-banner')).toContainText('could not be loaded');
      await expect(page.getByTestId('model-banner')).toContainText('.onnx');
      await expect(page.getByRole('button', { name: /Noise suppression/ })).toHaveText(/On \(no model\)/);
      await start(page);
      await expect(page.getByTestId('model-banner')).toContainText('passes through unprocessed');
      await expect(page.getByTestId('model-banner')).toContainText('.onnx');
      await expect(page.getByRole('button', { name: /Noise suppression/ })).toHaveText(/On \(no model\)/);
      await flow(page, 2);
      const st = await state(page);
      const cap = await capture(page);
      const d = Math.round(st.delaySeconds * cap.sampleRate);
      expect(bypassError(cap, d, 1)).toBeLessThan(1e-6); // unprocessed, and not silence
      expect(energyOf(cap.output)).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  });
}

function energyOf(x: Float32Array): number {
  return x.reduce((a, v) => a + v * v, 0);
}

test('model worker killed mid-stream: bypass without a click, then it restarts and denoises again', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 3);
    await page.evaluate(() => (window as unknown as { __quell: { clear(): void; crashWorker(): void } }).__quell.clear());
    await flow(page, 0.5);
    await page.evaluate(() => (window as unknown as { __quell: { crashWorker(): void } }).__quell.crashWorker());
    await expect(page.getByTestId('model-banner')).toContainText('restarting', { timeout: 5000 });
    await expect.poll(async () => (await state(page)).failure, { timeout: 15_000 }).toBeNull();
    await expect(page.getByTestId('model-banner')).toHaveCount(0);
    const framesAfter = (await state(page)).stats!.frames;
    await flow(page, 1);
    const st = await state(page);
    expect(st.stats!.workerRestarts).toBeGreaterThanOrEqual(1);
    expect(st.stats!.frames).toBeGreaterThan(framesAfter);
    const cap = await capture(page);
    const d = Math.round(st.delaySeconds * cap.sampleRate);
    // no click: the output never jumps more than the input itself does
    const stepIn = maxStep(cap.input);
    expect(maxStep(cap.output, d + 1)).toBeLessThanOrEqual(stepIn * 1.1);
    expect(longestDropout(cap, d)).toBeLessThan(16);
    // denoising again: over the last second the output is no longer the input passed through
    // (bypass is that input bit for bit): something was taken away, and less came out than went
    // in. Not a level drop alone: the voice keeps its level, so what goes is mostly the noise.
    let eIn = 0;
    let eOut = 0;
    let eRemoved = 0;
    for (let i = cap.output.length - cap.sampleRate; i < cap.output.length; i++) {
      eIn += cap.input[i - d] ** 2;
      eOut += cap.output[i] ** 2;
      eRemoved += (cap.input[i - d] - cap.output[i]) ** 2;
    }
    console.log(`after the restart: output/input energy ${(eOut / eIn).toFixed(3)}, taken away ${(eRemoved / eIn).toFixed(3)}`);
    expect(eRemoved / eIn).toBeGreaterThan(0.005); // bypass: 0
    expect(eOut / eIn).toBeLessThan(0.99);
  } finally {
    await browser.close();
  }
});

test('NaN samples injected into the engine: the output stays finite and audio keeps flowing', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 1);
    await page.evaluate(() => (window as unknown as { __quell: { injectNaN(n: number): void } }).__quell.injectNaN(4000));
    await flow(page, 2);
    const st = await state(page);
    expect(st.stats!.badSamples).toBeGreaterThanOrEqual(4000);
    const cap = await capture(page);
    expect(cap.output.every(Number.isFinite)).toBe(true);
    const tail = cap.output.subarray(cap.output.length - cap.sampleRate);
    expect(energyOf(tail)).toBeGreaterThan(0);
    await expect(page.getByTestId('model-banner')).toHaveCount(0);
  } finally {
    await browser.close();
  }
});

test('a browser that refuses a 16 kHz AudioContext: the app runs at the browser’s rate and resamples', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file, {
    setup: (p) =>
      p.addInitScript(() => {
        const Native = window.AudioContext;
        window.AudioContext = class extends Native {
          constructor(options?: AudioContextOptions) {
            if (options?.sampleRate === 16000) throw new DOMException('16 kHz is not supported here', 'NotSupportedError');
            super(options);
          }
        } as typeof AudioContext;
      }),
  });
  try {
    await start(page);
    await flow(page, 2);
    const st = await state(page);
    expect(st.contextRate).not.toBe(16000);
    expect(st.failure).toBeNull();
    expect(st.stats!.underruns).toBe(0);
    await expect(page.getByText(/resampled to 16 kHz/)).toBeVisible();
  } finally {
    await browser.close();
  }
});

test('audio paused by the browser: a banner with a button that resumes it', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await page.evaluate(() => (window as unknown as { __quell: { suspendAudio(): Promise<void> } }).__quell.suspendAudio());
    await page.getByRole('button', { name: 'Resume audio' }).click();
    await expect(page.getByRole('button', { name: 'Resume audio' })).toHaveCount(0);
    await flow(page, 1); // audio flows again
  } finally {
    await browser.close();
  }
});

test('microphone unplugged mid-session: a message, the session stops so the page and the button agree, and Start works again', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await page.evaluate(() => (window as unknown as { __quell: { unplugMicrophone(): void } }).__quell.unplugMicrophone());
    await expect(page.getByRole('alert')).toContainText(/microphone stopped.*press Start microphone/i);
    await expect(page.getByRole('button', { name: 'Stop' })).toHaveCount(0);
    expect((await state(page)).running).toBe(false);
    await start(page); // and starting again works
  } finally {
    await browser.close();
  }
});

test('the audio engine throws: a banner says so and the microphone is heard unprocessed, never muted', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 1);
    await page.evaluate(() => (window as unknown as { __quell: { breakProcessor(): void } }).__quell.breakProcessor());
    await expect(page.getByTestId('model-banner')).toContainText('audio engine stopped', { timeout: 5000 });
    await page.waitForTimeout(2000);
    const cap = await capture(page);
    expect(bypassError(cap, 0, 1)).toBeLessThan(1e-6); // routed around the dead node: the microphone itself
    expect(energyOf(cap.output.subarray(cap.output.length - cap.sampleRate))).toBeGreaterThan(0);
  } finally {
    await browser.close();
  }
});

test('a bad mask wait in the address (?latency=1.5) is refused with a message naming it; nothing is muted', async () => {
  const { browser, page } = await openApp(noisySpeech().file, { query: '?latency=1.5' });
  try {
    await page.getByRole('button', { name: 'Start microphone' }).click();
    await expect(page.getByRole('alert')).toContainText('maskLatency must be a whole number of hops');
    expect((await state(page)).running).toBe(false);
  } finally {
    await browser.close();
  }
});

/** The page as a person uses it with a keyboard, a screen reader or a narrow phone. */
import { expect, test } from '@playwright/test';
import { flow, openApp, start } from '../harness/app';
import { noisySpeech } from '../harness/audio';

test('keyboard focus stays on the Start/Stop button, and the toggle says its state once', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await page.getByRole('button', { name: 'Start microphone' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('button', { name: 'Stop' })).toBeFocused({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await expect(page.getByRole('button', { name: 'Start microphone' })).toBeFocused();
    // Its name is what it does; on or off is its pressed state (and the visible text).
    const toggle = page.getByRole('button', { name: 'Noise suppression', exact: true });
    await expect(toggle).toHaveAttribute('aria-pressed', 'true');
    await expect(toggle).toHaveText('Noise suppression: On');
    await toggle.click();
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await expect(toggle).toHaveText('Noise suppression: Off');
  } finally {
    await browser.close();
  }
});

test('the late-frame count comes with what it means, and the two capture downloads say which is which', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    await flow(page, 3);
    await expect(page.getByTestId('late-frames')).toHaveText(/^\d+ of \d+ · \d+\.\d+ %(, fine|: the computer)/);
    await page.getByRole('button', { name: 'Capture last 30 s' }).click();
    await expect(page.getByRole('link', { name: 'Download the original (WAV)' })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Download the denoised (WAV)' })).toBeVisible();
  } finally {
    await browser.close();
  }
});

test('at 320 px wide nothing scrolls sideways', async () => {
  const { browser, page } = await openApp(null);
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    await expect(page.getByRole('button', { name: 'Start microphone' })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  } finally {
    await browser.close();
  }
});

test('a model whose card cannot be read is named as such in the picker', async () => {
  const { browser, page } = await openApp(null, {
    setup: (p) => p.route(/models\/quell-lstm\.json$/, (route) => route.fulfill({ status: 404, body: 'gone' })),
  });
  try {
    await expect(
      page.getByRole('combobox', { name: /Model/ }).locator('option', { hasText: 'quell-lstm.json (its card could not be read)' }),
    ).toHaveCount(1);
  } finally {
    await browser.close();
  }
});

test('while the model loads (a slow first visit) the page says what it is waiting for, then Start works', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file, {
    setup: (p) =>
      p.route(/\.wasm$/, async (route) => {
        await new Promise((r) => setTimeout(r, 3000)); // the runtime on a slow link
        await route.continue();
      }),
  });
  try {
    await expect(page.getByTestId('model-status')).toHaveText('Loading the noise model: starting the model runtime…');
    await expect(page.getByTestId('model-status')).toHaveCount(0, { timeout: 30_000 });
    await start(page);
    await flow(page, 1);
  } finally {
    await browser.close();
  }
});

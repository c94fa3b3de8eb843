/** Denoising a file in the browser: progress to 100 %, and a valid WAV of the same length. */
import { expect, test, type Page } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWav, encodeWav } from '../src/io/wav';
import { openApp, start, state } from '../harness/app';
import { AUDIO_DIR, noisySpeech } from '../harness/audio';

/** A DataTransfer holding one WAV file, in the page, to dispatch with a drop event. */
function dataTransferOf(page: Page, name: string, bytes: Uint8Array) {
  return page.evaluateHandle(
    ([b64, fileName]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], fileName, { type: 'audio/wav' }));
      return dt;
    },
    [Buffer.from(bytes).toString('base64'), name] as const,
  );
}

test('a dropped file is denoised with a progress bar, and downloads as a WAV of the same length', async () => {
  const scenario = noisySpeech('file-input');
  const file = join(AUDIO_DIR, 'upload-44k.wav');
  const input = scenario.noisy.subarray(0, 44100 * 6); // 6 s, declared as 44.1 kHz stereo
  writeFileSync(file, encodeWav([input, input], 44100, 'pcm16'));
  const { browser, page } = await openApp(null);
  try {
    // Drop it on the drop zone, as a person would.
    const drop = await dataTransferOf(page, 'upload-44k.wav', readFileSync(file));
    await page.getByRole('region', { name: 'Drop an audio file here' }).dispatchEvent('drop', { dataTransfer: drop });
    await expect(page.getByTestId('file-result')).toContainText(/^Done: upload-44k\.wav, quell-gru, maximum strength: 6\.0 s of audio/, {
      timeout: 60_000,
    });
    await expect(page.getByTestId('file-progress')).toHaveCount(0); // gone once done
    const download = page.waitForEvent('download');
    await page.getByTestId('file-download').click();
    const saved = join(AUDIO_DIR, 'downloaded.wav');
    await (await download).saveAs(saved);
    const out = decodeWav(readFileSync(saved));
    expect(out.sampleRate).toBe(44100);
    expect(out.channels.length).toBe(2);
    expect(out.channels[0].length).toBe(input.length);
    expect(out.channels[0].every(Number.isFinite)).toBe(true);
    expect(out.channels[0].some((v) => v !== 0)).toBe(true);
  } finally {
    await browser.close();
  }
});

test('a file that is not audio gets a clear message', async () => {
  const { browser, page } = await openApp(null);
  try {
    const file = join(AUDIO_DIR, 'notes.wav');
    writeFileSync(file, 'definitely not audio');
    await page.getByTestId('file-input').setInputFiles(file);
    await expect(page.getByRole('alert')).toContainText('not an audio file');
  } finally {
    await browser.close();
  }
});

test('choosing the same file again runs it again, with the strength it now has, and says which model and strength made it', async () => {
  const file = join(AUDIO_DIR, 'again.wav');
  writeFileSync(file, encodeWav([noisySpeech('again').noisy.subarray(0, 16000 * 2)], 16000, 'pcm16'));
  const { browser, page } = await openApp(null);
  try {
    const chooser = page.getByTestId('file-input');
    await chooser.setInputFiles(file);
    await expect(page.getByTestId('file-result')).toContainText('maximum strength', { timeout: 60_000 });
    await page.getByRole('slider').fill('12');
    await chooser.setInputFiles(file);
    await expect(page.getByTestId('file-result')).toContainText(/again\.wav, quell-[\w-]+, at most 12 dB/, { timeout: 60_000 });
  } finally {
    await browser.close();
  }
});

test('an empty WAV is refused with the reason, and no empty download is offered', async () => {
  const { browser, page } = await openApp(null);
  try {
    const file = join(AUDIO_DIR, 'empty.wav');
    writeFileSync(file, encodeWav([new Float32Array(0)], 16000, 'pcm16'));
    await page.getByTestId('file-input').setInputFiles(file);
    await expect(page.getByRole('alert')).toContainText('empty.wav is not a readable WAV file: no audio in the data chunk');
    await expect(page.getByTestId('file-download')).toHaveCount(0);
  } finally {
    await browser.close();
  }
});

test('a long file shows what is happening and can be cancelled; the next file then runs', async () => {
  const long = join(AUDIO_DIR, 'long.wav');
  const minute = noisySpeech('long').noisy.subarray(0, 16000 * 10);
  const x = new Float32Array(16000 * 300); // 5 minutes, 48 kHz stereo below: long enough to catch running
  for (let i = 0; i < x.length; i += minute.length) x.set(minute.subarray(0, Math.min(minute.length, x.length - i)), i);
  writeFileSync(long, encodeWav([x, x], 16000, 'pcm16'));
  const short = join(AUDIO_DIR, 'short.wav');
  writeFileSync(short, encodeWav([minute.subarray(0, 16000)], 16000, 'pcm16'));
  const { browser, page } = await openApp(null);
  try {
    await page.getByTestId('file-input').setInputFiles(long);
    await expect(page.getByTestId('file-phase')).toHaveText('Denoising…');
    await expect
      .poll(async () => Number((await page.getByTestId('file-percent').textContent())?.replace('%', '')), { timeout: 30_000 })
      .toBeGreaterThan(0);
    await page.getByTestId('file-cancel').click();
    await expect(page.getByRole('alert')).toContainText('Cancelled: long.wav was not denoised.');
    await expect(page.getByTestId('file-download')).toHaveCount(0);
    await page.getByTestId('file-input').setInputFiles(short);
    await expect(page.getByTestId('file-result')).toContainText('Done: short.wav', { timeout: 60_000 });
  } finally {
    await browser.close();
  }
});

test('a file dropped outside the drop zone is denoised too, and the live session goes on', async () => {
  const scenario = noisySpeech();
  const { browser, page } = await openApp(scenario.file);
  try {
    await start(page);
    const wav = encodeWav([scenario.noisy.subarray(0, 16000)], 16000, 'pcm16');
    const drop = await dataTransferOf(page, 'elsewhere.wav', wav);
    await page.locator('header').dispatchEvent('drop', { dataTransfer: drop });
    await expect(page.getByTestId('file-result')).toContainText('Done: elsewhere.wav', { timeout: 60_000 });
    await expect(page).toHaveURL(/127\.0\.0\.1:4173\/$/); // the browser did not navigate to the file
    expect((await state(page)).running).toBe(true);
    await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
  } finally {
    await browser.close();
  }
});

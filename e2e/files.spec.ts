/** Denoising a file in the browser: progress to 100 %, and a valid WAV of the same length. */
import { expect, test } from '@playwright/test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWav, encodeWav } from '../src/engine/wav';
import { openApp } from './app';
import { AUDIO_DIR, noisySpeech } from './audio';

test('a dropped file is denoised with a progress bar, and downloads as a WAV of the same length', async () => {
  const scenario = noisySpeech('file-input');
  const file = join(AUDIO_DIR, 'upload-44k.wav');
  const input = scenario.noisy.subarray(0, 44100 * 6); // 6 s, declared as 44.1 kHz stereo
  writeFileSync(file, encodeWav([input, input], 44100, 'pcm16'));
  const { browser, page } = await openApp(null);
  try {
    // Drop it on the drop zone, as a person would.
    const bytes = readFileSync(file).toString('base64');
    const drop = await page.evaluateHandle((b64) => {
      const bin = atob(b64);
      const arr = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([arr], 'upload-44k.wav', { type: 'audio/wav' }));
      return dt;
    }, bytes);
    await page.getByRole('region', { name: 'Drop an audio file here' }).dispatchEvent('drop', { dataTransfer: drop });
    await expect(page.getByTestId('file-percent')).toHaveText('100%', { timeout: 60_000 });
    await expect(page.getByTestId('file-progress')).toHaveAttribute('value', '1');
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

/**
 * Quell as a package: `npm pack`, installed into the no-bundler example page
 * (examples/microphone), served by its own server, denoising a synthetic microphone into a
 * MediaStream. What is checked is what the page shows.
 */
import { expect, test } from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noiseAlone } from '../harness/audio';
import { launchWithMicrophone } from '../harness/browser';

test('the packed package denoises a microphone into a MediaStream in a page with no bundler', async () => {
  test.setTimeout(240_000);
  const site = mkdtempSync(join(tmpdir(), 'quell-example-'));
  let server: ChildProcess | null = null;
  try {
    cpSync('examples/microphone', site, { recursive: true });
    execFileSync('npm', ['pack', '--pack-destination', site], { stdio: 'ignore' });
    const tarball = readdirSync(site).find((f) => f.endsWith('.tgz'))!;
    // The package has no dependencies to fetch: everything it runs is inside it.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', `./${tarball}`], { cwd: site, stdio: 'ignore' });
    const port = 4300 + Math.floor(Math.random() * 500);
    server = spawn('node', ['serve.mjs', String(port)], { cwd: site, stdio: 'ignore' });
    const browser = await launchWithMicrophone(noiseAlone().file);
    try {
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
      await expect.poll(() => page.goto(`http://127.0.0.1:${port}/`).then((r) => r?.ok() ?? false), { timeout: 10_000 }).toBe(true);
      await page.getByRole('button', { name: 'Start microphone' }).click();
      await expect(page.locator('#status')).toHaveText(/^Denoising with quell-gru, \d+\.\d ms engine delay\.$/, { timeout: 30_000 });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      // Noise alone at the microphone: the stream carries it at least 20 dB down, for 3 s running.
      const reduction = async () => Number((await page.locator('#reduction').textContent())!.replace(' dB', ''));
      await expect.poll(reduction, { timeout: 20_000 }).toBeGreaterThan(20);
      for (let i = 0; i < 6; i++) {
        await page.waitForTimeout(500);
        const input = Number((await page.locator('#input').textContent())!.replace(' dBFS', ''));
        expect(input).toBeGreaterThan(-50); // the microphone is live, not silent
        expect(await reduction()).toBeGreaterThan(20);
      }
      console.log(`package example: ${await page.locator('#status').textContent()} removed ${await reduction()} dB`);
    } finally {
      await browser.close();
    }
  } finally {
    server?.kill();
    rmSync(site, { recursive: true, force: true });
  }
});

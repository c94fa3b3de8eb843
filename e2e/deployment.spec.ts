/** What a deployment of the production build serves, and what a crafted link can make the page do. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { openApp, start, state } from '../harness/app';
import { noisySpeech } from '../harness/audio';

test('the production build carries its security policy and no test hooks, and ships only what the page loads', async () => {
  const out = mkdtempSync(join(tmpdir(), 'quell-dist-'));
  execFileSync('npx', ['vite', 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'error'], { stdio: 'inherit' });
  const scripts = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'));
  expect(scripts.length).toBeGreaterThan(0);
  for (const f of scripts) expect(readFileSync(join(out, 'assets', f), 'utf8'), f).not.toContain('__quell');
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;;[^"]*connect-src &#39;self&#39;/);
  const headers = readFileSync(join(out, '_headers'), 'utf8');
  for (const h of [
    'Cross-Origin-Opener-Policy: same-origin',
    'Cross-Origin-Embedder-Policy: require-corp',
    "Content-Security-Policy: default-src 'self'",
    "frame-ancestors 'none'",
  ])
    expect(headers).toContain(h);
  const models = readdirSync(join(out, 'models'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
  expect(models).toContain('quell-gru.onnx');
  expect(models.filter((m) => !/\.(json|onnx)$/.test(m))).toEqual([]); // no .pt, goldens or pipeline files
});

test('the served page is cross-origin isolated and under its security policy', async () => {
  const { browser, page } = await openApp(null);
  try {
    const response = await page.goto('/');
    const headers = response!.headers();
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  } finally {
    await browser.close();
  }
});

test('a link naming a model on another site: the page says so and runs its default model', async () => {
  const scenario = noisySpeech();
  const requests: string[] = [];
  const { browser, page } = await openApp(scenario.file, {
    query: '?model=https://example.com/evil/card.json',
    setup: async (p) => p.on('request', (r) => requests.push(r.url())),
  });
  try {
    await expect(page.getByTestId('param-banner')).toContainText('https://example.com/evil/card.json');
    await expect(page.getByTestId('param-banner')).toContainText('using the default model');
    await start(page);
    await expect.poll(async () => (await state(page)).model, { timeout: 20000 }).toBe('quell-gru');
    await expect(page.getByRole('combobox', { name: /Model/ })).toHaveValue(/quell-gru\.json$/);
    expect(requests.filter((u) => !u.startsWith('http://127.0.0.1:4173/'))).toEqual([]);
  } finally {
    await browser.close();
  }
});

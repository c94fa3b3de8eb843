import { defineConfig } from '@playwright/test';

// The app is built and served by Vite's preview server (cross-origin isolated, as deployed).
// Each test launches its own Chromium with its own fake-microphone WAV (see harness/browser.ts).
export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  workers: 1, // real-time audio: tests must not compete for the 2 cores
  reporter: [['list']],
  webServer: {
    command: 'npx vite build --mode test --logLevel warn && npx vite preview --host 127.0.0.1 --port 4173 --strictPort',
    url: 'http://127.0.0.1:4173',
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
  },
  use: { baseURL: 'http://127.0.0.1:4173' },
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

// Cross-origin isolation lets the worklet and the model worker share memory (SharedArrayBuffer);
// without it the engine falls back to a MessagePort.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// Everything the page runs comes from its own origin: models, workers, the worklet and
// onnxruntime's wasm (compiled under 'wasm-unsafe-eval'). Styles may be inline (Svelte sets
// style attributes); audio plays from blob: URLs (the A/B players and file results).
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const headers = { ...isolation, 'Content-Security-Policy': `${contentSecurityPolicy}; frame-ancestors 'none'` };

/**
 * The same policy wherever the page is served from: as a <meta> tag in every page (static hosts
 * that set no headers), as headers from the dev and preview servers, and as a `_headers` file in
 * the build, which Netlify and Cloudflare Pages read (docs/DEPLOY.md has other servers).
 */
function securityHeaders(): Plugin {
  return {
    name: 'quell-security-headers',
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy }, injectTo: 'head-prepend' },
    ],
    generateBundle() {
      const lines = Object.entries(headers).map(([k, v]) => `  ${k}: ${v}`);
      this.emitFile({ type: 'asset', fileName: '_headers', source: `/*\n${lines.join('\n')}\n` });
    },
  };
}

/**
 * The build ships what the page loads from models/: the index, the cards and the ONNX files.
 * The PyTorch weights and the parity goldens beside them are for training and tests (the dev
 * server still serves the whole folder, through public/models).
 */
function runtimeModels(): Plugin {
  const runtime = /\.(json|onnx)$/;
  return {
    name: 'quell-runtime-models',
    apply: 'build',
    generateBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(join('models', dir), { withFileTypes: true }).flatMap((e) =>
          e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
        );
      for (const file of walk('.').filter((f) => runtime.test(f))) {
        this.emitFile({ type: 'asset', fileName: join('models', file), source: readFileSync(join('models', file)) });
      }
    },
  };
}

/**
 * `vite build --mode package` (npm run build:package, run by npm pack): Quell as a package for any
 * page, bundler or none. One ES module (lib/quell.js) with every dependency inside; the worklet,
 * the model worker and onnxruntime's wasm beside it in lib/assets/, found relative to the module;
 * the default model in lib/models/. Not Vite's library mode: it inlines every asset, and
 * onnxruntime's 14 MB wasm would become 19 MB of base64 inside the worker.
 */
function packageBuild(): UserConfig {
  const index = JSON.parse(readFileSync('models/index.json', 'utf8')) as { default: string };
  const card = JSON.parse(readFileSync(join('models', index.default), 'utf8')) as { file: string };
  return {
    base: './',
    worker: { format: 'es' },
    optimizeDeps: { exclude: ['onnxruntime-web'] },
    plugins: [
      {
        name: 'quell-package-model',
        generateBundle() {
          for (const file of [index.default, card.file]) {
            this.emitFile({ type: 'asset', fileName: `models/${file}`, source: readFileSync(join('models', file)) });
          }
          const packaged = { default: index.default, models: [index.default] };
          this.emitFile({ type: 'asset', fileName: 'models/index.json', source: JSON.stringify(packaged, null, 2) + '\n' });
        },
      },
    ],
    build: {
      outDir: 'lib',
      target: 'es2022',
      copyPublicDir: false,
      rollupOptions: {
        input: { quell: 'src/index.ts' },
        preserveEntrySignatures: 'strict',
        output: { entryFileNames: '[name].js' },
      },
    },
  };
}

export default defineConfig(({ mode }) =>
  mode === 'package'
    ? packageBuild()
    : {
        plugins: [svelte(), securityHeaders(), runtimeModels()],
        server: { headers },
        preview: { headers },
        worker: { format: 'es' },
        // onnxruntime-web finds its .wasm next to its own module; pre-bundling would move it.
        optimizeDeps: { exclude: ['onnxruntime-web'] },
        build: {
          target: 'es2022',
          copyPublicDir: false, // public/ holds only the models link; runtimeModels() copies what ships
          // The app, and the engine probe that `npm run bench` opens in the browser.
          rollupOptions: { input: { app: 'index.html', probe: 'bench/probe.html' } },
        },
      },
);

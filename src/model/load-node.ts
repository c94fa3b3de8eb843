/** Loading a model card and its ONNX file from disk, for Node (CLI, tests, eval, bench). */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { MAX_CARD_BYTES, MAX_MODEL_BYTES, parseModelCard, parseModelIndex, type ModelCard } from './card';
import { ModelRunner } from './model-runner';

ort.env.wasm.numThreads = 1; // the browser worker runs one thread too
ort.env.logLevel = 'error';

export { ort };

/** A regular file of at most `limit` bytes, read whole; `what` names it in errors. */
function readBounded(path: string, limit: number, what: string): Buffer {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error(`${what} ${path} is not a regular file`);
    size = stat.size;
  } catch (e) {
    throw (e as Error).message.startsWith(what) ? e : new Error(`${what} ${path} not found or unreadable`, { cause: e });
  }
  if (size > limit)
    throw new Error(`${what} ${path} is ${(size / 2 ** 20).toFixed(1)} MiB, more than the ${limit / 2 ** 20} MiB a ${what} may be`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${what} ${path} not found or unreadable`, { cause: e });
  }
}

/** The repository's bundled models: models/index.json, as absolute card paths. */
export function readModelIndex(modelsDir: string): { defaultCard: string; cards: string[] } {
  const path = resolve(modelsDir, 'index.json');
  let json: unknown;
  try {
    json = JSON.parse(readBounded(path, MAX_CARD_BYTES, 'model index').toString('utf8'));
  } catch (e) {
    throw (e as Error).message.startsWith('model index') ? e : new Error(`model index ${path} is not valid JSON`);
  }
  const index = parseModelIndex(json, path);
  return { defaultCard: resolve(modelsDir, index.default), cards: index.models.map((m) => resolve(modelsDir, m)) };
}

export function readCard(cardPath: string): ModelCard {
  const text = readBounded(cardPath, MAX_CARD_BYTES, 'model card').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`model card ${cardPath} is not valid JSON`);
  }
  return parseModelCard(json, cardPath);
}

export async function loadRunner(cardPath: string): Promise<ModelRunner> {
  const card = readCard(cardPath);
  const modelPath = resolve(dirname(cardPath), card.file);
  return ModelRunner.create(ort, readBounded(modelPath, MAX_MODEL_BYTES, 'model file'), card, modelPath);
}

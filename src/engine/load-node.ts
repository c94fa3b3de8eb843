/** Loading a model card and its ONNX file from disk, for Node (CLI, tests, eval, bench). */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { parseModelCard, type ModelCard } from './card';
import { ModelRunner } from './model-runner';

ort.env.wasm.numThreads = 1; // the browser worker runs one thread too
ort.env.logLevel = 'error';

export { ort };

export function readCard(cardPath: string): ModelCard {
  let text: string;
  try {
    text = readFileSync(cardPath, 'utf8');
  } catch {
    throw new Error(`model card ${cardPath} not found or unreadable`);
  }
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
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(modelPath);
  } catch {
    throw new Error(`model file ${modelPath} not found or unreadable`);
  }
  return ModelRunner.create(ort, bytes, card, modelPath);
}

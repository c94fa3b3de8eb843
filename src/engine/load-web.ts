/** Loading a model card and its ONNX file over fetch, for the browser (page and workers). */
import type * as OrtModule from 'onnxruntime-web';
import { parseModelCard, type ModelCard } from './card';
import { ModelRunner } from './model-runner';

async function fetchOk(url: string, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${what} ${url} could not be fetched: ${(e as Error).message}`);
  }
  if (!response.ok) throw new Error(`${what} ${url} could not be fetched: HTTP ${response.status}`);
  return response;
}

export async function fetchCard(url: string): Promise<ModelCard> {
  if (!url) throw new Error('no model card URL was given');
  const response = await fetchOk(url, 'model card');
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    throw new Error(`model card ${url} is not valid JSON`);
  }
  return parseModelCard(json, url);
}

/** The card at `cardUrl`, and its model (resolved relative to the card) in a ModelRunner. */
export async function loadRunnerFromUrl(ort: typeof OrtModule, cardUrl: string): Promise<ModelRunner> {
  const card = await fetchCard(cardUrl);
  const modelUrl = new URL(card.file, new URL(cardUrl, self.location.href)).href;
  const bytes = new Uint8Array(await (await fetchOk(modelUrl, 'model file')).arrayBuffer());
  return ModelRunner.create(ort, bytes, card, modelUrl);
}

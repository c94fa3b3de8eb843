/** Loading a model card and its ONNX file over fetch, for the browser (page and workers). */
import type * as OrtModule from 'onnxruntime-web';
import { MAX_CARD_BYTES, MAX_MODEL_BYTES, parseModelCard, parseModelIndex, type ModelCard } from './card';
import { ModelRunner } from './model-runner';

async function fetchOk(url: string, what: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${what} ${url} could not be fetched: ${(e as Error).message}`, { cause: e });
  }
  if (!response.ok) throw new Error(`${what} ${url} could not be fetched: HTTP ${response.status}`);
  return response;
}

/** The body, read as it arrives and abandoned past `limit` bytes (a server may send no length, or lie). */
async function readBounded(response: Response, url: string, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'));
  const tooBig = () => new Error(`${what} ${url} is larger than the ${limit / 2 ** 20} MiB a ${what} may be`);
  if (declared > limit) throw tooBig();
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooBig();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/** A build's models/index.json (under `base`), as absolute card URLs. */
export async function fetchModelIndex(base: string): Promise<{ defaultCard: string; cards: string[] }> {
  const url = new URL(`${base}models/index.json`, location.href).href;
  const response = await fetchOk(url, 'model index');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await readBounded(response, url, MAX_CARD_BYTES, 'model index')));
  } catch (e) {
    throw (e as Error).message.startsWith('model index') ? e : new Error(`model index ${url} is not valid JSON`, { cause: e });
  }
  const index = parseModelIndex(json, url);
  return { defaultCard: new URL(index.default, url).href, cards: index.models.map((m) => new URL(m, url).href) };
}

export async function fetchCard(url: string): Promise<ModelCard> {
  if (!url) throw new Error('no model card URL was given');
  const response = await fetchOk(url, 'model card');
  const bytes = await readBounded(response, url, MAX_CARD_BYTES, 'model card');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    // (a dev server answers a missing file with its index.html)
    throw new Error(`model card ${url} is not valid JSON${bytes[0] === 0x3c ? ' (an HTML page: is the path right?)' : ''}`, { cause: e });
  }
  return parseModelCard(json, url);
}

/**
 * The card at `cardUrl`, and its model (resolved relative to the card) in a ModelRunner.
 * `onPhase` hears what is being done, for a page to show while it waits.
 */
export async function loadRunnerFromUrl(
  ort: typeof OrtModule,
  cardUrl: string,
  onPhase: (phase: string) => void = () => undefined,
): Promise<ModelRunner> {
  onPhase('reading the model card');
  const card = await fetchCard(cardUrl);
  onPhase(`downloading the model (${card.name}, ${Math.round((card.parameters * 4) / 1e5) / 10} MB)`);
  const modelUrl = new URL(card.file, new URL(cardUrl, self.location.href)).href;
  const bytes = await readBounded(await fetchOk(modelUrl, 'model file'), modelUrl, MAX_MODEL_BYTES, 'model file');
  // (a dev server answers a missing file with its index.html)
  if (bytes[0] === 0x3c) throw new Error(`model file ${modelUrl} is an HTML page, not a model: is the path right?`);
  // On a first visit this downloads and compiles onnxruntime's wasm too: the longest wait.
  onPhase('starting the model runtime');
  return ModelRunner.create(ort, bytes, card, modelUrl);
}

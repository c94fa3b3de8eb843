/** What every part of `npm run bench` shares: paths, percentiles and how figures are written. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelIndex } from '../src/model/load-node';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
export const ms = (x: number) => `${x.toFixed(3)} ms`;
export const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(2)} %`;
export const mb = (x: number) => `${(x / 1048576).toFixed(1)} MB`;

export function defaultCardPath(): string {
  return readModelIndex(join(root, 'models')).defaultCard;
}

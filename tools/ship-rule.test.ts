import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shipVerdict, targetsMet, type Reference, type UnseenFigures } from './ship-rule';

const reference: Reference = { noisy: { estoi: 0.703 }, gtcrn: { deltaSiSdr: 3.13, deltaSiSdrBySnr: { '-5': 7.59 } } };

/** A model's unseen figures: the default of Session 24 unless overridden. */
const model = ({
  at20 = -0.75,
  noise = 28.6,
  ...over
}: Partial<UnseenFigures> & { at20?: number; noise?: number } = {}): UnseenFigures => ({
  deltaSiSdr: 2.74,
  deltaSiSdrBySnr: { '-5': 6.1, '20': at20 },
  estoi: 0.713,
  cleanSiSdr: 27.3,
  cleanSiSdrWorst: 12.6,
  noiseAttenuationMedianDb: noise,
  noiseAttenuationByNoise: { machine: 22.5, impacts: 44.1, babble: 1.9, pink: 40.9 },
  ...over,
});

test('the targets a model meets are named, each against its own reference', () => {
  assert.deepEqual(targetsMet(model(), reference), [
    'ESTOI ≥ the noisy input’s',
    'noise alone: median ≥ 25 dB',
    'noise alone: impacts and machine ≥ 15 dB',
  ]);
  const strong = model({ deltaSiSdr: 6.2, at20: 0.1, cleanSiSdr: 31, cleanSiSdrWorst: 16 });
  strong.deltaSiSdrBySnr['-5'] = 7.6;
  assert.equal(targetsMet(strong, reference).length, 7);
});

test('a candidate better overall does not ship if it gives up a target the default meets', () => {
  // Session 23's question: +0.11 dB overall and +0.64 at 20 dB, but noise alone under 25 dB
  const verdict = shipVerdict(model(), model({ deltaSiSdr: 2.85, at20: -0.11, noise: 19.4 }), reference, true);
  assert.equal(verdict.ships, false);
  assert.match(verdict.reason, /gives up noise alone: median ≥ 25 dB/);
});

test('a clear overall gain ships, a clear loss does not, whatever noise alone does', () => {
  assert.equal(shipVerdict(model(), model({ deltaSiSdr: 2.9, noise: 26 }), reference, true).ships, true);
  assert.equal(shipVerdict(model(), model({ deltaSiSdr: 2.6, noise: 40 }), reference, true).ships, false);
});

test('a gain within the tie band ships only with more taken off noise alone', () => {
  const current = model({ deltaSiSdr: 2.74, noise: 26.0 });
  const more = shipVerdict(current, model({ deltaSiSdr: 2.75, noise: 28.6 }), reference, true);
  assert.equal(more.ships, true);
  assert.match(more.reason, /ahead by 0.1 dB or less overall \(\+0.01\), \+2.6 dB on noise alone/);
  assert.equal(shipVerdict(current, model({ deltaSiSdr: 2.8, noise: 25.5 }), reference, true).ships, false);
});

test('ties cannot walk the overall figure down: a candidate behind the default does not ship', () => {
  // Session 32's question: +0.09 then −0.09, each within the band, each with more off noise alone
  const shipped = model({ deltaSiSdr: 2.9, at20: -0.31, noise: 32.0 });
  const verdict = shipVerdict(shipped, model({ deltaSiSdr: 2.82, at20: -0.74, noise: 34.1 }), reference, true);
  assert.equal(verdict.ships, false);
  assert.match(verdict.reason, /-0.08 dB overall, behind the default/);
  assert.equal(shipVerdict(shipped, model({ deltaSiSdr: 2.89, noise: 40 }), reference, true).ships, false);
});

test('a candidate whose graph costs more is not passed without a CPU measurement', () => {
  const verdict = shipVerdict(model(), model({ deltaSiSdr: 4 }), reference, false);
  assert.equal(verdict.ships, false);
  assert.match(verdict.reason, /npm run bench/);
});

/**
 * Which model ships as the default: issue 15's targets on `npm run eval`'s unseen sources, and the
 * rule, settled before any choice, that picks between the default and a candidate
 * (models/README.md, "What ships"). `npm run eval -- --candidate CARD` applies it.
 */

/** The unseen-sources figures the targets read (a summary row of tools/eval.ts). */
export interface UnseenFigures {
  deltaSiSdr: number;
  deltaSiSdrBySnr: Record<string, number>;
  estoi: number;
  cleanSiSdr: number;
  cleanSiSdrWorst: number;
  noiseAttenuationMedianDb: number;
  noiseAttenuationByNoise: Record<string, number>;
}

/** What the targets are measured against: the noisy input and GTCRN on the same clips. */
export interface Reference {
  noisy: Pick<UnseenFigures, 'estoi'>;
  gtcrn: Pick<UnseenFigures, 'deltaSiSdr' | 'deltaSiSdrBySnr'>;
}

/** The unseen set's noise kinds that stand for issue 15's transient effects and ambience. */
const TRANSIENT = 'impacts';
const AMBIENCE = 'machine';

export const TARGETS: { name: string; met: (m: UnseenFigures, ref: Reference) => boolean }[] = [
  { name: 'ΔSI-SDR ≥ GTCRN + 3 dB', met: (m, ref) => m.deltaSiSdr >= ref.gtcrn.deltaSiSdr + 3 },
  { name: 'ΔSI-SDR at −5 dB SNR ≥ GTCRN’s', met: (m, ref) => m.deltaSiSdrBySnr[-5] >= ref.gtcrn.deltaSiSdrBySnr[-5] },
  { name: 'ΔSI-SDR at 20 dB SNR ≥ 0', met: (m) => m.deltaSiSdrBySnr[20] >= 0 },
  { name: 'ESTOI ≥ the noisy input’s', met: (m, ref) => m.estoi >= ref.noisy.estoi },
  { name: 'noise alone: median ≥ 25 dB', met: (m) => m.noiseAttenuationMedianDb >= 25 },
  {
    name: `noise alone: ${TRANSIENT} and ${AMBIENCE} ≥ 15 dB`,
    met: (m) => m.noiseAttenuationByNoise[TRANSIENT] >= 15 && m.noiseAttenuationByNoise[AMBIENCE] >= 15,
  },
  { name: 'clean speech: mean ≥ 30 dB, worst ≥ 15 dB', met: (m) => m.cleanSiSdr >= 30 && m.cleanSiSdrWorst >= 15 },
];

/**
 * An overall ΔSI-SDR gain within this band is a tie, decided by noise alone: the overall figure
 * moves this much with where the clips start on the frame grid. The band is one-sided: a
 * candidate behind the default overall never ships, so that ties taken one after another cannot
 * walk the overall figure down (each within the band, together past it).
 */
export const TIE_DB = 0.1;

export function targetsMet(m: UnseenFigures, ref: Reference): string[] {
  return TARGETS.filter((t) => t.met(m, ref)).map((t) => t.name);
}

export interface Verdict {
  ships: boolean;
  reason: string;
}

/**
 * Whether `candidate` replaces `current`. It must keep every target `current` meets, the CPU one
 * included (`sameCost`: its step graph costs what the default's does; otherwise `npm run bench`
 * has to say); then the overall ΔSI-SDR decides: behind the default it does not ship, ahead by
 * more than TIE_DB it does, and a gain within TIE_DB ships only with more taken off noise alone.
 */
export function shipVerdict(current: UnseenFigures, candidate: UnseenFigures, ref: Reference, sameCost: boolean): Verdict {
  if (!sameCost)
    return { ships: false, reason: 'its graph differs from the default’s: measure its CPU with npm run bench before the rule can pass it' };
  const kept = new Set(targetsMet(candidate, ref));
  const lost = targetsMet(current, ref).filter((t) => !kept.has(t));
  if (lost.length) return { ships: false, reason: `gives up ${lost.join('; ')}` };
  const overall = candidate.deltaSiSdr - current.deltaSiSdr;
  const noise = candidate.noiseAttenuationMedianDb - current.noiseAttenuationMedianDb;
  const signed = (x: number, d: number) => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;
  if (overall > TIE_DB) return { ships: true, reason: `${signed(overall, 2)} dB overall` };
  if (overall < 0) return { ships: false, reason: `${signed(overall, 2)} dB overall, behind the default` };
  const tie = `ahead by ${TIE_DB} dB or less overall (${signed(overall, 2)})`;
  return noise > 0
    ? { ships: true, reason: `${tie}, ${signed(noise, 1)} dB on noise alone` }
    : { ships: false, reason: `${tie}, ${signed(noise, 1)} dB on noise alone` };
}

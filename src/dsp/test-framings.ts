import type { Framing } from './window';

/** The two framings the engine knows, as model cards state them (training/quell/config.py). */
export const SQRT_HANN: Framing = { fftSize: 512, hopSize: 128, window: 'sqrt-hann' };
export const LOW_DELAY: Framing = { fftSize: 512, hopSize: 128, window: 'low-delay', synthesisSize: 160 };

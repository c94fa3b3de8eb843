/**
 * The browser tests' fake microphones: WAV files the suite writes itself and Chromium plays as
 * the capture device (--use-file-for-fake-audio-capture, looped).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../src/engine/wav';
import { add, hum, keyboardClicks, speechLike, whiteNoise } from '../tools/signals';

export const AUDIO_DIR = join(process.cwd(), 'test-results', 'audio');
export const RATE = 48000;

export interface Scenario {
  file: string;
  clean: Float32Array;
  noisy: Float32Array;
  /** 1 inside speech, 0 in noise-only stretches. */
  active: Uint8Array;
}

/** 10 s: 2 s of noise alone, then speech in noise (white + hum + clicks), sentences with pauses. */
export function noisySpeech(name = 'noisy-speech'): Scenario {
  const seconds = 10;
  const n = seconds * RATE;
  const speech = speechLike(seconds, RATE, 21, 0.12);
  // no speech in the first 2 s: a clean noise-only stretch
  for (let i = 0; i < 2 * RATE; i++) (speech.samples[i] = 0), (speech.active[i] = 0);
  const noise = add(whiteNoise(n, 0.01, 7), hum(n, RATE, 0.01), keyboardClicks(n, RATE, 0.01, 8));
  const noisy = add(speech.samples, noise);
  return write(name, { file: '', clean: speech.samples, noisy, active: speech.active });
}

/** A click every 0.5 s on silence: for measuring the delay. */
export function clickTrain(name = 'clicks'): Scenario {
  const n = 6 * RATE;
  const x = new Float32Array(n);
  const active = new Uint8Array(n);
  for (let t = RATE / 4; t < n; t += RATE / 2) for (let i = 0; i < 48; i++) x[t + i] = 0.5 * Math.sin((Math.PI * i) / 48) * Math.sin((2 * Math.PI * 1000 * i) / RATE);
  return write(name, { file: '', clean: x, noisy: x, active });
}

function write(name: string, s: Scenario): Scenario {
  mkdirSync(AUDIO_DIR, { recursive: true });
  s.file = join(AUDIO_DIR, `${name}.wav`);
  writeFileSync(s.file, encodeWav([s.noisy], RATE, 'pcm16'));
  return s;
}

/**
 * The browser tests' fake microphones: WAV files the suite writes itself and Chromium plays as
 * the capture device (--use-file-for-fake-audio-capture, looped).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resampleAligned } from '../src/offline/offline';
import { decodeWav, encodeWav } from '../src/io/wav';
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

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Please call me back when you have a moment.',
  'We will meet at nine tomorrow in the small room.',
  'Can you hear me clearly now?',
];

/** Real speech from espeak-ng where it is installed, else the speech-like synthetic signal. */
function speech(seconds: number): { samples: Float32Array; active: Uint8Array } {
  const n = seconds * RATE;
  try {
    const samples = new Float32Array(n);
    const active = new Uint8Array(n);
    let t = Math.round(2.2 * RATE);
    for (const [i, sentence] of SENTENCES.entries()) {
      const file = join(AUDIO_DIR, `espeak-${i}.wav`);
      execFileSync('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', file, sentence], { stdio: 'ignore' });
      const wav = decodeWav(readFileSync(file));
      const x = resampleAligned(wav.channels[0], wav.sampleRate, RATE);
      for (let j = 0; j < x.length && t + j < n; j++) samples[t + j] = x[j] * 0.5;
      t += x.length + Math.round(0.5 * RATE);
      if (t > n - RATE) break;
    }
    // "active": inside a word (20 ms energy above -30 dB of the peak), padded by 30 ms
    const block = RATE / 50;
    const energies = Array.from({ length: Math.floor(n / block) }, (_, b) => {
      let e = 0;
      for (let j = b * block; j < (b + 1) * block; j++) e += samples[j] ** 2;
      return e;
    });
    const peak = Math.max(...energies);
    energies.forEach((e, b) => {
      if (e > peak * 1e-3) active.fill(1, Math.max(0, (b - 1) * block), Math.min(n, (b + 2) * block));
    });
    return { samples, active };
  } catch {
    const s = speechLike(seconds, RATE, 21, 0.12);
    s.samples.fill(0, 0, 2 * RATE);
    s.active.fill(0, 0, 2 * RATE);
    return s;
  }
}

/** 10 s: 2 s of noise alone, then speech in noise (white + hum + clicks), sentences with pauses. */
export function noisySpeech(name = 'noisy-speech'): Scenario {
  const seconds = 10;
  const n = seconds * RATE;
  mkdirSync(AUDIO_DIR, { recursive: true });
  const voice = speech(seconds); // silent for the first 2 s: a noise-only stretch
  const noise = add(whiteNoise(n, 0.01, 7), hum(n, RATE, 0.01), keyboardClicks(n, RATE, 0.01, 8));
  const noisy = add(voice.samples, noise);
  return write(name, { file: '', clean: voice.samples, noisy, active: voice.active });
}

/** Noise alone (hiss, hum, keyboard), no voice: what a model switch must keep suppressing. */
export function noiseAlone(name = 'noise-alone'): Scenario {
  const n = 10 * RATE;
  const noise = add(whiteNoise(n, 0.01, 17), hum(n, RATE, 0.01), keyboardClicks(n, RATE, 0.01, 18));
  return write(name, { file: '', clean: new Float32Array(n), noisy: noise, active: new Uint8Array(n) });
}

/** A click every 0.5 s on silence: for measuring the delay. */
export function clickTrain(name = 'clicks'): Scenario {
  const n = 6 * RATE;
  const x = new Float32Array(n);
  const active = new Uint8Array(n);
  for (let t = RATE / 4; t < n; t += RATE / 2)
    for (let i = 0; i < 48; i++) x[t + i] = 0.5 * Math.sin((Math.PI * i) / 48) * Math.sin((2 * Math.PI * 1000 * i) / RATE);
  return write(name, { file: '', clean: x, noisy: x, active });
}

function write(name: string, s: Scenario): Scenario {
  mkdirSync(AUDIO_DIR, { recursive: true });
  s.file = join(AUDIO_DIR, `${name}.wav`);
  writeFileSync(s.file, encodeWav([s.noisy], RATE, 'pcm16'));
  return s;
}

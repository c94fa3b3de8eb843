import { writeFileSync } from 'node:fs';
import { openApp, start, flow, capture, state, loopOffset } from './app';
import { noisySpeech } from './audio';
import { encodeWav } from '../src/engine/wav';
import { resampleAligned } from '../src/engine/offline';

import { test } from '@playwright/test';
test("dbg", async () => { const s = noisySpeech();
const { browser, page } = await openApp(s.file);
await start(page); await flow(page, 24);
const st = await state(page); const cap = await capture(page);
writeFileSync('/tmp/cap_in.wav', encodeWav([cap.input], cap.sampleRate));
writeFileSync('/tmp/cap_out.wav', encodeWav([cap.output], cap.sampleRate));
const noisy = resampleAligned(s.noisy, 48000, cap.sampleRate);
const off = loopOffset(noisy, cap.input);
console.log('rate', cap.sampleRate, 'len', cap.input.length, 'offset', off, 'delay', st.delaySeconds);
let err = 0, ref = 0; for (let i = 0; i < 16000; i++) { err += (cap.input[off + i] - noisy[i]) ** 2; ref += noisy[i] ** 2; }
console.log('input vs source SNR', (10 * Math.log10(ref / err)).toFixed(1));
const d = Math.round(st.delaySeconds * cap.sampleRate);
for (let b = 0; b < 10; b++) { let a=0,c=0; for (let i = off + b*3200; i < off+(b+1)*3200; i++) { a += cap.input[i]**2; c += cap.output[i+d]**2; } process.stdout.write((10*Math.log10(a/c)).toFixed(0)+' '); }
console.log();
await browser.close();
}, );

/**
 * Launch Chromium with a WAV file as its microphone. On these machines that is Debian's
 * /usr/bin/chromium (or QUELL_CHROMIUM); elsewhere Playwright's own browser.
 */
import { chromium, type Browser } from '@playwright/test';
import { existsSync } from 'node:fs';

export function chromiumPath(): string | undefined {
  const candidate = process.env.QUELL_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(candidate) ? candidate : undefined;
}

export async function launchWithMicrophone(wavFile: string | null, options: { denyMicrophone?: boolean } = {}): Promise<Browser> {
  const args = [
    '--no-sandbox',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-device-for-media-stream',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ];
  // --deny-permission-prompts answers the microphone prompt with 'no', as a person might.
  args.push(options.denyMicrophone ? '--deny-permission-prompts' : '--use-fake-ui-for-media-stream');
  if (wavFile) args.push(`--use-file-for-fake-audio-capture=${wavFile}`);
  return chromium.launch({ executablePath: chromiumPath(), args });
}

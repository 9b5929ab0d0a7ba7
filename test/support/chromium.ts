import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { defer } from './cleanup.js';
import type { Cleanup } from './cleanup.js';

// Debian's chromium, driven by playwright-core for the browser tests (no browser is downloaded).

/** Where Debian installs chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** A reason to skip a browser test when chromium is not installed, else false. */
export const skipWithoutChromium = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed (apt-get install chromium); browser test skipped`;

/** Launches a headless chromium (closed when `t` ends), with `args` added to the usual flags. */
export async function launchChromium(t: Cleanup, args: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...args,
    ],
  });
  defer(t, () => browser.close());
  return browser;
}

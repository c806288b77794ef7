// Test support: Debian's Chromium driven by playwright-core (never a downloaded browser).
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../scripts/wrangler-dev.mjs';

export const ARTIFACTS = join(ROOT, 'test-artifacts');

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

/**
 * Chromium for a test file: `setup` (e.g. seeding the demo project) then a launch before its
 * tests, closed after them. Call it inside the `describe` (its hooks then run after `useWorker`'s).
 * Returns `{ browser }`, set once launched.
 */
export function useBrowser(setup = async () => {}) {
  const chrome = { browser: undefined };
  before(async () => {
    await setup();
    chrome.browser = await launch();
  });
  after(async () => { await chrome.browser?.close(); });
  return chrome;
}

// What every journey file shares: Debian's Chromium, launched headless with a fresh
// profile (never a tool's own browser download), and pages opened once hydrated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

/// A browser context on a fresh profile; `close()` ends it and deletes the profile.
export async function launchChromium() {
  const profile = mkdtempSync(path.join(tmpdir(), 'houston-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/// A new page at `url`, once hydrated (clicks before are ignored by server-rendered
/// markup), with the page errors and Content-Security-Policy refusals it records.
export async function openHydrated(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // A script or style the Content-Security-Policy blocks shows as a console error.
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text()); });
  await page.goto(url);
  await page.waitForSelector('html[data-hydrated="true"]', { timeout: 20000 });
  return { page, errors };
}

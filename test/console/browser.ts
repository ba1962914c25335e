import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestApp, TestTenant } from '../helpers/app.js';

/** Debian's chromium package (`.ci/run` installs it); CHROMIUM_PATH overrides. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Git-ignored (.gitignore: test-results/). */
export const SCREENSHOTS = join('test-results', 'console');

/**
 * Headless Chromium. A missing browser fails the test file (never a silent
 * skip): CI installs it, and the message says how.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does) or set CHROMIUM_PATH.`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox cannot start as root (CI containers run as root).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}

/** Puts the test app on a loopback port, as `npm start` would serve it; returns its base URL. */
export async function serve(t: TestApp): Promise<string> {
  const server = t.app.getHttpServer() as import('node:http').Server;
  if (!server.listening) await t.app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function newPage(
  browser: Browser,
  width = 1280,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({
    path: join(SCREENSHOTS, `${name}.png`),
    fullPage: true,
  });
}

/** Signs in with the keyboard only: the form must be reachable and labelled. */
export async function signIn(
  page: Page,
  base: string,
  tenant: Pick<TestTenant, 'clientId' | 'clientSecret'>,
  secret = tenant.clientSecret,
): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Client id').focus();
  await page.keyboard.type(tenant.clientId);
  await page.keyboard.press('Tab');
  await page.keyboard.type(secret);
  // Org (empty: the token's own org), then sandbox (prod), then submit.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
}

/** A number shown in an element (e.g. "1,024" → 1024), or NaN. */
export async function numberIn(page: Page, selector: string): Promise<number> {
  const text = (await page.locator(selector).first().textContent()) ?? '';
  return Number(text.replace(/[^\d.]/g, '') || NaN);
}

/**
 * Real-browser tests of the web UI: Debian's chromium (/usr/bin/chromium, installed by .ci/run) driven
 * by playwright-core with `executablePath` (never a downloaded browser build), and axe-core through
 * @axe-core/playwright. A test app (injected clock, both stores) listens on 127.0.0.1 on a free port so
 * the browser reaches it over HTTP. Missing chromium: `SKIP chromium: …`, except under CI=true where
 * it fails (requireProgram).
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { requireProgram } from './programs.js';
import type { TestApp } from './test-app.js';

/** Per-test budget: page loads on a loaded 2-core machine take seconds; each action waits at most 20 s. */
export const BROWSER_TEST_TIMEOUT = 180_000;

export const CHROMIUM = process.env.LATCHKEY_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Whether chromium runs here (printed skip reason otherwise; a failure under CI=true). */
export const chromiumAvailable = (): boolean =>
  requireProgram('chromium', { command: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--version'], hint: 'apt-get install chromium', timeoutMs: 30_000 });

export async function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI and the developer machines run as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** The test app on a real socket; returns its base URL (http://127.0.0.1:PORT). */
export async function listen(t: TestApp): Promise<string> {
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  const address = t.app.http.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/**
 * A page elsewhere serving `html`, the attacker of CSRF tests: 'cross-site' at http://localhost:PORT (another
 * site than 127.0.0.1), 'same-site' at http://127.0.0.1:PORT (another origin of the same site: SameSite
 * cookies go along, only the CSRF token stops it).
 */
export async function otherSite(html: string, site: 'cross-site' | 'same-site' = 'cross-site'): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${site === 'cross-site' ? 'localhost' : '127.0.0.1'}:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface BrowserUser {
  context: BrowserContext;
  page: Page;
  /** Every `alert()`/`confirm()` the page opened: XSS tests expect none. */
  dialogs: string[];
}

/** A fresh context (own cookies) with one page, signed in through the sign-in form. */
export async function signedIn(browser: Browser, baseUrl: string, login: string, password: string, viewport = { width: 1280, height: 900 }): Promise<BrowserUser> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto('/users/sign_in');
  await page.getByLabel('Username or primary email').fill(login);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/users/sign_in')), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { context, page, dialogs };
}

/** Serious and critical axe violations on the page, as readable lines (empty when none). */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).options({ resultTypes: ['violations'] }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

/** A full-page PNG in docs/screenshots/<name>.png (committed: README shows the main pages). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage: true, animations: 'disabled' });
}

// Shared helpers of the browser tests: Debian's chromium, headless, driven by
// playwright-core (npm). Each test script is run by a pytest test (tests/e2e/test_browser_*.py)
// that starts the real game and passes its address and tokens as arguments; the script
// exits 0 when every check held, and 1 with the reason on stderr when one did not.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// --name value pairs of the command line.
export function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    if (!a[i].startsWith('--')) throw new Error('unexpected argument ' + a[i]);
    out[a[i].slice(2)] = a[i + 1];
    i++;
  }
  return out;
}

// The flags this machine's closed network needs (no background connections), as root.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function browser() {
  const profile = mkdtempSync(join(tmpdir(), 'gameday-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1920, height: 1080 },
  });
  const close = async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}

// Fails the script with a message and the page's console errors, if any.
export function fail(msg) {
  throw new Error(msg);
}

export function check(cond, msg) {
  if (!cond) fail(msg);
}

// Polls fn() (sync or async) until it returns a truthy value, or fails after ms.
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) fail('timed out waiting for ' + what + (last ? ' (last: ' + last + ')' : ''));
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A full-page screenshot at 1920x1080 into doc/img/NAME.png (the README shows them).
export async function screenshot(page, name) {
  const dir = join(ROOT, 'doc', 'img');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name + '.png') });
}

// Records console errors and failed requests of a page: a test fails on any of them.
export function watch(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push('console: ' + m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !(page.allowed || []).some((p) => r.url().includes(p)))
      errors.push('HTTP ' + r.status() + ' for ' + r.request().method() + ' ' + r.url());
  });
  return errors;
}

// Runs main(), prints "ok NAME" or the failure, and sets the exit code.
export async function run(name, main) {
  const b = await browser();
  try {
    await main(b.ctx);
    console.log('ok ' + name);
  } catch (e) {
    console.error('FAIL ' + name + ': ' + (e && e.stack ? e.stack : e));
    process.exitCode = 1;
  } finally {
    await b.close();
  }
}

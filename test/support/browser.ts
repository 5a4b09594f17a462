import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium for the player tests and the latency benchmark: Debian's `chromium` driven by
 * playwright-core (no downloaded browser). The flags keep it from reaching for the network (this machine's
 * network is closed: without them it stalls on background requests and DNS), and allow autoplay with sound.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
  '--mute-audio',
  // Resolve nothing but loopback, so no request leaves the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export interface TestBrowser {
  readonly context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Launches Chromium with an empty, throwaway profile. Throws (so the test fails, never skips) when the
 * browser is missing: `.ci/run` installs Debian's chromium; elsewhere install it or set CHROMIUM_PATH.
 */
export async function launchBrowser(opts: { args?: string[] } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The player tests need a real browser: install it ` +
        `(Debian/Ubuntu: sudo apt-get install chromium; .ci/run does this) or set CHROMIUM_PATH to a Chromium/Chrome binary.`,
    );
  }
  const profile = await mkdtemp(join(tmpdir(), 'kf-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
      viewport: { width: 960, height: 640 },
      timeout: 30_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`Chromium at ${CHROMIUM_PATH} failed to start: ${(err as Error).message}`);
  }
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where tests leave screenshots (gitignored). */
export async function artifactPath(name: string): Promise<string> {
  const dir = resolve(process.cwd(), 'test-artifacts');
  await mkdir(dir, { recursive: true });
  return join(dir, name);
}

export type { Browser, Page };

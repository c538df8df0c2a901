// What the browser tests need: the server binary started on a free port
// (and stopped by its pid), Debian's Chromium driven by playwright-core,
// pages that record every console error, and waiting with deadlines.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCREENSHOTS = join(ROOT, 'docs/screenshots');

/** Start `icebreaker serve --dev` on a free port with the repo's web client. */
export async function startServer(extraArgs = []) {
  const bin = process.env.ICEBREAKER_BIN || join(ROOT, 'build/icebreaker');
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it, or set ICEBREAKER_BIN)`);
  const args = ['serve', '--dev', '--port', '0', '--host', '127.0.0.1', '--web-root', join(ROOT, 'web'), ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 65536) err = err.slice(-32768);
  });
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 10 s\nstdout: ${out}\nstderr: ${err}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /icebreaker ready on ([^\s:]+):(\d+) node (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveReady({ host: m[1], port: Number(m[2]), node: m[3] });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready\nstderr: ${err}`));
    });
  });
  child.stdout.resume();
  const url = `http://${ready.host}:${ready.port}`;
  return {
    url,
    pid: child.pid,
    stderr: () => err,
    /** SIGTERM by pid, then wait for the exit (SIGKILL after 10 s). */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 10000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The chromium package's binary, found on PATH (CHROMIUM_BIN overrides). */
export function findChromium() {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = join(dir, name);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
  }
  throw new Error('chromium not found on PATH (apt-get install -y chromium)');
}

/**
 * Launch Chromium headless with fake camera and microphone. playwright-core
 * gives every launch a new, empty --user-data-dir of its own. The network
 * flags keep Chromium from calling home on a closed network.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page in a context of its own (its own storage: a separate person), that
 * records console errors and uncaught exceptions into `errors`.
 */
export async function newPerson(browser, baseUrl, label, { viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, baseURL: baseUrl, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${label}: console error: ${msg.text()} ${JSON.stringify(msg.location())}`);
  });
  page.on('pageerror', (err) => errors.push(`${label}: uncaught: ${err.stack || err.message}`));
  page.on('crash', () => errors.push(`${label}: page crashed`));
  return { label, context, page, errors };
}

export function ensureScreenshotDir() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return SCREENSHOTS;
}

/** Poll `fn` until it returns a truthy value, or fail after `ms`. */
export async function until(what, fn, ms = 10000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

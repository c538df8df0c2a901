// What the browser tests need: the server binary started on a free port
// (and stopped by its pid), Debian's Chromium driven by playwright-core,
// pages that record every console error, and waiting with deadlines.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCREENSHOTS = join(ROOT, 'docs/screenshots');

export function serverBinary() {
  const bin = process.env.ICEBREAKER_BIN || join(ROOT, 'build/icebreaker');
  if (!existsSync(bin)) throw new Error(`server binary not found: ${bin} (build it, or set ICEBREAKER_BIN)`);
  return bin;
}

/**
 * Start `icebreaker serve` on a free port with the repo's web client: with
 * --dev (the sign-in form works), or, given `secret`, as a production node
 * would run (tokens come only from an embedding platform).
 */
export async function startServer({ secret = null, args: extraArgs = [] } = {}) {
  const bin = serverBinary();
  const auth = secret ? ['--jwt-secret', secret] : ['--dev'];
  const args = ['serve', ...auth, '--port', '0', '--host', '127.0.0.1', '--web-root', join(ROOT, 'web'), ...extraArgs];
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
 * records console errors and uncaught exceptions into `errors`. `init`: a
 * list of [function, argument] run in the page before its own scripts.
 * `phone`: a 375 px wide touch screen with a phone's viewport handling.
 */
export async function newPerson(browser, baseUrl, label, { viewport = { width: 1280, height: 860 }, phone = false, init = [] } = {}) {
  const phoneOptions = phone ? { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : { viewport };
  const context = await browser.newContext({ ...phoneOptions, baseURL: baseUrl, permissions: ['camera', 'microphone'] });
  // Test instruments (a wrong computer clock, a handle on the page's
  // sockets), in the page before any of its own scripts.
  for (const [fn, arg] of init) await context.addInitScript(fn, arg);
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

/**
 * A token minted by `icebreaker token`, as an embedding platform would make
 * one: `claims` maps option names to values (arrays joined with commas).
 */
export function mintToken(claims, { secret = null } = {}) {
  const args = ['token', ...(secret ? ['--jwt-secret', secret] : ['--dev'])];
  for (const [k, v] of Object.entries(claims)) args.push(`--${k}`, Array.isArray(v) ? v.join(',') : String(v));
  return new Promise((resolveToken, reject) => {
    execFile(serverBinary(), args, { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`icebreaker token failed: ${err.message}\n${stderr}`));
      else resolveToken(stdout.trim());
    });
  });
}

/** The `sub` claim of the token this page signed in with. */
export function signedInAs(page) {
  return page.evaluate(() => JSON.parse(atob(sessionStorage.getItem('icebreaker.token').split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub);
}

/** Visible controls without a label or an accessible name, as "tag#id" strings. */
export async function unlabelled(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button, a[href], summary, video')]
      .filter((el) => el.getClientRects().length > 0 || (el.type === 'radio' && el.closest('label')?.getClientRects().length))
      .filter((el) => {
        if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
        if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) return !(el.labels && el.labels.length);
        return !el.textContent.trim();
      })
      .map((el) => `${el.tagName.toLowerCase()}#${el.id || '?'}${el.name ? `[name=${el.name}]` : ''}`),
  );
}

/**
 * Visible text whose contrast with what is behind it is below WCAG AA:
 * 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). The background is
 * found by compositing the ancestors' background colours (with their alpha)
 * up to the page; text over a video or an image is checked against the
 * caption's own background, which is what keeps it readable.
 */
export async function lowContrast(page) {
  return page.evaluate(() => {
    const parse = (c) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const over = (top, bottom) => ({
      r: top.r * top.a + bottom.r * (1 - top.a),
      g: top.g * top.a + bottom.g * (1 - top.a),
      b: top.b * top.a + bottom.b * (1 - top.a),
      a: 1,
    });
    const lum = ({ r, g, b }) => {
      const f = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backdrop = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = parse(getComputedStyle(e).backgroundColor);
        if (bg && bg.a > 0) layers.push(bg);
        if (bg && bg.a >= 1) break;
      }
      let c = { r: 255, g: 255, b: 255, a: 1 };
      for (const l of layers.reverse()) c = over(l, c);
      return c;
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || !el || seen.has(el)) continue;
      seen.add(el);
      if (!el.getClientRects().length || el.closest('.visually-hidden, [hidden]')) continue;
      const st = getComputedStyle(el);
      if (st.visibility !== 'visible' || Number(st.opacity) === 0) continue;
      const fg = parse(st.color);
      const bg = backdrop(el);
      const l1 = lum(over(fg, bg));
      const l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const px = parseFloat(st.fontSize);
      const large = px >= 24 || (px >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} "${n.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
    }
    return out;
  });
}

/** Does the page fit its viewport's width (no sideways scrolling)? */
export function overflowsSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

/**
 * Press Tab until `accept(activeElement)` holds, at most `max` times; the
 * element reached must show a visible focus ring.
 */
export async function tabTo(page, what, accept, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const hit = await page.evaluate(accept);
    if (hit) {
      const ring = await page.evaluate(() => {
        const st = getComputedStyle(document.activeElement);
        return st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2;
      });
      if (!ring) throw new Error(`${what} has no visible focus ring`);
      return;
    }
  }
  throw new Error(`${what} not reached with Tab in ${max} presses`);
}

/** Init script: the computer's clock is `skewMs` off (Date.now only). */
export function skewClock(skewMs) {
  const real = Date.now.bind(Date);
  Date.now = () => real() + skewMs;
}

/** Init script: keep every WebSocket the page opens in window.__sockets. */
export function recordSockets() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
}

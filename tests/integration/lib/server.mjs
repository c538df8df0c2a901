// Start and stop the real icebreaker binary for integration tests.
//
// The binary comes from env ICEBREAKER_BIN (default <repo>/build/icebreaker).
// Every server listens on 127.0.0.1 with --port 0; the port is read from the
// ready line `icebreaker ready on HOST:PORT node NODE_ID`. Servers are stopped
// by their pid (SIGTERM, then SIGKILL after a deadline); anything still
// running when the test process exits is killed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.ICEBREAKER_BIN || path.join(REPO, 'build', 'icebreaker');
export const SECRET = 'test-secret';

// Deadlines only matter when something is wrong; sanitizer builds are slower,
// so they can be stretched with ICEBREAKER_TEST_SLOW=3 (a factor).
export const SLOW = Number(process.env.ICEBREAKER_TEST_SLOW || 1) || 1;
export const ms = (n) => Math.round(n * SLOW);

const READY_RE = /^icebreaker ready on (\S+):(\d+) node (\S+)$/m;
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:/;
const MAX_LOG = 256 * 1024;

const live = new Set();
process.on('exit', () => {
  for (const s of live) {
    try {
      s.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** The environment for a child: ours without any ICEBREAKER_* setting, plus `extra`. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ICEBREAKER_')) env[k] = v;
  }
  // Sanitizer builds: make every report fail the exit code.
  if (!env.ASAN_OPTIONS) env.ASAN_OPTIONS = 'abort_on_error=0:detect_leaks=1';
  return Object.assign(env, extra);
}

function tail(s, n = 4000) {
  return s.length > n ? '...' + s.slice(-n) : s;
}

export class Server {
  constructor(child, args) {
    this.child = child;
    this.pid = child.pid;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.host = null;
    this.port = null;
    this.node = null;
    this.exit = null; // {code, signal} once exited
    this.clients = new Set(); // registered by client.mjs so stop() can unpause them
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      this.stdout = (this.stdout + d).slice(-MAX_LOG);
    });
    child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-MAX_LOG);
    });
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** A description for failure messages: how it was started and what it said. */
  describe() {
    const st = this.exit ? `exited ${JSON.stringify(this.exit)}` : `running (pid ${this.pid})`;
    return `server ${st}, args ${JSON.stringify(this.args)}\n--- stderr ---\n${tail(this.stderr)}`;
  }

  signal(sig) {
    if (!this.exit) this.child.kill(sig);
  }

  /** Waits for the process to exit by itself within `timeoutMs`; resolves {code, signal} or null. */
  async waitExit(timeoutMs) {
    let timer;
    const t = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const r = await Promise.race([this.exited, t]);
    clearTimeout(timer);
    return r;
  }

  /**
   * SIGTERM by pid, wait for the exit, SIGKILL after `timeoutMs`.
   * Resolves {code, signal, killed}.
   */
  async stop({ timeoutMs = ms(15000) } = {}) {
    for (const c of this.clients) c.resume?.();
    if (this.exit) return { ...this.exit, killed: false };
    this.child.kill('SIGTERM');
    const r = await this.waitExit(timeoutMs);
    if (r) return { ...r, killed: false };
    this.child.kill('SIGKILL');
    const k = await this.exited;
    return { ...k, killed: true };
  }

  /** stop() and assert a clean exit (code 0, no sanitizer report). */
  async stopClean() {
    const r = await this.stop();
    assert.equal(r.killed, false, `server did not exit after SIGTERM\n${this.describe()}`);
    assert.equal(r.code, 0, `server exit code after SIGTERM\n${this.describe()}`);
    assert.doesNotMatch(this.stderr, SANITIZER_RE, `sanitizer report\n${this.describe()}`);
    return r;
  }
}

/**
 * Start `icebreaker serve --host 127.0.0.1 --port 0 --jwt-secret test-secret ...args`
 * and wait for its ready line. `secret: null` leaves the secret out.
 */
export async function startServer({ args = [], env = {}, secret = SECRET, readyTimeoutMs = ms(15000) } = {}) {
  const full = ['serve', '--host', '127.0.0.1', '--port', '0'];
  if (secret !== null) full.push('--jwt-secret', secret);
  full.push(...args);
  const child = spawn(BIN, full, { env: cleanEnv(env), cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const srv = new Server(child, full);
  live.add(srv);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`no ready line within ${readyTimeoutMs} ms\n${srv.describe()}\n--- stdout ---\n${srv.stdout}`));
    }, readyTimeoutMs);
    const onData = () => {
      const m = READY_RE.exec(srv.stdout);
      if (m) {
        cleanup();
        srv.host = m[1];
        srv.port = Number(m[2]);
        srv.node = m[3];
        resolve();
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`server exited before its ready line\n${srv.describe()}\n--- stdout ---\n${srv.stdout}`));
    };
    const onError = (e) => {
      cleanup();
      reject(new Error(`cannot start ${BIN}: ${e.message}`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.stdout.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });
  return srv;
}

/** Run the binary to completion: resolves {code, signal, stdout, stderr}. */
export function runBinary(args, { env = {}, timeoutMs = ms(10000) } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: cleanEnv(env), cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${BIN} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

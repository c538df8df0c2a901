// A redis-server of the test's own on a free loopback port, stopped by pid.
import { spawn } from 'node:child_process';
import net from 'node:net';
import assert from 'node:assert/strict';
import { ms } from './server.mjs';
import { httpGet } from './raw.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Start redis-server on `port`; resolves when it accepts connections. */
export async function startRedis(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + ms(10000);
  for (;;) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not listen on ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stopRedis(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Poll /healthz until pred(json) holds (a deadline, not a sleep). */
export async function healthUntil(srv, pred, what, timeoutMs = ms(10000)) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await httpGet(srv, '/healthz');
    if (pred(last)) return last;
    if (Date.now() > deadline) assert.fail(`/healthz never became ${what}: last ${last.status} ${last.body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Call fn() until it returns a truthy value or the deadline passes (then fail with what). */
export async function until(fn, what, timeoutMs = ms(10000), everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

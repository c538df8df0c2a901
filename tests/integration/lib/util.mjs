// Small shared helpers.
import { ms } from './server.mjs';

/**
 * Poll `fn` (sync or async) until it returns a truthy value; resolves that
 * value, or rejects with `what` after the deadline. For states only visible
 * by asking (HTTP gauges), never as a stand-in for waiting on an event.
 */
export async function waitFor(fn, { timeoutMs = ms(5000), intervalMs = 20, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A unique id-safe name for rooms and users within a test run. */
let n = 0;
export function uniq(prefix = 'x') {
  return `${prefix}${process.pid.toString(36)}${(++n).toString(36)}`;
}

export const isPresence = (room, userId, state) => (m) =>
  m.type === 'presence' && m.room === room && m.user?.id === userId && (state === undefined || m.state === state);

export const isChat = (room, text) => (m) => m.type === 'chat' && m.room === room && (text === undefined || m.text === text);

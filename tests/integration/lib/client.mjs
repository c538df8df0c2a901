// A test client around the npm `ws` package.
//
// Every message the server sends is kept twice: in `log` (everything, in
// order of arrival) and in a queue that `next()` consumes. `request()` assigns
// an id and waits for the `ok`/`error` whose `re` matches it; events that
// arrive meanwhile stay queued for later `next()` calls. Every wait has a
// deadline, and a failure message carries what arrived and the server's
// stderr. `closed()` tells whether a real close frame arrived: ws reports 1006
// when the socket dropped without one, and tests never accept that.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ms } from './server.mjs';
import { token as mintToken } from './jwt.mjs';

export const PROTOCOL = 'icebreaker.v1';
export const DEFAULT_TIMEOUT = ms(5000);

function show(m) {
  const s = JSON.stringify(m, (k, v) => (typeof v === 'string' && v.length > 200 ? v.slice(0, 200) + `...(${v.length})` : v));
  return s && s.length > 600 ? s.slice(0, 600) + '...' : s;
}

let clientSeq = 0;

export class Client {
  constructor(ws, srv, label) {
    this.ws = ws;
    this.srv = srv;
    this.label = label || `client${++clientSeq}`;
    this.log = [];
    this.times = []; // arrival time (Date.now()) of each message in log
    this.queue = [];
    this.waiters = new Set();
    this.nextId = 1;
    this.closeInfo = null;
    this.user = null; // set by hello()
    this.helloReply = null;
    this.closedPromise = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
    ws.on('message', (data, isBinary) => {
      let msg;
      if (isBinary) {
        msg = { __binary: Buffer.from(data).toString('hex') };
      } else {
        try {
          msg = JSON.parse(data.toString('utf8'));
        } catch {
          msg = { __notjson: data.toString('utf8') };
        }
      }
      this.log.push(msg);
      this.times.push(Date.now());
      this.queue.push(msg);
      this._pump();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = {
        code,
        reason: reason.toString('utf8'),
        frame: ws._closeFrameReceived === true,
        afterMessages: this.log.length,
      };
      srv?.clients.delete(this);
      this._resolveClosed(this.closeInfo);
      this._pump();
    });
    ws.on('error', (e) => {
      this.lastError = e;
    });
    srv?.clients.add(this);
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  _context() {
    const last = this.log.slice(-8).map(show).join('\n  ');
    const close = this.closeInfo ? `closed ${JSON.stringify(this.closeInfo)}` : 'open';
    return `${this.label} (${close}); last messages:\n  ${last}\n${this.srv ? this.srv.describe() : ''}`;
  }

  _pump() {
    for (const w of this.waiters) {
      const i = this.queue.findIndex(w.pred);
      if (i >= 0) {
        const [m] = this.queue.splice(i, 1);
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(m);
      } else if (this.closeInfo) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed while waiting for ${w.what}: ${this._context()}`));
      }
    }
  }

  /** Wait for (and consume) the first queued or future message matching `pred`. */
  next(pred = () => true, timeoutMs = DEFAULT_TIMEOUT, what = String(pred)) {
    if (typeof pred === 'string') {
      const type = pred;
      pred = (m) => m.type === type;
      what = `a ${type} message`;
    }
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closeInfo) return Promise.reject(new Error(`connection closed while waiting for ${what}: ${this._context()}`));
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`no ${what} within ${timeoutMs} ms: ${this._context()}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Index in `log` of the first message matching pred (at or after `from`), or -1. */
  indexOf(pred, from = 0) {
    for (let i = from; i < this.log.length; i++) if (pred(this.log[i])) return i;
    return -1;
  }

  /**
   * Wait for a message matching `marker`, then assert that nothing matching
   * `forbidden` arrived before it (since log index `from`). Resolves the marker.
   */
  async nextWithout(marker, forbidden, { from = 0, timeoutMs = DEFAULT_TIMEOUT, what = 'the marker' } = {}) {
    const m = await this.next(marker, timeoutMs, what);
    const at = this.log.indexOf(m);
    const bad = this.log.slice(from, at).filter(forbidden);
    assert.deepEqual(bad, [], `${this.label}: unexpected message(s) before ${what}: ${bad.map(show).join(', ')}`);
    return m;
  }

  /** Send a message: an object (JSON-encoded), a string (as is), or a Buffer with ws options. */
  send(msg, opts) {
    const data = typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg);
    this.ws.send(data, opts ?? {});
  }

  /** Send `msg` with an id (assigned unless present) and wait for its `ok`/`error`. */
  request(msg, timeoutMs = DEFAULT_TIMEOUT) {
    const m = { ...msg };
    if (!('id' in m)) m.id = this.nextId++;
    const id = m.id;
    this.send(m);
    return this.next(
      (r) => (r.type === 'ok' || r.type === 'error') && r.re === id,
      timeoutMs,
      `the reply to ${show(m)}`,
    );
  }

  /** request() and assert an `ok`. */
  async ok(msg, timeoutMs) {
    const r = await this.request(msg, timeoutMs);
    assert.equal(r.type, 'ok', `${this.label}: expected ok for ${show(msg)}, got ${show(r)}`);
    return r;
  }

  /** request() and assert an `error` with `code`, a message and the request's `re`. */
  async fail(msg, code, timeoutMs) {
    const m = { ...msg };
    if (!('id' in m)) m.id = this.nextId++;
    const r = await this.request(m, timeoutMs);
    assert.equal(r.type, 'error', `${this.label}: expected error ${code} for ${show(msg)}, got ${show(r)}`);
    assert.equal(r.code, code, `${this.label}: error code for ${show(msg)}: ${show(r)}`);
    assert.equal(typeof r.message, 'string', `error message is a string: ${show(r)}`);
    assert.equal(r.re, m.id);
    return r;
  }

  /** `hello` with `tok` (a token string, or claims overrides for a fresh valid token). */
  async hello(tok = {}, extra = {}) {
    const t = typeof tok === 'string' ? tok : mintToken(tok);
    const r = await this.ok({ type: 'hello', token: t, ...extra });
    this.helloReply = r;
    this.user = r.user;
    this.token = t;
    return r;
  }

  /** Resolves {code, reason, frame, afterMessages} when the connection has closed. */
  closed(timeoutMs = DEFAULT_TIMEOUT) {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    let timer;
    return Promise.race([
      this.closedPromise.finally(() => clearTimeout(timer)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms: ${this._context()}`)), timeoutMs);
      }),
    ]);
  }

  /** Wait for the close and assert it came as a close frame with `code`. */
  async expectClose(code, timeoutMs = DEFAULT_TIMEOUT) {
    const c = await this.closed(timeoutMs);
    assert.equal(c.frame, true, `${this.label}: expected a close frame with ${code}, the socket dropped without one (${JSON.stringify(c)})\n${this._context()}`);
    assert.equal(c.code, code, `${this.label}: close code: ${JSON.stringify(c)}\n${this._context()}`);
    return c;
  }

  /**
   * Wait for `error` `code` (without `re`, or with `re` when given) and then a
   * close frame with `closeCode`, the error arriving before the close.
   */
  async expectErrorThenClose(code, closeCode, { re, timeoutMs = DEFAULT_TIMEOUT } = {}) {
    const e = await this.next((m) => m.type === 'error', timeoutMs, `an error ${code}`);
    assert.equal(e.code, code, `${this.label}: error ${JSON.stringify(e)}`);
    if (re === undefined) assert.equal('re' in e, false, `no re expected: ${JSON.stringify(e)}`);
    else assert.equal(e.re, re);
    return this.expectClose(closeCode, timeoutMs);
  }

  /** Stop reading from the socket (the server's send queue then fills). */
  pause() {
    this.ws.pause();
  }

  resume() {
    if (this.ws.isPaused) this.ws.resume();
  }

  /** Close with a close frame (1000) and wait until closed. */
  async close(code = 1000) {
    if (this.closeInfo) return this.closeInfo;
    this.ws.close(code);
    return this.closed().catch(() => {
      this.ws.terminate();
      return this.closedPromise;
    });
  }

  /** Drop the TCP connection without a close frame. */
  async drop() {
    if (this.closeInfo) return this.closeInfo;
    this.ws.terminate();
    return this.closedPromise;
  }
}

/** Open a WebSocket to `srv`. Rejects with err.status on an HTTP refusal of the handshake. */
export function connect(srv, { protocols = [PROTOCOL], path = '/ws', origin, headers, timeoutMs = DEFAULT_TIMEOUT, label } = {}) {
  const url = `ws://127.0.0.1:${srv.port}${path}`;
  const options = { origin, headers, handshakeTimeout: timeoutMs, perMessageDeflate: false };
  const ws = protocols === null ? new WebSocket(url, options) : new WebSocket(url, protocols, options);
  const client = new Client(ws, srv, label);
  return new Promise((resolve, reject) => {
    const fail = (e) => {
      srv.clients.delete(client);
      reject(e);
    };
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      const done = () => {
        req.destroy();
        const e = new Error(`handshake refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`);
        e.status = res.statusCode;
        e.headers = res.headers;
        e.body = body;
        fail(e);
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    ws.once('error', (e) => {
      if (ws.readyState !== WebSocket.OPEN) fail(e);
    });
  });
}

/** connect() then hello() with a valid token made from `claimsOver`. */
export async function connectUser(srv, claimsOver = {}, opts = {}) {
  const c = await connect(srv, { label: claimsOver.sub, ...opts });
  await c.hello(claimsOver, opts.helloExtra ?? {});
  return c;
}

/**
 * The server still serves others: a fresh connection says hello and gets its
 * ping answered; each client in `others` also gets a ping answered.
 */
export async function assertServes(srv, others = []) {
  const c = await connect(srv, { label: 'bystander' });
  try {
    await c.hello({});
    const r = await c.ok({ type: 'ping' });
    assert.equal(typeof r.server_time, 'number');
  } finally {
    await c.close();
  }
  for (const o of others) {
    assert.equal(o.open, true, `${o.label} is still connected`);
    await o.ok({ type: 'ping' });
  }
}

/** Close every client given (ignoring ones already closed). */
export async function closeAll(clients) {
  await Promise.all(clients.filter(Boolean).map((c) => c.close()));
}

// The WebSocket connection to an Icebreaker node (sub-protocol icebreaker.v1).
//
// - request(type, fields) sends a message with a fresh `id` and resolves with
//   the `ok` answer (or rejects with an ApiError carrying the `error` code).
// - Server events (messages without `re`) are dispatched as DOM events named
//   after their type: conn.addEventListener('chat', (e) => e.detail ...).
// - 'status' events tell the page how the link is: connecting, open,
//   reconnecting (with the attempt and the delay), closed (with a reason).
// - 'ready' fires after each accepted hello, with {resumed, hello}.
//
// On a lost connection it reconnects with backoff and sends the `resume`
// token from the last hello, so within the server's grace period the session
// keeps its rooms and presence never shows it as gone. Browsers cannot send
// WebSocket pings, so it sends `ping` now and then: an unanswered one means a
// dead link (a laptop lid, a lost Wi-Fi) and starts a reconnect at once.
// While the browser says it is offline no attempt is made (each would only
// fail): the next one starts when the 'online' event comes, or at once when
// the person presses "Retry now".
// Closes for cause (4001 refused token, 1008 kicked or abuse, 1000 "resumed
// elsewhere") are final: reconnecting would not help.

import { Clock } from './clock.js';

export class ApiError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
  }
}

const PING_EVERY_MS = 15000;
const PING_DEADLINE_MS = 8000;
// When the browser reports the network gone, a ping gets this long before
// the link is given up.
const OFFLINE_PROBE_DEADLINE_MS = 2500;
const REQUEST_DEADLINE_MS = 15000;
const BACKOFF_MS = [250, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;

export class Connection extends EventTarget {
  /**
   * @param {object} o
   * @param {string} o.url     ws:// or wss:// URL of /ws
   * @param {string} o.token   the JWT
   * @param {string} [o.resume] a resume token from an earlier page load
   * @param {(resume: string) => void} [o.onResumeToken] store it for reloads
   */
  constructor({ url, token, resume = null, onResumeToken = () => {} }) {
    super();
    this.url = url;
    this.token = token;
    this.resumeToken = resume;
    this.onResumeToken = onResumeToken;
    this.clock = new Clock();
    this.state = 'idle';
    this.hello = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.finalReason = null;
    this.kicked = null;
    this.onOnline = () => {
      if (this.state === 'reconnecting') this.reconnectNow();
    };
    this.onOffline = () => {
      // The browser thinks the network is gone: check the link now rather
      // than at the next scheduled ping.
      if (this.state === 'open') this.probe(OFFLINE_PROBE_DEADLINE_MS);
    };
  }

  start() {
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.open();
  }

  /** Close for good (sign-out). */
  stop() {
    this.finalReason = 'signed-out';
    this.teardown(1000, 'signed out');
    this.setState('closed', { reason: 'signed-out' });
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, attempt: this.attempt, ...extra } }));
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState(this.attempt ? 'reconnecting' : 'connecting', { trying: true });
    let ws;
    try {
      ws = new WebSocket(this.url, 'icebreaker.v1');
    } catch (err) {
      this.lost({ code: 0, reason: String(err && err.message) });
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.sendHello(ws);
    ws.onmessage = (ev) => this.receive(ws, ev);
    ws.onclose = (ev) => {
      if (this.ws === ws) this.lost(ev);
    };
    // An 'error' is always followed by 'close', which is where we act.
    ws.onerror = () => {};
  }

  sendHello(ws) {
    const id = this.nextId++;
    const msg = { type: 'hello', id, token: this.token };
    if (this.resumeToken) msg.resume = this.resumeToken;
    const sent = performance.now();
    this.pending.set(id, {
      resolve: (ok) => {
        this.clock.sample(ok.server_time, performance.now() - sent);
        this.hello = ok;
        this.resumeToken = ok.resume;
        this.onResumeToken(ok.resume);
        const resumed = ok.resumed === true;
        const wasReconnect = this.attempt > 0;
        this.attempt = 0;
        this.setState('open', { resumed, reconnected: wasReconnect });
        this.schedulePing();
        this.dispatchEvent(new CustomEvent('ready', { detail: { resumed, reconnected: wasReconnect, hello: ok } }));
      },
      reject: () => {
        // A refused hello is followed by close 4001: handled in lost().
      },
      timer: null,
    });
    ws.send(JSON.stringify(msg));
  }

  receive(ws, ev) {
    if (this.ws !== ws || typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'ok' || msg.type === 'error') {
      if (msg.re === undefined) {
        // An error without `re` is the server speaking on its own (token
        // expired just before close 4001): tell the page.
        if (msg.type === 'error') this.dispatchEvent(new CustomEvent('server-error', { detail: msg }));
        return;
      }
      const p = this.pending.get(msg.re);
      if (!p) return;
      this.pending.delete(msg.re);
      clearTimeout(p.timer);
      if (msg.type === 'ok') p.resolve(msg);
      else p.reject(new ApiError(msg.code, msg.message));
      return;
    }
    if (msg.type === 'kicked') this.kicked = msg;
    if (typeof msg.server_time === 'number' && msg.type === 'sn.state') this.clock.sample(msg.server_time, null);
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  /**
   * Send a request; resolves with the `ok` answer.
   * @returns {Promise<object>}
   */
  request(type, fields = {}, { deadline = REQUEST_DEADLINE_MS } = {}) {
    if (this.state !== 'open' || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError('unavailable', 'not connected; reconnecting'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError('unavailable', 'no answer from the server'));
      }, deadline);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  schedulePing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => this.probe(), PING_EVERY_MS);
  }

  /** Ping now; no answer within the deadline means the link is dead. */
  probe(deadline = PING_DEADLINE_MS) {
    clearTimeout(this.pingTimer);
    const ws = this.ws;
    const sent = performance.now();
    this.request('ping', {}, { deadline }).then(
      (ok) => {
        this.clock.sample(ok.server_time, performance.now() - sent);
        if (this.ws === ws) this.schedulePing();
      },
      (err) => {
        if (this.ws !== ws || this.state !== 'open') return;
        if (err.code === 'rate_limited') {
          this.schedulePing();
          return;
        }
        // Give up on this socket without waiting for a close handshake
        // that a dead network would never complete.
        this.teardown(4000, 'no answer to ping');
        this.lost({ code: 1006, reason: 'no answer to ping' });
      },
    );
  }

  teardown(code, reason) {
    clearTimeout(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
      } catch {
        /* already closing */
      }
    }
  }

  lost(ev) {
    clearTimeout(this.pingTimer);
    this.ws = null;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ApiError('unavailable', 'connection lost'));
    }
    this.pending.clear();
    if (this.finalReason) return;
    const code = ev.code;
    let reason = null;
    if (code === 4001) reason = 'unauthorized';
    else if (code === 1008) reason = this.kicked ? 'kicked' : 'policy';
    else if (code === 1000 && /resumed elsewhere/i.test(ev.reason || '')) reason = 'elsewhere';
    if (reason) {
      this.finalReason = reason;
      this.setState('closed', { reason, code, message: this.kicked ? this.kicked.message : ev.reason });
      return;
    }
    this.scheduleReconnect(code);
  }

  scheduleReconnect(code) {
    if (navigator.onLine === false) {
      // Offline: wait for the 'online' event (or "Retry now").
      this.attempt++;
      this.setState('reconnecting', { code, offline: true });
      return;
    }
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + Math.random() * 0.4)));
    this.attempt++;
    this.setState('reconnecting', { delay, code, until: Date.now() + delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Try now: while waiting to reconnect, not while an attempt is under way. */
  reconnectNow() {
    if (this.state === 'reconnecting' && !this.ws) this.open();
  }
}

// HTTP and raw TCP helpers for checks below the WebSocket client: plain GETs,
// hand-written upgrade requests (to see the exact HTTP status of a refused
// handshake) and hand-made frames (to send what `ws` would not).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import crypto from 'node:crypto';
import { DEFAULT_TIMEOUT, PROTOCOL } from './client.mjs';

/** GET `path` over http or https: resolves {status, headers, body, json}. */
function get(mod, options, path, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = mod.get({ host: '127.0.0.1', path, agent: false, timeout: timeoutMs, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** GET `path` on the server: resolves {status, headers, body, json}. */
export function httpGet(srv, path, { headers = {}, timeoutMs = DEFAULT_TIMEOUT } = {}) {
  return get(http, { port: srv.port, headers }, path, timeoutMs);
}

/** GET `path` over TLS on a loopback `port`, trusting `ca`. */
export function httpsGet(port, path, ca, { timeoutMs = DEFAULT_TIMEOUT } = {}) {
  return get(https, { port, ca }, path, timeoutMs);
}

/** Read from `sock` until `done(buffer)` is true, the socket ends, or the deadline. */
export function readUntil(sock, done, timeoutMs) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let ended = false;
    const finish = () => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.off('error', onEnd);
      resolve({ buf, ended });
    };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (done(buf)) finish();
    };
    const onEnd = () => {
      ended = true;
      finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('close', onEnd);
    sock.on('error', onEnd);
  });
}

/**
 * Send a WebSocket upgrade request by hand. Resolves
 * {status, headers, socket, rest, ended}: status is null when the server
 * closed the connection without an HTTP answer. On 101 the socket stays open
 * (use RawWs on it); otherwise it is destroyed.
 */
export async function rawHandshake(srv, { path = '/ws', protocols = [PROTOCOL], origin, extraHeaders = {}, timeoutMs = DEFAULT_TIMEOUT } = {}) {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const key = crypto.randomBytes(16).toString('base64');
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${srv.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (protocols && protocols.length) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(', ')}`);
  if (origin !== undefined) lines.push(`Origin: ${origin}`);
  for (const [k, v] of Object.entries(extraHeaders)) lines.push(`${k}: ${v}`);
  sock.write(lines.join('\r\n') + '\r\n\r\n');
  const { buf, ended } = await readUntil(sock, (b) => b.includes('\r\n\r\n'), timeoutMs);
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    sock.destroy();
    return { status: null, headers: {}, socket: null, rest: buf, ended };
  }
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  const headers = {};
  for (const l of head.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const status = m ? Number(m[1]) : null;
  const rest = buf.subarray(end + 4);
  if (status === 101) {
    const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    if (headers['sec-websocket-accept'] !== accept) throw new Error(`bad Sec-WebSocket-Accept in ${head.join(' | ')}`);
    return { status, headers, socket: sock, rest, ended };
  }
  sock.destroy();
  return { status, headers, socket: null, rest, ended };
}

/** Encode one client frame. `len` overrides the length in the header (the payload sent stays `payload`). */
export function encodeFrame(opcode, payload = Buffer.alloc(0), { fin = true, mask = true, rsv = 0, len } = {}) {
  payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const n = len ?? payload.length;
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  let head;
  if (n < 126) {
    head = Buffer.from([b0, (mask ? 0x80 : 0) | n]);
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  parts.push(head);
  if (mask) {
    const key = crypto.randomBytes(4);
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ key[i & 3];
    parts.push(key, masked);
  } else {
    parts.push(payload);
  }
  return Buffer.concat(parts);
}

/** A raw WebSocket on an upgraded socket: send hand-made frames, read the server's frames. */
export class RawWs {
  constructor(socket, rest = Buffer.alloc(0)) {
    this.socket = socket;
    this.buf = rest;
    this.frames = [];
    this.ended = false;
    this.waiter = null;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._parse();
    });
    const onEnd = () => {
      this.ended = true;
      this._wake();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
    this._parse();
  }

  static async open(srv, opts) {
    const h = await rawHandshake(srv, opts);
    if (h.status !== 101) throw new Error(`handshake answered ${h.status}`);
    return new RawWs(h.socket, h.rest);
  }

  _parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let n = b[1] & 0x7f;
      let off = 2;
      if (n === 126) {
        if (b.length < 4) break;
        n = b.readUInt16BE(2);
        off = 4;
      } else if (n === 127) {
        if (b.length < 10) break;
        n = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b[1] & 0x80) off += 4; // servers do not mask, but be tolerant
      if (b.length < off + n) break;
      this.frames.push({ fin: !!(b[0] & 0x80), opcode: b[0] & 0x0f, payload: b.subarray(off, off + n) });
      this.buf = b.subarray(off + n);
    }
    this._wake();
  }

  _wake() {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w();
    }
  }

  send(buf) {
    return new Promise((resolve) => this.socket.write(buf, () => resolve()));
  }

  /** The next frame from the server, or null when the socket ended first or on the deadline. */
  async nextFrame(timeoutMs = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeoutMs;
    while (!this.frames.length && !this.ended && Date.now() < deadline) {
      await new Promise((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.frames.shift() ?? null;
  }

  /**
   * Read frames until a close frame: resolves {code, reason, frame:true} or
   * {frame:false, ended} if the socket ended (or the deadline passed) without one.
   * Frames skipped on the way are in `skipped`.
   */
  async closeFrame(timeoutMs = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeoutMs;
    const skipped = [];
    for (;;) {
      const f = await this.nextFrame(Math.max(0, deadline - Date.now()));
      if (!f) return { frame: false, ended: this.ended, skipped };
      if (f.opcode === 0x8) {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
        return { frame: true, code, reason: f.payload.subarray(2).toString('utf8'), skipped };
      }
      skipped.push(f);
    }
  }

  destroy() {
    this.socket.destroy();
  }

  /**
   * Write `buf` in pieces of `size` bytes, one socket write each (Nagle off),
   * waiting `delayMs` between them: the server reads the bytes in many
   * parts, down to one byte at a time. Stops early once the socket ended.
   */
  async sendChopped(buf, size = 1, delayMs = 0) {
    this.socket.setNoDelay(true);
    for (let i = 0; i < buf.length && !this.ended; i += size) {
      await this.send(buf.subarray(i, i + size));
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /**
   * The next complete message or control frame from the server: data frames
   * are put together ({opcode: 1|2, payload} of the whole message, opcode
   * that of its first frame); control frames come as they arrive, also
   * between the fragments of a message. null when the socket ended first or
   * on the deadline.
   */
  async nextMessage(timeoutMs = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.nextFrame(Math.max(0, deadline - Date.now()));
      if (!f) return null;
      if (f.opcode & 0x8) return f;
      if (f.opcode !== 0) this.partial = { opcode: f.opcode, parts: [] };
      if (!this.partial) throw new Error(`continuation frame from the server with no message open`);
      this.partial.parts.push(f.payload);
      if (f.fin) {
        const m = { fin: true, opcode: this.partial.opcode, payload: Buffer.concat(this.partial.parts) };
        this.partial = null;
        return m;
      }
    }
  }

  /** Whether the socket ends (the server closes the TCP connection) within `timeoutMs`. */
  async waitEnd(timeoutMs = DEFAULT_TIMEOUT) {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) {
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.ended;
  }
}

/** A close frame's payload: a 2-byte code (none when `code` is null) then the reason (string or bytes). */
export function closePayload(code, reason = '') {
  if (code === null || code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]);
}

/** Parse Prometheus text: returns {types: {name: type}, samples: [{name, labels, value}]}. */
export function parseProm(text) {
  const types = {};
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      types[m[1]] = m[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: m[2] || '', value: Number(m[3]) });
  }
  return { types, samples };
}

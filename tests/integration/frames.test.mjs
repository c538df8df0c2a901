// Frames: message size (64 KiB default: larger closes 1009, also when the
// fragments add up past it), UTF-8 (invalid: 1007), binary messages, and
// framing errors (1002). Every close must be a close frame with its code, and
// the server keeps serving everyone else.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, connectUser, assertServes } from './lib/client.mjs';
import { RawWs, encodeFrame, readUntil } from './lib/raw.mjs';
import { token } from './lib/jwt.mjs';
import { uniq } from './lib/util.mjs';
import net from 'node:net';
import crypto from 'node:crypto';

const LIMIT = 64 * 1024;

/** A chat message whose JSON encoding is exactly `size` bytes (ASCII). */
function chatOfSize(room, size, id = 1) {
  const base = JSON.stringify({ type: 'chat', id, room, text: '' });
  const s = JSON.stringify({ type: 'chat', id, room, text: 'a'.repeat(size - base.length) });
  assert.equal(Buffer.byteLength(s), size);
  return s;
}

/** A raw connection that has said hello. */
async function rawUser(srv) {
  const r = await RawWs.open(srv);
  await r.send(encodeFrame(0x1, JSON.stringify({ type: 'hello', id: 1, token: token({}) })));
  const f = await r.nextFrame();
  assert.ok(f && f.opcode === 0x1, `hello answered with a text frame, got ${JSON.stringify(f)}`);
  const reply = JSON.parse(f.payload.toString());
  assert.equal(reply.type, 'ok', JSON.stringify(reply));
  return r;
}

describe('message size', () => {
  let srv;
  let watcher; // a member of the same room who must keep being served
  const room = `lounge:${uniq('size')}`;
  before(async () => {
    srv = await startServer();
    watcher = await connectUser(srv, { sub: 'watcher' });
    await watcher.ok({ type: 'join', room });
  });
  after(async () => {
    await watcher?.close();
    await srv?.stopClean();
  });

  test('a message of exactly 64 KiB is read (too_large for a chat that long), not closed', async () => {
    const c = await connectUser(srv);
    await c.ok({ type: 'join', room });
    c.send(chatOfSize(room, LIMIT, 'big'));
    const r = await c.next((m) => m.re === 'big', undefined, 'the reply to a 64 KiB chat');
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'too_large');
    await c.ok({ type: 'ping' });
    await c.close();
  });

  test('a message of 64 KiB + 1 closes with 1009', async () => {
    const c = await connectUser(srv);
    await c.ok({ type: 'join', room });
    c.send(chatOfSize(room, LIMIT + 1, 'over'));
    await c.expectClose(1009);
    assert.equal(c.log.some((m) => m.re === 'over'), false, 'the oversize message got no reply');
    await assertServes(srv, [watcher]);
  });

  test('fragments adding up past 64 KiB close with 1009', async () => {
    const c = await connectUser(srv);
    await c.ok({ type: 'join', room });
    const msg = Buffer.from(chatOfSize(room, LIMIT + 1, 'frag'));
    const third = Math.ceil(msg.length / 3);
    c.send(msg.subarray(0, third), { binary: false, fin: false });
    c.send(msg.subarray(third, 2 * third), { binary: false, fin: false });
    c.send(msg.subarray(2 * third), { binary: false, fin: true });
    await c.expectClose(1009);
    await assertServes(srv, [watcher]);
  });

  test('many small fragments adding up past 64 KiB close with 1009', async () => {
    const c = await connectUser(srv);
    const part = Buffer.alloc(1000, 0x20); // whitespace: would still be valid JSON around an object
    c.send(Buffer.from('{"type":"ping","id":1}'), { binary: false, fin: false });
    for (let i = 0; i < 70; i++) c.send(part, { binary: false, fin: i === 69 });
    await c.expectClose(1009);
    await assertServes(srv, [watcher]);
  });

  test('fragments within the limit are reassembled into one message', async () => {
    const c = await connectUser(srv);
    const msg = Buffer.from(JSON.stringify({ type: 'ping', id: 'frag-ok' }));
    c.send(msg.subarray(0, 5), { binary: false, fin: false });
    c.send(msg.subarray(5, 12), { binary: false, fin: false });
    c.send(msg.subarray(12), { binary: false, fin: true });
    const r = await c.next((m) => m.re === 'frag-ok', undefined, 'the reply to a fragmented ping');
    assert.equal(r.type, 'ok');
    assert.equal(typeof r.server_time, 'number');
    // a 60 KiB message in 4 fragments is fine too
    await c.ok({ type: 'join', room });
    const big = Buffer.from(chatOfSize(room, 60 * 1024, 'frag-big'));
    const q = big.length / 4;
    for (let i = 0; i < 4; i++) c.send(big.subarray(i * q, (i + 1) * q), { binary: false, fin: i === 3 });
    const r2 = await c.next((m) => m.re === 'frag-big', undefined, 'the reply to a fragmented 60 KiB chat');
    assert.equal(r2.code, 'too_large');
    await c.close();
  });

  test('a frame announcing 1 GiB closes with 1009 without waiting for the rest', async () => {
    const r = await rawUser(srv);
    const header = encodeFrame(0x1, Buffer.alloc(0), { len: 2 ** 30, mask: false }); // 10-byte header
    const maskKey = Buffer.from([1, 2, 3, 4]);
    header[1] |= 0x80;
    await r.send(Buffer.concat([header, maskKey, Buffer.alloc(LIMIT + 4096, 0x20)]));
    const c = await r.closeFrame();
    assert.equal(c.frame, true, `close frame expected, got ${JSON.stringify(c)}`);
    assert.equal(c.code, 1009);
    r.destroy();
    await assertServes(srv, [watcher]);
  });

  test('binary messages after hello get bad_request and the connection stays open', async () => {
    const c = await connectUser(srv);
    c.send(Buffer.from(JSON.stringify({ type: 'ping', id: 'bin' })), { binary: true });
    const e = await c.next((m) => m.type === 'error', undefined, 'an error for a binary message');
    assert.equal(e.code, 'bad_request');
    assert.equal('re' in e, false, 'a binary message has no usable id');
    c.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    const e2 = await c.next((m) => m.type === 'error', undefined, 'an error for a second binary message');
    assert.equal(e2.code, 'bad_request');
    await c.ok({ type: 'ping' });
    await c.close();
    await assertServes(srv, [watcher]);
  });
});

describe('UTF-8', () => {
  let srv;
  let other;
  before(async () => {
    srv = await startServer();
    other = await connectUser(srv);
  });
  after(async () => {
    await other?.close();
    await srv?.stopClean();
  });

  const invalid = {
    'a lone continuation byte': Buffer.from([0x80]),
    'an 0xFF byte': Buffer.from([0xff]),
    'a truncated sequence': Buffer.from([0xe2, 0x82]),
    'an overlong encoding': Buffer.from([0xc0, 0xaf]),
    'a UTF-16 surrogate': Buffer.from([0xed, 0xa0, 0x80]),
    'a code point above U+10FFFF': Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  };
  for (const [what, bad] of Object.entries(invalid)) {
    test(`invalid UTF-8 in a text frame (${what}) closes with 1007`, async () => {
      const c = await connectUser(srv);
      const msg = Buffer.concat([Buffer.from('{"type":"ping","id":"'), bad, Buffer.from('"}')]);
      c.send(msg, { binary: false });
      await c.expectClose(1007);
      await assertServes(srv, [other]);
    });
  }

  test('invalid UTF-8 in a later fragment closes with 1007', async () => {
    const c = await connectUser(srv);
    c.send(Buffer.from('{"type":"ping","id":"'), { binary: false, fin: false });
    c.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false, fin: false });
    c.send(Buffer.from('"}'), { binary: false, fin: true });
    await c.expectClose(1007);
    await assertServes(srv, [other]);
  });

  test('invalid UTF-8 before hello closes with 1007', async () => {
    const c = await connect(srv);
    c.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    await c.expectClose(1007);
    await assertServes(srv, [other]);
  });

  test('a character split across two fragments is valid', async () => {
    const c = await connectUser(srv);
    const msg = Buffer.from(JSON.stringify({ type: 'ping', id: 'é€😀' }));
    const cut = msg.indexOf(Buffer.from('😀')) + 2; // inside the 4-byte sequence
    c.send(msg.subarray(0, cut), { binary: false, fin: false });
    c.send(msg.subarray(cut), { binary: false, fin: true });
    const r = await c.next((m) => m.re === 'é€😀', undefined, 'the reply with a non-ASCII id');
    assert.equal(r.type, 'ok');
    await c.close();
  });
});

describe('framing errors (RFC 6455: close 1002)', () => {
  let srv;
  let other;
  before(async () => {
    srv = await startServer();
    other = await connectUser(srv);
  });
  after(async () => {
    await other?.close();
    await srv?.stopClean();
  });

  const cases = {
    'a reserved data opcode (0x3)': () => encodeFrame(0x3, 'x'),
    'a reserved control opcode (0xB)': () => encodeFrame(0xb, 'x'),
    'RSV1 set without a negotiated extension': () => encodeFrame(0x1, '{"type":"ping"}', { rsv: 4 }),
    'a continuation frame with no message started': () => encodeFrame(0x0, 'x'),
    'a new text frame while a fragmented message is open': () =>
      Buffer.concat([encodeFrame(0x1, '{"type":', { fin: false }), encodeFrame(0x1, '"ping"}')]),
    'a fragmented control frame': () => encodeFrame(0x9, 'x', { fin: false }),
    'a control frame over 125 bytes (126-byte ping)': () => encodeFrame(0x9, Buffer.alloc(126, 0x61)),
    'a 64-bit length with its top bit set': () => Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    'an unmasked client frame': () => encodeFrame(0x1, JSON.stringify({ type: 'ping', id: 1 }), { mask: false }),
    'a close frame with a 1-byte payload': () => encodeFrame(0x8, Buffer.from([3])),
    'a close frame with code 5000': () => encodeFrame(0x8, Buffer.from([0x13, 0x88])),
    'a close frame with code 1005 (never sent on the wire)': () => encodeFrame(0x8, Buffer.from([0x03, 0xed])),
  };
  for (const [what, make] of Object.entries(cases)) {
    test(`${what} closes with 1002`, async () => {
      const r = await rawUser(srv);
      await r.send(make());
      const c = await r.closeFrame();
      assert.equal(c.frame, true, `close frame expected, got ${JSON.stringify({ ...c, skipped: c.skipped?.length })}`);
      assert.equal(c.code, 1002);
      r.destroy();
      await assertServes(srv, [other]);
    });
  }

  test('a close frame whose reason is invalid UTF-8 closes with 1007', async () => {
    const r = await rawUser(srv);
    await r.send(encodeFrame(0x8, Buffer.from([0x03, 0xe8, 0xff, 0xfe])));
    const c = await r.closeFrame();
    assert.equal(c.frame, true, `close frame expected, got ${JSON.stringify(c)}`);
    assert.equal(c.code, 1007);
    r.destroy();
    await assertServes(srv, [other]);
  });

  test('a normal close from the client is answered with a close frame echoing 1000', async () => {
    const r = await rawUser(srv);
    await r.send(encodeFrame(0x8, Buffer.from([0x03, 0xe8])));
    const c = await r.closeFrame();
    assert.equal(c.frame, true);
    assert.equal(c.code, 1000);
    r.destroy();
  });
});

/**
 * Send the upgrade request and `frames` in one write (a client that does not
 * wait for the 101), read until the server ends the connection or deadline.
 * Resolves {status, frames: [{opcode, payload}], ended}.
 */
async function pipelined(srv, frames, timeoutMs = 5000) {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const req = [
    'GET /ws HTTP/1.1',
    `Host: 127.0.0.1:${srv.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Protocol: icebreaker.v1',
  ].join('\r\n') + '\r\n\r\n';
  sock.write(Buffer.concat([Buffer.from(req), ...frames]));
  // Done at the end, or once the head and one small frame after it are in.
  const end = await readUntil(sock, (b) => b.indexOf('\r\n\r\n') >= 0 && b.length >= b.indexOf('\r\n\r\n') + 6, timeoutMs);
  sock.destroy();
  const h = end.buf.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(end.buf.toString('latin1'))?.[1]);
  const raw = new RawWs(new net.Socket(), end.buf.subarray(h + 4));
  return { status, frames: raw.frames, ended: end.ended };
}

describe('frames sent before the 101 (client did not wait)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stopClean();
  });

  // RFC 6455 4.1 forbids it; lws 4.1.6 misreads such a frame (its payload
  // stays masked), so a text message arrives as bytes that are not UTF-8
  // and closes with 1007. PROTOCOL.md lists this exception.
  test('a valid hello right behind the request is misread by lws 4.1.6: 1007', async () => {
    // A key with every top bit set: the still-masked ASCII payload is all
    // lone continuation bytes, never valid UTF-8.
    const payload = Buffer.from(JSON.stringify({ type: 'hello', id: 1, token: token({}) }));
    const key = Buffer.from([0x80, 0x91, 0xa2, 0xb3]);
    const masked = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
    const head = Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    assert.ok(payload.length >= 126 && payload.length < 65536);
    const r = await pipelined(srv, [Buffer.concat([head, key, masked])]);
    assert.equal(r.status, 101);
    assert.equal(r.frames[0]?.opcode, 0x8, JSON.stringify(r.frames));
    assert.equal(r.frames[0].payload.readUInt16BE(0), 1007);
  });

  test('an unmasked frame right behind the request closes with 1002', async () => {
    const bad = encodeFrame(0x1, JSON.stringify({ type: 'ping', id: 1 }), { mask: false });
    const r = await pipelined(srv, [bad]);
    assert.equal(r.status, 101);
    assert.equal(r.frames[0]?.opcode, 0x8, JSON.stringify(r.frames));
    assert.equal(r.frames[0].payload.readUInt16BE(0), 1002);
    assert.equal(r.frames[0].payload.subarray(2).toString(), 'unmasked frame');
  });
});

describe('--max-message 1024', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-message', '1024'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('1024 bytes are read, 1025 close with 1009', async () => {
    const room = `lounge:${uniq('mm')}`;
    const c = await connectUser(srv);
    await c.ok({ type: 'join', room });
    c.send(chatOfSize(room, 1024, 'fits'));
    assert.equal((await c.next((m) => m.re === 'fits')).type, 'ok');
    c.send(chatOfSize(room, 1025, 'over'));
    await c.expectClose(1009);
    await assertServes(srv);
  });
});

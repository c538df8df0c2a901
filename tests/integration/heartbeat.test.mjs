// Heartbeat (started with --heartbeat-ms 1000): the server pings every
// interval; a client that answers (ws does, automatically) stays; one that
// answers none for two intervals is dropped.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, assertServes } from './lib/client.mjs';
import { RawWs, encodeFrame } from './lib/raw.mjs';
import { token } from './lib/jwt.mjs';

describe('heartbeat (--heartbeat-ms 1000)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--heartbeat-ms', '1000'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('hello says heartbeat_ms 1000; pings come every interval and a client answering them stays', async () => {
    const c = await connectUser(srv);
    assert.equal(c.helloReply.heartbeat_ms, 1000);
    const pings = [];
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${pings.length} pings within ${ms(4500)} ms`)), ms(4500));
      c.ws.on('ping', () => {
        pings.push(Date.now());
        if (pings.length === 3) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    // three pings span two intervals, longer than the two-interval drop: still connected
    assert.ok(pings[2] - pings[0] >= 1500, `pings ${pings[1] - pings[0]} and ${pings[2] - pings[1]} ms apart`);
    await c.ok({ type: 'ping' });
    assert.equal(c.open, true);
    await c.close();
  });

  test('a client that answers no ping is dropped after two intervals', async (t) => {
    const r = await RawWs.open(srv);
    await r.send(encodeFrame(0x1, JSON.stringify({ type: 'hello', id: 1, token: token({}) })));
    const hello = await r.nextFrame();
    assert.equal(JSON.parse(hello.payload.toString()).type, 'ok');
    const t0 = Date.now();
    const end = await r.closeFrame(ms(8000)); // reads (and ignores) pings until a close frame or the end
    const pings = end.skipped.filter((f) => f.opcode === 0x9).length;
    assert.ok(end.frame || end.ended, `the connection was not dropped within ${ms(8000)} ms`);
    assert.ok(pings >= 1, 'the server pinged before dropping');
    assert.ok(Date.now() - t0 >= 1500, `dropped after ${Date.now() - t0} ms, before two intervals`);
    t.diagnostic(`dropped after ${Date.now() - t0} ms and ${pings} pings, ${end.frame ? `close frame ${end.code}` : 'without a close frame'}`);
    r.destroy();
    await assertServes(srv);
  });
});

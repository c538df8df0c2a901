// Transport: the WebSocket handshake (path, sub-protocol), the `ping` verb,
// and the HTTP endpoints /healthz and /metrics on the same port.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, connectUser, assertServes, PROTOCOL } from './lib/client.mjs';
import { httpGet, rawHandshake, parseProm } from './lib/raw.mjs';
import { waitFor } from './lib/util.mjs';

describe('transport', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('the ready line names host, port and node id', () => {
    assert.equal(srv.host, '127.0.0.1');
    assert.ok(srv.port > 0 && srv.port < 65536, `port ${srv.port}`);
    assert.match(srv.node, /^[A-Za-z0-9._-]{1,64}$/);
    assert.match(srv.stdout, /^icebreaker ready on 127\.0\.0\.1:\d+ node \S+\n/m);
  });

  test('sub-protocol icebreaker.v1 is accepted and echoed', async () => {
    const c = await connect(srv);
    assert.equal(c.ws.protocol, PROTOCOL);
    await c.hello({});
    await c.ok({ type: 'ping' });
    await c.close();
    const h = await rawHandshake(srv, { protocols: [PROTOCOL] });
    assert.equal(h.status, 101);
    assert.equal(h.headers['sec-websocket-protocol'], PROTOCOL);
    h.socket.destroy();
  });

  test('icebreaker.v1 among other offered sub-protocols is chosen', async () => {
    const c = await connect(srv, { protocols: ['chat', PROTOCOL, 'icebreaker.v2'] });
    assert.equal(c.ws.protocol, PROTOCOL);
    await c.hello({});
    await c.close();
  });

  test('a client offering no sub-protocol is accepted as v1', async () => {
    const c = await connect(srv, { protocols: null });
    assert.equal(c.ws.protocol, '');
    const r = await c.hello({});
    assert.equal(r.resumed, false);
    await c.ok({ type: 'ping' });
    await c.close();
  });

  test('a client offering only other sub-protocols is refused', async () => {
    const h = await rawHandshake(srv, { protocols: ['icebreaker.v2', 'chat'] });
    assert.notEqual(h.status, 101, 'handshake must not be upgraded');
    if (h.status !== null) assert.ok(h.status >= 400, `refusal is an HTTP error status, got ${h.status}`);
    await assert.rejects(connect(srv, { protocols: ['chat'] }));
    await assertServes(srv);
  });

  test('an upgrade on a path other than /ws is refused with 404', async () => {
    for (const path of ['/', '/other', '/ws/x', '/wss', '/WS', '/healthz']) {
      const h = await rawHandshake(srv, { path });
      assert.equal(h.status, 404, `upgrade on ${path}`);
    }
    await assert.rejects(connect(srv, { path: '/chat' }), (e) => e.status === 404);
    await assertServes(srv);
  });

  test('GET /ws without an upgrade answers 426', async () => {
    const r = await httpGet(srv, '/ws');
    assert.equal(r.status, 426);
  });

  test('ping -> ok with server_time (with and without an id)', async () => {
    const c = await connectUser(srv);
    const t0 = Date.now();
    const r = await c.ok({ type: 'ping', id: 'p-1' });
    const t1 = Date.now();
    assert.equal(r.re, 'p-1');
    assert.equal(typeof r.server_time, 'number');
    assert.ok(Number.isInteger(r.server_time));
    assert.ok(r.server_time >= t0 - 1000 && r.server_time <= t1 + 1000, `server_time ${r.server_time} not within [${t0}, ${t1}] +-1 s`);
    c.send({ type: 'ping' });
    const r2 = await c.next((m) => m.type === 'ok' || m.type === 'error', undefined, 'the reply to a ping without id');
    assert.equal(r2.type, 'ok');
    assert.equal('re' in r2, false, 'no re without id');
    assert.equal(typeof r2.server_time, 'number');
    await c.close();
  });

  test('/healthz answers 200 JSON with status, node, connections and redis', async () => {
    const a = await connectUser(srv);
    const b = await connect(srv); // connected, not yet authenticated: still a connection
    const r = await waitFor(
      async () => {
        const x = await httpGet(srv, '/healthz');
        return x.json?.connections === 2 ? x : null;
      },
      { what: '/healthz to count 2 connections' },
    );
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.node, srv.node);
    assert.equal(r.json.redis, 'off');
    assert.equal(r.json.connections, 2);
    await a.close();
    await b.close();
    await waitFor(async () => (await httpGet(srv, '/healthz')).json?.connections === 0, { what: 'connections back to 0' });
  });

  test('/metrics is Prometheus text with the connection gauge', async () => {
    const a = await connectUser(srv);
    const b = await connectUser(srv);
    const c = await connectUser(srv);
    const gauges = (text) => {
      const p = parseProm(text);
      const names = Object.entries(p.types)
        .filter(([n, t]) => t === 'gauge' && /connection/.test(n))
        .map(([n]) => n);
      return { p, names };
    };
    const r = await waitFor(
      async () => {
        const x = await httpGet(srv, '/metrics');
        const { p, names } = gauges(x.body);
        return names.some((n) => p.samples.some((s) => s.name === n && s.value === 3)) ? x : null;
      },
      { what: 'a connection gauge at 3' },
    );
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] || '', /^text\/plain/);
    assert.match(r.body, /^# HELP \S+ .+$/m);
    const { names } = gauges(r.body);
    assert.ok(names.length >= 1, 'a gauge named like *connection*');
    await Promise.all([a.close(), b.close()]);
    await waitFor(
      async () => {
        const { p, names: ns } = gauges((await httpGet(srv, '/metrics')).body);
        return ns.some((n) => p.samples.some((s) => s.name === n && s.value === 1));
      },
      { what: 'the connection gauge to follow closes down to 1' },
    );
    await c.close();
  });

  test('an unknown HTTP path is 404, not a crash', async () => {
    const r = await httpGet(srv, '/no-such-thing-here');
    assert.equal(r.status, 404);
    await assertServes(srv);
  });
});

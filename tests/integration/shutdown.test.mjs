// Stopping: on SIGTERM (or SIGINT) /healthz turns 503 "draining", new
// upgrades are refused, every client gets close 1001 as a close frame, and the
// process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser } from './lib/client.mjs';
import { httpGet, rawHandshake } from './lib/raw.mjs';
import { waitFor } from './lib/util.mjs';

test('SIGTERM: /healthz 503 draining, every client gets close 1001, exit 0', async () => {
  const srv = await startServer({ args: ['--drain-ms', '4000'] });
  try {
    const h0 = await httpGet(srv, '/healthz');
    assert.equal(h0.status, 200);
    assert.equal(h0.json.status, 'ok');
    const a = await connectUser(srv, { sub: 'a' });
    await a.ok({ type: 'join', room: 'lounge:main' });
    const b = await connectUser(srv, { sub: 'b' });
    await b.ok({ type: 'join', room: 'lounge:main' });
    const fresh = await connect(srv); // connected, no hello yet
    // a client that is not reading: the node must wait for it (up to --drain-ms)
    const lagging = await connectUser(srv, { sub: 'lagging' });
    await waitFor(async () => (await httpGet(srv, '/healthz')).json?.connections === 4, { what: '4 connections' });
    lagging.pause();
    srv.signal('SIGTERM');
    await Promise.all([a.expectClose(1001), b.expectClose(1001), fresh.expectClose(1001)]);
    assert.equal(srv.exit, null, 'still running while a client has not taken its close');
    const h = await httpGet(srv, '/healthz');
    assert.equal(h.status, 503);
    assert.equal(h.json.status, 'draining');
    assert.equal(h.json.node, srv.node);
    // no new connections while draining
    const up = await rawHandshake(srv);
    assert.equal(up.status, 503, 'upgrade while draining');
    lagging.resume();
    await lagging.expectClose(1001, ms(6000));
    const exit = await srv.waitExit(ms(10000));
    assert.deepEqual(exit, { code: 0, signal: null }, srv.describe());
    assert.doesNotMatch(srv.stderr, /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  } finally {
    await srv.stop();
  }
});

test('SIGINT stops the same way: close 1001, exit 0', async () => {
  const srv = await startServer();
  try {
    const a = await connectUser(srv);
    srv.signal('SIGINT');
    await a.expectClose(1001);
    const exit = await srv.waitExit(ms(10000));
    assert.deepEqual(exit, { code: 0, signal: null }, srv.describe());
  } finally {
    await srv.stop();
  }
});

test('SIGTERM with no clients exits 0', async () => {
  const srv = await startServer();
  try {
    srv.signal('SIGTERM');
    const exit = await srv.waitExit(ms(10000));
    assert.deepEqual(exit, { code: 0, signal: null }, srv.describe());
  } finally {
    await srv.stop();
  }
});

// The Redis backend of the store (the part of issue 5 that exists): two
// nodes on one redis-server share each room's chat sequence numbers and
// history; a stalled Redis (SIGSTOP) leaves the nodes' loops running, makes
// /healthz say degraded and chat say unavailable, and both recover when it
// continues; a Redis restart is recovered from too. The test starts its own
// redis-server on a free port and stops it by pid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { freePort, startRedis, stopRedis, healthUntil } from './lib/redis.mjs';

let redisPort, redis, a, b;
before(async () => {
  redisPort = await freePort();
  redis = await startRedis(redisPort);
  const url = `redis://127.0.0.1:${redisPort}/0`;
  a = await startServer({ args: ['--redis', url, '--node-id', 'node-a'] });
  b = await startServer({ args: ['--redis', url, '--node-id', 'node-b'] });
  for (const srv of [a, b]) await healthUntil(srv, (h) => h.json?.redis === 'ok', 'redis ok');
});
after(async () => {
  await a?.stopClean();
  await b?.stopClean();
  await stopRedis(redis);
});

test('two nodes share chat sequence numbers and history', async () => {
  const x = await connectUser(a, { sub: 'rx', event: 'shared' });
  const y = await connectUser(b, { sub: 'ry', event: 'shared' });
  assert.equal(x.helloReply.node, 'node-a');
  assert.equal(y.helloReply.node, 'node-b');
  await x.ok({ type: 'join', room: 'lounge:r' });
  await y.ok({ type: 'join', room: 'lounge:r' });
  assert.equal((await x.ok({ type: 'chat', room: 'lounge:r', text: 'one' })).seq, 1);
  assert.equal((await y.ok({ type: 'chat', room: 'lounge:r', text: 'two' })).seq, 2);
  assert.equal((await x.ok({ type: 'chat', room: 'lounge:r', text: 'three' })).seq, 3);
  const j = await y.ok({ type: 'join', room: 'lounge:r' });
  assert.deepEqual(j.history.map((m) => [m.seq, m.text, m.from.id]), [[1, 'one', 'rx'], [2, 'two', 'ry'], [3, 'three', 'rx']]);
  // Events stay apart in Redis too.
  const z = await connectUser(b, { sub: 'rz', event: 'other' });
  const jz = await z.ok({ type: 'join', room: 'lounge:r' });
  assert.deepEqual(jz.history, []);
  assert.equal((await z.ok({ type: 'chat', room: 'lounge:r', text: 'mine' })).seq, 1);
  await closeAll([x, y, z]);
});

test('a stalled Redis: loops keep running, health degraded, chat unavailable, then recovery', async () => {
  const x = await connectUser(a, { sub: 'sx', event: 'stall' });
  await x.ok({ type: 'join', room: 'lounge:s' });
  await x.ok({ type: 'chat', room: 'lounge:s', text: 'before' });
  redis.kill('SIGSTOP');
  try {
    // The node's own loop is not stalled: pings are answered at once.
    const t0 = Date.now();
    await x.ok({ type: 'ping' }, ms(1000));
    assert.ok(Date.now() - t0 < ms(1000));
    // A chat waits for its deadline and is refused, not numbered alone.
    const r = await x.request({ type: 'chat', room: 'lounge:s', text: 'during' }, ms(6000));
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'unavailable');
    const h = await healthUntil(a, (h) => h.json?.redis === 'down', 'redis down');
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'degraded');
    await x.ok({ type: 'ping' }, ms(1000));
  } finally {
    redis.kill('SIGCONT');
  }
  await healthUntil(a, (h) => h.json?.redis === 'ok' && h.json.status === 'ok', 'ok again');
  // The refused message never reaches history, even though its command was
  // already in the socket when Redis stopped.
  const after = await x.ok({ type: 'chat', room: 'lounge:s', text: 'after' });
  assert.equal(after.seq, 2);
  const j = await x.ok({ type: 'join', room: 'lounge:s' });
  assert.deepEqual(j.history.map((m) => [m.seq, m.text]), [[1, 'before'], [2, 'after']]);
  await closeAll([x]);
});

test('Redis killed and restarted: both nodes reconnect by themselves', async () => {
  await stopRedis(redis);
  for (const srv of [a, b]) await healthUntil(srv, (h) => h.json?.redis === 'down', 'redis down');
  redis = await startRedis(redisPort);
  for (const srv of [a, b]) await healthUntil(srv, (h) => h.json?.redis === 'ok', 'redis ok', ms(15000));
  const x = await connectUser(b, { sub: 'kx', event: 'restart' });
  await x.ok({ type: 'join', room: 'lounge:k' });
  assert.equal((await x.ok({ type: 'chat', room: 'lounge:k', text: 'fresh' })).seq, 1);
  await closeAll([x]);
});

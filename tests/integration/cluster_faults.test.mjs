// Faults between nodes (issue 5), each test with its own redis-server and
// nodes on free loopback ports: a node killed with SIGKILL (survivors remove
// its users after detection plus the grace period, its clients resume on a
// survivor unseen), redis-server killed and restarted (local service goes
// on, presence converges), Redis stalled with SIGSTOP (the nodes' loops keep
// answering; CONT in a finally). Deadlines, not sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { freePort, startRedis, stopRedis, healthUntil, until } from './lib/redis.mjs';

const GRACE = 2000;
// Detection: heartbeat TTL 5 s, checked every second (PROTOCOL.md).
const DETECT = 6000;

async function cluster(ids) {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/0`;
  const nodes = await Promise.all(ids.map((id) => startServer({ args: ['--redis', url, '--node-id', id, '--grace-ms', String(GRACE)] })));
  for (const n of nodes) await healthUntil(n, (h) => h.json?.redis === 'ok', 'redis ok');
  return { port, redis, nodes };
}

const isPresence = (user, state) => (m) => m.type === 'presence' && m.user?.id === user && m.state === state;
const memberIds = async (cl, room) => (await cl.ok({ type: 'members', room })).members.map((m) => m.id).sort();

test('kill -9 of a node: survivors drop its users after detection plus grace; its clients resume on a survivor unseen', async () => {
  const { redis, nodes } = await cluster(['ka', 'kb']);
  const [a, b] = nodes;
  try {
    const ev = 'kill';
    const x = await connectUser(a, { sub: 'kx', event: ev });
    const w = await connectUser(a, { sub: 'kw', event: ev });
    const y = await connectUser(b, { sub: 'ky', event: ev });
    for (const u of [x, w, y]) await u.ok({ type: 'join', room: 'lounge:k' });
    await x.next(isPresence('ky', 'joined'), ms(5000));
    assert.deepEqual(await memberIds(y, 'lounge:k'), ['kw', 'kx', 'ky']);
    const wToken = w.helloReply.resume;
    const t0 = Date.now();
    a.signal('SIGKILL');
    await a.exited;
    await w.closed();
    // w comes back on the survivor at once and keeps its room.
    const w2 = await connectUser(b, { sub: 'kw', event: ev }, { helloExtra: { resume: wToken } });
    assert.equal(w2.helloReply.resumed, true);
    assert.equal(w2.helloReply.node, 'kb');
    // kx did not come back: `left` after detection plus the grace period.
    const left = await y.next(isPresence('kx', 'left'), ms(DETECT + GRACE + 5000), 'kx left');
    const at = y.times[y.log.indexOf(left)];
    assert.ok(at - t0 >= GRACE, `left came ${at - t0} ms after the kill, before the grace period (${GRACE} ms) could run`);
    assert.equal(left.room, 'lounge:k');
    assert.deepEqual(await memberIds(y, 'lounge:k'), ['kw', 'ky']);
    assert.deepEqual(y.log.filter((m) => m.type === 'presence' && m.user?.id === 'kw'), [], 'kw never seen leaving');
    const r = await w2.ok({ type: 'chat', room: 'lounge:k', text: 'still here' });
    assert.equal(typeof r.seq, 'number');
    await y.next((m) => m.type === 'chat' && m.text === 'still here', ms(5000));
    // kx's resume token is spent once its node's state is gone.
    const x2 = await connectUser(b, { sub: 'kx', event: ev }, { helloExtra: { resume: x.helloReply.resume } });
    assert.equal(x2.helloReply.resumed, false);
    await closeAll([w2, y, x2]);
    await b.stopClean();
  } finally {
    for (const n of nodes) if (!n.exit) await n.stop();
    await stopRedis(redis);
  }
});

test('redis-server killed and restarted: local service goes on, nodes recover and presence converges', async () => {
  const cl = await cluster(['ra', 'rb']);
  const { port, nodes } = cl;
  let redis = cl.redis;
  const [a, b] = nodes;
  const ev = 'restart';
  const x = await connectUser(a, { sub: 'qx', event: ev });
  const y = await connectUser(b, { sub: 'qy', event: ev });
  try {
    for (const u of [x, y]) await u.ok({ type: 'join', room: 'lounge:q' });
    await x.next(isPresence('qy', 'joined'), ms(5000));
    await stopRedis(redis);
    for (const n of [a, b]) await healthUntil(n, (h) => h.json?.redis === 'down' && h.json.status === 'degraded', 'degraded');
    // Local service: pings, joins and presence on the same node.
    await x.ok({ type: 'ping' }, ms(1000));
    const z = await connectUser(a, { sub: 'qz', event: ev });
    const jz = await z.ok({ type: 'join', room: 'lounge:q' });
    assert.ok(jz.members.some((m) => m.id === 'qx'));
    await x.next(isPresence('qz', 'joined'), ms(5000));
    await x.fail({ type: 'chat', room: 'lounge:q', text: 'no redis' }, 'unavailable', ms(6000));
    // qy leaves on b meanwhile: nobody can be told now.
    await y.ok({ type: 'leave', room: 'lounge:q' });
    redis = await startRedis(port);
    for (const n of [a, b]) await healthUntil(n, (h) => h.json?.redis === 'ok' && h.json.status === 'ok', 'ok again', ms(15000));
    await y.ok({ type: 'join', room: 'lounge:q2' });
    // Presence converges: b sees qz (who arrived on a during the outage),
    // a hears that qy left.
    const y2 = await connectUser(b, { sub: 'qy2', event: ev });
    await until(async () => {
      const j = await y2.ok({ type: 'join', room: 'lounge:q' });
      return JSON.stringify(j.members.map((m) => m.id).sort()) === JSON.stringify(['qx', 'qy2', 'qz']);
    }, 'b sees qx and qz in lounge:q', ms(15000), 200);
    await x.next(isPresence('qy', 'left'), ms(15000), 'qy left at x');
    assert.equal((await x.ok({ type: 'chat', room: 'lounge:q', text: 'back' })).seq, 1);
    await y2.next((m) => m.type === 'chat' && m.text === 'back', ms(5000));
    await closeAll([x, y, z, y2]);
    for (const n of [a, b]) await n.stopClean();
  } finally {
    for (const n of nodes) if (!n.exit) await n.stop();
    await stopRedis(redis);
  }
});

test('Redis stalled (SIGSTOP): pings answered at once, health degraded, then presence converges', async () => {
  const { redis, nodes } = await cluster(['sa', 'sb']);
  const [a, b] = nodes;
  try {
    const ev = 'stall';
    const x = await connectUser(a, { sub: 'sx', event: ev });
    const y = await connectUser(b, { sub: 'sy', event: ev });
    for (const u of [x, y]) await u.ok({ type: 'join', room: 'lounge:s' });
    await x.next(isPresence('sy', 'joined'), ms(5000));
    redis.kill('SIGSTOP');
    try {
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        await x.ok({ type: 'ping' }, ms(1000));
        assert.ok(Date.now() - t0 < ms(1000));
      }
      await y.ok({ type: 'leave', room: 'lounge:s' });
      await healthUntil(a, (h) => h.json?.redis === 'down' && h.json.status === 'degraded', 'degraded');
      await x.ok({ type: 'ping' }, ms(1000));
    } finally {
      redis.kill('SIGCONT');
    }
    for (const n of [a, b]) await healthUntil(n, (h) => h.json?.status === 'ok', 'ok again', ms(15000));
    await x.next(isPresence('sy', 'left'), ms(15000), 'sy left at x');
    assert.deepEqual(await memberIds(x, 'lounge:s'), ['sx']);
    await closeAll([x, y]);
    for (const n of [a, b]) await n.stopClean();
  } finally {
    for (const n of nodes) if (!n.exit) await n.stop();
    await stopRedis(redis);
  }
});

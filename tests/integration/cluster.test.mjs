// Many nodes, one event (issue 5): two or three nodes on one redis-server of
// the test's own share presence (a user on two nodes shown once), member
// lists and counts, chat order and history, announcements and room events;
// a client resumes onto another node. Every wait has a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser, closeAll } from './lib/client.mjs';
import { token as mintToken } from './lib/jwt.mjs';
import { freePort, startRedis, stopRedis, healthUntil } from './lib/redis.mjs';

const GRACE = 1500;
let redis, a, b, c;
before(async () => {
  const port = await freePort();
  redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/0`;
  const args = (id) => ['--redis', url, '--node-id', id, '--grace-ms', String(GRACE)];
  [a, b, c] = await Promise.all([startServer({ args: args('ca') }), startServer({ args: args('cb') }), startServer({ args: args('cc') })]);
  for (const srv of [a, b, c]) await healthUntil(srv, (h) => h.json?.redis === 'ok', 'redis ok');
});
after(async () => {
  await a?.stopClean();
  await b?.stopClean();
  await c?.stopClean();
  await stopRedis(redis);
});

const isPresence = (user, state, room) => (m) => m.type === 'presence' && m.user?.id === user && m.state === state && (!room || m.room === room);

test('presence across nodes: join, member lists, a user on two nodes shown once, status, leave', async () => {
  const ev = 'pres';
  const x = await connectUser(a, { sub: 'px', name: 'X', event: ev });
  const y = await connectUser(b, { sub: 'py', name: 'Y', event: ev });
  const jx = await x.ok({ type: 'join', room: 'lounge:p' });
  assert.equal(jx.count, 1);
  const jy = await y.ok({ type: 'join', room: 'lounge:p' });
  assert.equal(jy.count, 2);
  assert.deepEqual(jy.members.map((m) => m.id), ['px', 'py'], 'oldest first, remote member included');
  const pj = await x.next(isPresence('py', 'joined'), ms(5000), 'py joined at x');
  assert.deepEqual(pj.user, { id: 'py', name: 'Y', role: 'attendee', status: 'available' });

  // py again, on node a (a second tab): nobody hears a second `joined`.
  const y2 = await connectUser(a, { sub: 'py', name: 'Y', event: ev });
  const j2 = await y2.ok({ type: 'join', room: 'lounge:p' });
  assert.equal(j2.count, 2);
  assert.deepEqual(j2.members.map((m) => m.id).sort(), ['px', 'py']);
  const m1 = await x.ok({ type: 'members', room: 'lounge:p' });
  assert.equal(m1.count, 2);

  // An events of another event id never cross.
  const o = await connectUser(b, { sub: 'po', event: 'pres-other' });
  const jo = await o.ok({ type: 'join', room: 'lounge:p' });
  assert.equal(jo.count, 1);

  // Status from node b reaches node a once.
  await y.ok({ type: 'status', status: 'busy' });
  const up = await x.next(isPresence('py', 'updated'), ms(5000), 'py updated at x');
  assert.equal(up.user.status, 'busy');

  // py leaves on b: still a member through a, so no `left`.
  await y.ok({ type: 'leave', room: 'lounge:p' });
  // A marker after it: x's own status change is echoed to py's tab on a.
  await x.ok({ type: 'status', status: 'away' });
  await y2.next(isPresence('px', 'updated'), ms(5000), 'px updated at y2');
  await y2.ok({ type: 'leave', room: 'lounge:p' });
  const left = await x.next(isPresence('py', 'left'), ms(5000), 'py left at x');
  assert.equal(left.room, 'lounge:p');
  assert.equal(x.log.filter(isPresence('py', 'joined')).length, 1, 'py joined once');
  assert.equal(x.log.filter(isPresence('py', 'left')).length, 1, 'py left once');
  assert.equal(o.log.filter((m) => m.type === 'presence').length, 0, 'other event heard nothing');
  const m2 = await x.ok({ type: 'members', room: 'lounge:p' });
  assert.equal(m2.count, 1);
  await closeAll([x, y, y2, o]);
});

test('chat across three nodes: one sequence, every member hears every message in order, shared history', async () => {
  const ev = 'chatx';
  const us = [await connectUser(a, { sub: 'c1', event: ev }), await connectUser(b, { sub: 'c2', event: ev }), await connectUser(c, { sub: 'c3', event: ev })];
  for (const u of us) await u.ok({ type: 'join', room: 'lounge:c' });
  // Everyone's joins are seen everywhere before the chat starts.
  await us[0].next(isPresence('c3', 'joined'), ms(5000), 'c3 at c1');
  await us[1].next(isPresence('c3', 'joined'), ms(5000), 'c3 at c2');
  const N = 30;
  const sends = [];
  for (let i = 0; i < N; i++) sends.push(us[i % 3].ok({ type: 'chat', room: 'lounge:c', text: `m${i}` }));
  const seqs = (await Promise.all(sends)).map((r) => r.seq);
  assert.deepEqual([...seqs].sort((p, q) => p - q), Array.from({ length: N }, (_, i) => i + 1));
  for (const u of us) {
    const got = [];
    while (got.length < N) got.push(await u.next('chat', ms(5000)));
    assert.deepEqual(got.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1), `${u.label} hears them in seq order`);
    // The text a sender got numbered is the text everyone hears under that number.
    for (const m of got) assert.equal(m.text, `m${seqs.indexOf(m.seq)}`);
  }
  const late = await connectUser(b, { sub: 'c4', event: ev });
  const j = await late.ok({ type: 'join', room: 'lounge:c' });
  assert.equal(j.count, 4);
  assert.deepEqual(j.history.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1));
  await closeAll([...us, late]);
});

test('announce reaches every node; blocked chat is not delivered to the blocker on another node', async () => {
  const ev = 'ann';
  const host = await connectUser(a, { sub: 'ah', role: 'host', event: ev });
  const u1 = await connectUser(b, { sub: 'a1', event: ev });
  const u2 = await connectUser(c, { sub: 'a2', event: ev });
  const other = await connectUser(c, { sub: 'a3', event: 'ann-other' });
  await host.ok({ type: 'announce', text: 'doors open' });
  for (const u of [host, u1, u2]) {
    const m = await u.next('announcement', ms(5000));
    assert.equal(m.text, 'doors open');
    assert.deepEqual(m.from, { id: 'ah', name: 'User ah' });
  }
  // u2 blocks u1; u1 chats on b; u2 on c does not get it, the host on a does.
  for (const u of [host, u1, u2]) await u.ok({ type: 'join', room: 'lounge:b' });
  await host.next(isPresence('a2', 'joined'), ms(5000));
  await u2.ok({ type: 'block', user: 'a1' });
  await u1.ok({ type: 'chat', room: 'lounge:b', text: 'hi all' });
  await u1.ok({ type: 'chat', room: 'lounge:b', text: 'still here' });
  await host.next((m) => m.type === 'chat' && m.text === 'still here', ms(5000));
  await host.ok({ type: 'chat', room: 'lounge:b', text: 'marker' });
  await u2.nextWithout((m) => m.type === 'chat' && m.text === 'marker', (m) => m.type === 'chat' && m.from?.id === 'a1', { timeoutMs: ms(5000) });
  assert.equal(other.log.filter((m) => m.type === 'announcement').length, 0);
  await closeAll([host, u1, u2, other]);
});

test('resume onto another node: same rooms, nobody hears the user leave', async () => {
  const ev = 'res';
  const x = await connectUser(a, { sub: 'rx', event: ev });
  const y = await connectUser(b, { sub: 'ry', event: ev });
  const z = await connectUser(a, { sub: 'rz', event: ev });
  for (const u of [x, y, z]) await u.ok({ type: 'join', room: 'lounge:r' });
  await y.next(isPresence('rz', 'joined'), ms(5000));
  const token = x.helloReply.resume;
  const sid = x.helloReply.session;
  await x.drop();
  const x2 = await connectUser(b, { sub: 'rx', event: ev }, { helloExtra: { resume: token } });
  assert.equal(x2.helloReply.resumed, true);
  assert.equal(x2.helloReply.node, 'cb');
  assert.equal(x2.helloReply.session, sid);
  assert.notEqual(x2.helloReply.resume, token);
  // Still in the room without joining again.
  const r = await x2.ok({ type: 'chat', room: 'lounge:r', text: 'back' });
  assert.equal(typeof r.seq, 'number');
  for (const u of [y, z]) await u.next((m) => m.type === 'chat' && m.text === 'back', ms(5000));
  // Past the grace period on node a, nobody heard rx leave or join again.
  await new Promise((res) => setTimeout(res, GRACE + 1000));
  await x2.ok({ type: 'chat', room: 'lounge:r', text: 'marker' });
  for (const u of [y, z]) {
    await u.next((m) => m.type === 'chat' && m.text === 'marker', ms(5000));
    assert.deepEqual(u.log.filter((m) => m.type === 'presence' && m.user?.id === 'rx'), [], `${u.label} heard nothing of rx`);
  }
  const m = await y.ok({ type: 'members', room: 'lounge:r' });
  assert.deepEqual(m.members.map((u) => u.id).sort(), ['rx', 'ry', 'rz']);
  // The old token is spent: a third node does not honour it.
  const x3 = await connectUser(c, { sub: 'rx', event: ev }, { helloExtra: { resume: token } });
  assert.equal(x3.helloReply.resumed, false);
  // A resume token of another user is not honoured either.
  const imp = await connectUser(c, { sub: 'ry', event: ev }, { helloExtra: { resume: x2.helloReply.resume } });
  assert.equal(imp.helloReply.resumed, false);
  await closeAll([x2, x3, y, z, imp]);
});

test('room events of other modules reach members on every node: sn.state of a session made on another node', async () => {
  const ev = 'snx';
  const host = await connectUser(a, { sub: 'sh', role: 'host', event: ev });
  const far = await connectUser(b, { sub: 'sf', event: ev });
  const near = await connectUser(a, { sub: 'sn', event: ev });
  for (const u of [host, far, near]) await u.ok({ type: 'join', room: 'lounge:sn' });
  await host.next(isPresence('sn', 'joined'), ms(5000));
  const { session } = await host.ok({ type: 'sn.create', lounge: 'lounge:sn', rounds: 1, round_s: 60, break_s: 0, strategy: 'random' });
  for (const u of [near, far]) {
    const st = await u.next((m) => m.type === 'sn.state' && m.session === session, ms(5000), `sn.state at ${u.label}`);
    assert.equal(st.phase, 'lobby');
    assert.equal(st.lounge, 'lounge:sn');
  }
  // Exactly once on the far node too.
  await host.ok({ type: 'chat', room: 'lounge:sn', text: 'marker' });
  await far.next((m) => m.type === 'chat' && m.text === 'marker', ms(5000));
  assert.equal(far.log.filter((m) => m.type === 'sn.state').length, 1);
  await closeAll([host, far, near]);
});

test('messages sent right behind a hello that waits for Redis (resume from another node) are answered after it, in order', async () => {
  const ev = 'defer';
  const x = await connectUser(a, { sub: 'dx', event: ev });
  await x.ok({ type: 'join', room: 'lounge:d' });
  const tok = x.helloReply.resume;
  await x.drop();
  const c2 = await connect(b, { label: 'dx-again' });
  c2.send({ type: 'hello', id: 'h', token: mintToken({ sub: 'dx', event: ev }), resume: tok });
  c2.send({ type: 'ping', id: 'p1' });
  c2.send({ type: 'chat', id: 'c1', room: 'lounge:d', text: 'right away' });
  const replies = [];
  while (replies.length < 3) replies.push(await c2.next((m) => m.type === 'ok' || m.type === 'error', ms(5000)));
  assert.deepEqual(replies.map((r) => [r.re, r.type]), [['h', 'ok'], ['p1', 'ok'], ['c1', 'ok']]);
  assert.equal(replies[0].resumed, true);
  assert.equal(typeof replies[2].seq, 'number');
  await closeAll([c2]);
});

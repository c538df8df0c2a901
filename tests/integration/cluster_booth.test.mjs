// Booths across nodes (issue 6, done-means 2): two nodes on a redis-server of
// the test's own serve one event; visitors and staff on different nodes share
// one queue per booth. Queue order and positions on both nodes, two staff on
// two nodes taking visitors at the same moment (nobody taken twice, oldest
// first), a visitor dropped past the grace period, lead consent and the
// leads API answered by either node, a node killed with SIGKILL (its queued
// visitors leave after detection plus grace). Every wait has a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { token } from './lib/jwt.mjs';
import { httpGet } from './lib/raw.mjs';
import { freePort, startRedis, stopRedis, healthUntil, until } from './lib/redis.mjs';

const GRACE = 1500;
// Dead-node detection: heartbeat TTL 5 s, checked every second (PROTOCOL.md).
const DETECT = 6000;

async function cluster(ids, grace) {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}/0`;
  const nodes = await Promise.all(ids.map((id) => startServer({ args: ['--redis', url, '--node-id', id, '--grace-ms', String(grace)] })));
  for (const n of nodes) await healthUntil(n, (h) => h.json?.redis === 'ok', 'redis ok');
  return { redis, nodes };
}

let redis, a, b;
before(async () => {
  ({ redis, nodes: [a, b] } = await cluster(['ba', 'bb'], GRACE));
});
after(async () => {
  await a?.stopClean();
  await b?.stopClean();
  await stopRedis(redis);
});

const staff = (ev, sub, booth, over = {}) => ({ sub, name: `Staff ${sub}`, role: 'exhibitor', booth, event: ev, ...over });
const visitor = (ev, sub, over = {}) => ({ sub, name: `Visitor ${sub}`, event: ev, ...over });
const isPos = (booth, position) => (m) => m.type === 'booth.position' && m.booth === booth && m.position === position;
const bearer = (claims) => ({ headers: { authorization: `Bearer ${token(claims)}` } });

test('one queue across nodes: order, positions told on both nodes, unqueue, next from either node, the errors', async () => {
  const ev = 'bq';
  const sa = await connectUser(a, staff(ev, 'q-sa', 'acme'));
  const sb = await connectUser(b, staff(ev, 'q-sb', 'acme'));
  // Visitors alternate between the nodes: 1 on a, 2 on b, 3 on a, 4 on b.
  const v = [];
  for (let i = 1; i <= 4; i++) v.push(await connectUser(i % 2 ? a : b, visitor(ev, `q-v${i}`)));
  await sa.fail({ type: 'booth.next', booth: 'acme' }, 'not_found');
  for (let i = 0; i < 4; i++) {
    const r = await v[i].ok({ type: 'booth.queue', booth: 'acme' });
    assert.equal(r.position, i + 1, `q-v${i + 1} queued ${i + 1}th`);
    assert.equal(r.booth, 'acme');
    assert.equal(r.wait_s, null, 'no finished meeting to estimate from yet');
  }
  // Queueing again (from its node) keeps the place.
  assert.equal((await v[1].ok({ type: 'booth.queue', booth: 'acme' })).position, 2);

  // q-v2 (node b) leaves: q-v3 on node a and q-v4 on node b move up.
  await v[1].ok({ type: 'booth.unqueue', booth: 'acme' });
  assert.deepEqual(await v[2].next('booth.position', ms(5000)), { type: 'booth.position', booth: 'acme', position: 2, wait_s: null });
  assert.deepEqual(await v[3].next('booth.position', ms(5000)), { type: 'booth.position', booth: 'acme', position: 3, wait_s: null });
  await v[1].fail({ type: 'booth.unqueue', booth: 'acme' }, 'not_found');

  // Staff on node b takes the oldest, a visitor on node a; staff on node a
  // takes the next, a visitor on node b.
  const n1 = await sb.ok({ type: 'booth.next', booth: 'acme' });
  assert.deepEqual(n1.with, { id: 'q-v1', name: 'Visitor q-v1', headline: null });
  assert.match(n1.room, /^meet:acme-\d+$/);
  const m1 = await v[0].next('booth.meet', ms(5000));
  assert.deepEqual(m1, { type: 'booth.meet', booth: 'acme', room: n1.room, with: { id: 'q-sb', name: 'Staff q-sb', headline: null } });
  assert.deepEqual(await sb.next('booth.meet', ms(5000)), { type: 'booth.meet', booth: 'acme', room: n1.room, with: n1.with });
  await v[2].next(isPos('acme', 1), ms(5000), 'q-v3 first');
  await v[3].next(isPos('acme', 2), ms(5000), 'q-v4 second');
  const n2 = await sa.ok({ type: 'booth.next', booth: 'acme' });
  assert.equal(n2.with.id, 'q-v3');
  assert.notEqual(n2.room, n1.room);
  await v[3].next(isPos('acme', 1), ms(5000), 'q-v4 first');
  // In a meeting with the booth: queueing again is a conflict.
  await v[0].fail({ type: 'booth.queue', booth: 'acme' }, 'conflict');

  // The role and input checks hold on a cluster node too.
  await sa.fail({ type: 'booth.queue', booth: 'acme' }, 'conflict'); // staff do not queue at their own booth
  await v[1].fail({ type: 'booth.next', booth: 'acme' }, 'forbidden');
  const other = await connectUser(b, staff(ev, 'q-so', 'otherco'));
  await other.fail({ type: 'booth.next', booth: 'acme' }, 'forbidden');
  await v[1].fail({ type: 'booth.queue', booth: 'not a booth!' }, 'bad_request');
  await v[1].fail({ type: 'booth.queue' }, 'bad_request');
  await v[1].fail({ type: 'booth.unqueue', booth: 42 }, 'bad_request');
  await sa.fail({ type: 'booth.next', booth: '' }, 'bad_request');
  await v[1].fail({ type: 'booth.lead', booth: 'acme', consent: 'yes' }, 'bad_request');
  await v[1].fail({ type: 'booth.lead', booth: 'no/such', consent: true }, 'bad_request');
  const admin = await connectUser(b, visitor(ev, 'q-adm', { role: 'admin' }));
  const n3 = await admin.ok({ type: 'booth.next', booth: 'acme' });
  assert.equal(n3.with.id, 'q-v4');
  await admin.fail({ type: 'booth.next', booth: 'acme' }, 'not_found');
  await closeAll([sa, sb, other, admin, ...v]);
});

test('two staff on two nodes call booth.next at the same moment: every visitor taken once, oldest first', async () => {
  const ev = 'bfair';
  const sa = await connectUser(a, staff(ev, 'f-sa', 'fair'));
  const sb = await connectUser(b, staff(ev, 'f-sb', 'fair'));
  const N = 12;
  const v = [];
  for (let i = 0; i < N; i++) {
    const c = await connectUser(i % 2 ? b : a, visitor(ev, `f-v${String(i).padStart(2, '0')}`));
    assert.equal((await c.ok({ type: 'booth.queue', booth: 'fair' })).position, i + 1);
    v.push(c);
  }
  // Both staff send booth.next without waiting for each other's answers.
  const taken = [];
  const drain = async (s) => {
    for (;;) {
      const r = await s.request({ type: 'booth.next', booth: 'fair' });
      if (r.type === 'error') {
        assert.equal(r.code, 'not_found', JSON.stringify(r));
        return;
      }
      taken.push({ staff: s.label, id: r.with.id, n: Number(r.room.split('-').pop()) });
    }
  };
  await Promise.all([drain(sa), drain(sb), drain(sa), drain(sb)]);
  const ids = taken.map((t) => t.id);
  assert.equal(new Set(ids).size, ids.length, `nobody taken twice: ${ids}`);
  assert.equal(ids.length, N, 'everyone taken');
  // Meetings are numbered in the order visitors were taken: that order is
  // the queue's.
  taken.sort((x, y) => x.n - y.n);
  assert.deepEqual(taken.map((t) => t.id), v.map((c) => c.user.id), 'first come, first served');
  assert.ok(taken.some((t) => t.staff === 'f-sa') && taken.some((t) => t.staff === 'f-sb'), 'both staff took visitors');
  // Each visitor heard booth.meet once, from the staff who took them.
  for (const t of taken) {
    const c = v.find((x) => x.user.id === t.id);
    const m = await c.next('booth.meet', ms(5000));
    assert.equal(m.with.id, t.staff);
  }
  await closeAll([sa, sb, ...v]);
});

test('meet rooms across nodes: both sides members, signal relayed, either side leaving ends the meeting for both', async () => {
  const ev = 'bmeet';
  const s = await connectUser(a, staff(ev, 'm-s', 'meetco'));
  const v1 = await connectUser(b, visitor(ev, 'm-v1'));
  const v2 = await connectUser(b, visitor(ev, 'm-v2'));
  const other = await connectUser(b, visitor(ev, 'm-o'));
  await v1.ok({ type: 'booth.queue', booth: 'meetco' });
  await v2.ok({ type: 'booth.queue', booth: 'meetco' });
  const n1 = await s.ok({ type: 'booth.next', booth: 'meetco' });
  assert.equal(n1.with.id, 'm-v1');
  assert.equal((await v1.next('booth.meet', ms(5000))).room, n1.room);
  await s.next('booth.meet', ms(5000));
  // Signal both ways across the nodes, once each side sees the other in the room.
  const signal = async (from, to, data) => {
    await until(async () => {
      const r = await from.request({ type: 'signal', to, room: n1.room, data });
      if (r.type === 'error') assert.equal(r.code, 'forbidden', JSON.stringify(r));
      return r.type === 'ok';
    }, `${from.label} may signal ${to}`);
  };
  await signal(v1, 'm-s', { sdp: 'offer' });
  assert.deepEqual(await s.next('signal', ms(5000)), { type: 'signal', from: 'm-v1', room: n1.room, data: { sdp: 'offer' } });
  await signal(s, 'm-v1', { sdp: 'answer' });
  assert.deepEqual(await v1.next('signal', ms(5000)), { type: 'signal', from: 'm-s', room: n1.room, data: { sdp: 'answer' } });
  // Nobody else may use the room.
  await other.fail({ type: 'signal', to: 'm-s', room: n1.room, data: {} }, 'forbidden');
  await other.fail({ type: 'join', room: n1.room }, 'forbidden');
  // The visitor leaves on node b: the staff on node a hear booth.end.
  await v1.ok({ type: 'leave', room: n1.room });
  assert.deepEqual(await s.next('booth.end', ms(5000)), { type: 'booth.end', booth: 'meetco', room: n1.room });
  await s.fail({ type: 'signal', to: 'm-v1', room: n1.room, data: {} }, 'forbidden');
  // Second meeting: this time the staff leave; the visitor on node b hears it.
  const n2 = await s.ok({ type: 'booth.next', booth: 'meetco' });
  assert.equal(n2.with.id, 'm-v2');
  await v2.next('booth.meet', ms(5000));
  await until(async () => (await httpGet(b, '/api/booths/meetco/stats', bearer(staff(ev, 'm-s', 'meetco')))).json.in_meeting === 1, 'one meeting in progress');
  await s.ok({ type: 'leave', room: n2.room });
  assert.deepEqual(await v2.next('booth.end', ms(5000)), { type: 'booth.end', booth: 'meetco', room: n2.room });
  // Each meeting counted once, though both nodes ended it.
  const st = await until(async () => {
    const r = await httpGet(b, '/api/booths/meetco/stats', bearer(staff(ev, 'm-s', 'meetco')));
    return r.json.in_meeting === 0 ? r : null;
  }, 'no meeting in progress');
  assert.equal(st.json.meetings, 2);
  assert.equal(st.json.visits, 2);
  assert.equal(v2.log.filter((m) => m.type === 'booth.end').length, 1, 'm-v2 heard booth.end once');
  assert.equal(s.log.filter((m) => m.type === 'booth.end').length, 1, 'the staff heard booth.end once (the first meeting)');
  await closeAll([s, v1, v2, other]);
});

test('a visitor gone past the grace period leaves the queue; visitors on the other node move up', async () => {
  const ev = 'bdrop';
  const s = await connectUser(a, staff(ev, 'd-s', 'dropco'));
  const gone = await connectUser(b, visitor(ev, 'd-gone'));
  const stay = await connectUser(a, visitor(ev, 'd-stay'));
  await gone.ok({ type: 'booth.queue', booth: 'dropco' });
  assert.equal((await stay.ok({ type: 'booth.queue', booth: 'dropco' })).position, 2);
  const t0 = Date.now();
  await gone.drop();
  const p = await stay.next(isPos('dropco', 1), ms(GRACE + 5000), 'd-stay first');
  const at = stay.times[stay.log.indexOf(p)];
  assert.ok(at - t0 >= GRACE - 100, `moved up ${at - t0} ms after the drop, before the grace period (${GRACE} ms) ran out`);
  const n = await s.ok({ type: 'booth.next', booth: 'dropco' });
  assert.equal(n.with.id, 'd-stay');
  await s.fail({ type: 'booth.next', booth: 'dropco' }, 'not_found');
  await closeAll([s, stay]);
});

test('leads across nodes: consent on one node reaches staff on the other; either node exports them (JSON, CSV); no consent, no lead', async () => {
  const ev = 'blead';
  const sa = await connectUser(a, staff(ev, 'l-sa', 'leadco'));
  const sb = await connectUser(b, staff(ev, 'l-sb', 'leadco'));
  const v = await connectUser(b, visitor(ev, 'l-v', { email: 'v@example.com', company: 'Initech', title: 'CTO', headline: 'Builds things' }));
  const quiet = await connectUser(a, visitor(ev, 'l-q'));
  await quiet.ok({ type: 'booth.queue', booth: 'leadco' });
  await v.ok({ type: 'booth.queue', booth: 'leadco' });
  assert.equal((await sa.ok({ type: 'booth.next', booth: 'leadco' })).with.id, 'l-q');
  assert.equal((await sa.ok({ type: 'booth.next', booth: 'leadco' })).with.id, 'l-v');
  const staffA = bearer(staff(ev, 'l-sa', 'leadco'));
  for (const n of [a, b]) {
    const r = await httpGet(n, '/api/booths/leadco/leads', staffA);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.leads, [], 'nobody consented yet');
    assert.equal(r.json.stats.visits, 2);
  }

  await v.fail({ type: 'booth.lead', booth: 'leadco' }, 'bad_request'); // consent is required
  await v.ok({ type: 'booth.lead', booth: 'leadco', consent: true });
  // Staff on both nodes hear of it once.
  for (const s of [sa, sb]) {
    const e = await s.next('booth.lead', ms(5000));
    assert.equal(e.booth, 'leadco');
    assert.equal(e.lead.id, 'l-v');
    assert.equal(e.lead.email, 'v@example.com');
    assert.equal(e.lead.url, null);
    assert.equal(typeof e.lead.meeting_s, 'number', 'in a meeting: its length so far');
  }
  for (const n of [a, b]) {
    const r = await httpGet(n, '/api/booths/leadco/leads', staffA);
    assert.equal(r.status, 200);
    assert.equal(r.json.booth, 'leadco');
    assert.equal(r.json.leads.length, 1, `node ${n.port}: ${r.body}`);
    const lead = r.json.leads[0];
    for (const k of ['id', 'name', 'headline', 'email', 'company', 'title', 'url', 'at', 'meeting_s']) assert.ok(k in lead, `lead has ${k}`);
    assert.equal(lead.company, 'Initech');
    assert.equal(typeof lead.at, 'number');
    assert.equal(r.json.stats.leads, 1);
    assert.equal(r.json.stats.in_meeting, 2);
    const csv = await httpGet(n, '/api/booths/leadco/leads', { headers: { ...staffA.headers, accept: 'text/csv' } });
    assert.equal(csv.status, 200);
    assert.match(csv.headers['content-type'], /^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    assert.equal(lines[0], 'id,name,headline,email,company,title,url,at,meeting_s');
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^l-v,Visitor l-v,Builds things,v@example.com,Initech,CTO,,\d+,\d+$/);
    const st = await httpGet(n, '/api/booths/leadco/stats', bearer(visitor(ev, 'x', { role: 'admin' })));
    assert.equal(st.status, 200);
    assert.deepEqual({ ...st.json, median_wait_s: typeof st.json.median_wait_s }, { visits: 2, meetings: 0, in_meeting: 2, queued: 0, leads: 1, median_wait_s: 'number' });
  }
  // Wrong or missing tokens, on a cluster node.
  assert.equal((await httpGet(b, '/api/booths/leadco/leads')).status, 401);
  assert.equal((await httpGet(b, '/api/booths/leadco/leads', bearer(staff(ev, 'x', 'otherco')))).status, 403);
  assert.equal((await httpGet(b, '/api/booths/leadco/leads', bearer(visitor(ev, 'x', { role: 'host' })))).status, 403);
  // The same booth name in another event is another booth.
  const elsewhere = await httpGet(a, '/api/booths/leadco/leads', bearer(staff('blead-other', 'l-sa', 'leadco')));
  assert.deepEqual(elsewhere.json.leads, []);

  // Withdrawing consent removes the lead, whichever node asks afterwards.
  await v.ok({ type: 'booth.lead', booth: 'leadco', consent: false });
  for (const n of [a, b]) {
    const r = await httpGet(n, '/api/booths/leadco/leads', staffA);
    assert.deepEqual(r.json.leads, []);
  }
  assert.equal(quiet.log.filter((m) => m.type === 'booth.lead').length, 0, 'visitors never hear leads');
  await closeAll([sa, sb, v, quiet]);
});

test('a visitor in the grace period keeps the place but is skipped by staff on the other node', async () => {
  const ev = 'baway';
  const sb = await connectUser(b, staff(ev, 'w-s', 'awayco'));
  const away = await connectUser(a, visitor(ev, 'w-away'));
  const here = await connectUser(b, visitor(ev, 'w-here'));
  const later = await connectUser(b, visitor(ev, 'w-later'));
  for (const c of [away, here, later]) await c.ok({ type: 'booth.queue', booth: 'awayco' });
  const conns = (await httpGet(a, '/healthz')).json.connections;
  await away.drop();
  // Node a has seen the drop (its connection count fell): it marked w-away
  // away before anything sent after this.
  await until(async () => (await httpGet(a, '/healthz')).json.connections === conns - 1, 'node a saw the drop');
  const n = await sb.ok({ type: 'booth.next', booth: 'awayco' });
  assert.equal(n.with.id, 'w-here', 'the visitor in grace is skipped');
  // w-away still stands first: w-later (3rd) is now 2nd, not 1st.
  await later.next(isPos('awayco', 2), ms(5000), 'w-later second');
  // Past the grace period w-away leaves: w-later is first.
  await later.next(isPos('awayco', 1), ms(GRACE + 5000), 'w-later first');
  assert.equal((await sb.ok({ type: 'booth.next', booth: 'awayco' })).with.id, 'w-later');
  await closeAll([sb, here, later]);
});

test('many visitors queueing and leaving at once on one node: each one held, all gone after the grace period', async () => {
  const ev = 'bmany';
  const N = 30;
  const vs = await Promise.all(Array.from({ length: N }, (_, i) => connectUser(a, visitor(ev, `y-v${i}`))));
  // Queue and unqueue interleaved: node a re-reads the queue after every
  // change while others are still joining it, and must keep holding them all.
  await Promise.all(
    vs.map(async (c, i) => {
      await c.ok({ type: 'booth.queue', booth: 'manyco' });
      if (i % 3 === 0) await c.ok({ type: 'booth.unqueue', booth: 'manyco' });
    }),
  );
  const stats = async () => (await httpGet(b, '/api/booths/manyco/stats', bearer(staff(ev, 'y-s', 'manyco')))).json;
  assert.equal((await stats()).queued, N - Math.ceil(N / 3));
  await Promise.all(vs.map((c) => c.drop()));
  // Past the grace period node a takes every one of them out.
  await until(async () => (await stats()).queued === 0, 'the queue empty after the grace period', ms(GRACE + 8000));
});

test('the wait estimate counts meetings and staff of every node', async () => {
  const ev = 'bwait';
  const sa = await connectUser(a, staff(ev, 'e-sa', 'waitco'));
  const v1 = await connectUser(a, visitor(ev, 'e-v1'));
  await v1.ok({ type: 'booth.queue', booth: 'waitco' });
  const n1 = await sa.ok({ type: 'booth.next', booth: 'waitco' });
  await v1.next('booth.meet', ms(5000));
  // A meeting of at least 1 s ends (the staff leave the room).
  await new Promise((r) => setTimeout(r, 1100));
  await sa.ok({ type: 'leave', room: n1.room });
  await v1.next('booth.end', ms(5000));
  const stats = await httpGet(b, '/api/booths/waitco/stats', bearer(staff(ev, 'e-sa', 'waitco')));
  assert.equal(stats.json.meetings, 1, 'the meeting counted once, seen from the other node');
  // Visitors on node b: the first waits 0, the second one mean meeting
  // (at least 1 s) over the one staff online (on node a).
  const w1 = await connectUser(b, visitor(ev, 'e-w1'));
  const w2 = await connectUser(b, visitor(ev, 'e-w2'));
  assert.equal((await w1.ok({ type: 'booth.queue', booth: 'waitco' })).wait_s, 0);
  const q2 = await w2.ok({ type: 'booth.queue', booth: 'waitco' });
  assert.ok(q2.wait_s >= 1 && q2.wait_s <= 60, `wait_s ${q2.wait_s}`);
  // A second staff member online, on node b (whose hello told Redis before
  // w2's request on the same node): the estimate is divided by two.
  const sb = await connectUser(b, staff(ev, 'e-sb', 'waitco'));
  const q3 = await w2.ok({ type: 'booth.queue', booth: 'waitco' });
  assert.equal(q3.position, 2);
  assert.ok(q3.wait_s >= 1 && q3.wait_s < q2.wait_s, `with two staff ${q3.wait_s}, with one ${q2.wait_s}`);
  await closeAll([sa, sb, v1, w1, w2]);
});

const sessions = async (n) => Number(/^icebreaker_sessions (\d+)$/m.exec((await httpGet(n, '/metrics')).body)[1]);

test('a visitor who resumes onto the other node keeps their place; the old node letting go does not take it', async () => {
  const ev = 'bresume';
  const sb = await connectUser(b, staff(ev, 'r-s', 'resco'));
  const v = await connectUser(b, visitor(ev, 'r-v'));
  const w = await connectUser(a, visitor(ev, 'r-w'));
  await v.ok({ type: 'booth.queue', booth: 'resco' });
  assert.equal((await w.ok({ type: 'booth.queue', booth: 'resco' })).position, 2);
  const before = await sessions(b);
  await v.drop();
  const v2 = await connectUser(a, visitor(ev, 'r-v'), { helloExtra: { resume: v.helloReply.resume } });
  assert.equal(v2.helloReply.resumed, true);
  // Node b has ended the old session (the takeover)...
  await until(async () => (await sessions(b)) === before - 1, 'node b let the old session go');
  // ...and its staff's next, sent after that on the same Redis connection,
  // still finds r-v first in the queue.
  const n = await sb.ok({ type: 'booth.next', booth: 'resco' });
  assert.equal(n.with.id, 'r-v');
  assert.equal((await v2.next('booth.meet', ms(5000))).room, n.room);
  await w.next(isPos('resco', 1), ms(5000), 'r-w first');
  await closeAll([sb, v2, w]);
});

test('kill -9 of the node holding queued visitors: they leave the queue after detection plus grace', async () => {
  const grace = 1000;
  const { redis: r2, nodes } = await cluster(['ka', 'kb'], grace);
  const [ka, kb] = nodes;
  try {
    const ev = 'bkill';
    const s = await connectUser(ka, staff(ev, 'k-s', 'killco'));
    const doomed = [await connectUser(kb, visitor(ev, 'k-d1')), await connectUser(kb, visitor(ev, 'k-d2'))];
    const survivor = await connectUser(ka, visitor(ev, 'k-v'));
    // A meeting with both sides on node kb, too.
    const sb = await connectUser(kb, staff(ev, 'k-sb', 'killco'));
    const met = await connectUser(kb, visitor(ev, 'k-m'));
    await met.ok({ type: 'booth.queue', booth: 'killco' });
    assert.equal((await sb.ok({ type: 'booth.next', booth: 'killco' })).with.id, 'k-m');
    for (const d of doomed) await d.ok({ type: 'booth.queue', booth: 'killco' });
    assert.equal((await survivor.ok({ type: 'booth.queue', booth: 'killco' })).position, 3);
    const t0 = Date.now();
    kb.signal('SIGKILL');
    await kb.exited;
    const p = await survivor.next(isPos('killco', 1), ms(DETECT + grace + 5000), 'k-v first after the dead node is cleared');
    const at = survivor.times[survivor.log.indexOf(p)];
    assert.ok(at - t0 >= grace, `moved up ${at - t0} ms after the kill, before the grace period`);
    // The meeting on the dead node is over with it: k-m may queue again.
    const again = await connectUser(ka, visitor(ev, 'k-m'));
    assert.equal((await again.ok({ type: 'booth.queue', booth: 'killco' })).position, 2);
    const n = await s.ok({ type: 'booth.next', booth: 'killco' });
    assert.equal(n.with.id, 'k-v');
    assert.equal((await s.ok({ type: 'booth.next', booth: 'killco' })).with.id, 'k-m');
    await s.fail({ type: 'booth.next', booth: 'killco' }, 'not_found');
    await closeAll([s, survivor, again]);
    await ka.stopClean();
  } finally {
    for (const n of nodes) if (!n.exit) await n.stop();
    await stopRedis(r2);
  }
});

test('Redis stalled: queue, next and lead answer unavailable, the leads API 503; all work again after', async () => {
  const { redis: r3, nodes } = await cluster(['sa'], GRACE);
  const [n] = nodes;
  try {
    const ev = 'bstall';
    const s = await connectUser(n, staff(ev, 's-s', 'stallco'));
    const v = await connectUser(n, visitor(ev, 's-v'));
    r3.kill('SIGSTOP');
    try {
      await v.fail({ type: 'booth.queue', booth: 'stallco' }, 'unavailable', ms(8000));
      await s.fail({ type: 'booth.next', booth: 'stallco' }, 'unavailable', ms(8000));
      await v.fail({ type: 'booth.lead', booth: 'stallco', consent: true }, 'unavailable', ms(8000));
      const r = await httpGet(n, '/api/booths/stallco/leads', bearer(staff(ev, 's-s', 'stallco')));
      assert.equal(r.status, 503, r.body);
      assert.equal(r.json.error, 'unavailable');
    } finally {
      r3.kill('SIGCONT');
    }
    await healthUntil(n, (h) => h.json?.redis === 'ok', 'redis ok again');
    assert.equal((await v.ok({ type: 'booth.queue', booth: 'stallco' })).position, 1);
    assert.equal((await s.ok({ type: 'booth.next', booth: 'stallco' })).with.id, 's-v');
    await closeAll([s, v]);
    await n.stopClean();
  } finally {
    for (const x of nodes) if (!x.exit) await x.stop();
    await stopRedis(r3);
  }
});

// The speed-networking metrics of GET /metrics (issue 10, for the
// dashboard): icebreaker_sn_rounds_total counts rounds started on the node
// (not pauses, resumes, extensions or stops), icebreaker_sn_sessions counts
// the node's live sessions by phase (lobby, round, break, paused; ended ones
// are not live). Each step waits for the clients' sn.* messages, then reads
// /metrics: the node applies a change before it sends it, so the figures
// are exact at that point. icebreaker_sn_round_start_seconds times each of
// those round starts (one observation per round).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { httpGet, parseProm } from './lib/raw.mjs';
import { uniq } from './lib/util.mjs';
import { freePort, startRedis, stopRedis, healthUntil } from './lib/redis.mjs';

const PHASES = ['lobby', 'round', 'break', 'paused'];

let srv;
before(async () => {
  srv = await startServer({ args: ['--rate', '200', '--burst', '400'] });
});
after(async () => {
  await srv.stopClean();
});

/** {types, rounds, sessions: {phase: n}} from a live /metrics (of `node`, default the shared one). */
async function snMetrics(node = srv) {
  const r = await httpGet(node, '/metrics');
  assert.equal(r.status, 200);
  const { types, samples } = parseProm(r.body);
  const rounds = samples.filter((s) => s.name === 'icebreaker_sn_rounds_total');
  assert.equal(rounds.length, 1, 'one icebreaker_sn_rounds_total sample');
  assert.equal(rounds[0].labels, '');
  const sessions = {};
  for (const s of samples.filter((x) => x.name === 'icebreaker_sn_sessions')) {
    const m = /^\{phase="([a-z]+)"\}$/.exec(s.labels);
    assert.ok(m, `icebreaker_sn_sessions labels: ${s.labels}`);
    assert.equal(sessions[m[1]], undefined, `one sample per phase: ${m[1]}`);
    sessions[m[1]] = s.value;
  }
  // icebreaker_sn_round_start_seconds: one observation per round start
  // (the host's sn.start and the clock's), cumulative buckets.
  assert.equal(types.icebreaker_sn_round_start_seconds, 'histogram');
  const h = (n) => samples.filter((s) => s.name === `icebreaker_sn_round_start_seconds_${n}`);
  const buckets = h('bucket');
  assert.deepEqual(
    buckets.map((b) => b.labels),
    ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'].map((le) => `{le="${le}"}`),
  );
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, 'buckets are cumulative');
  const [count] = h('count');
  const [sum] = h('sum');
  assert.equal(buckets.at(-1).value, count.value, '+Inf bucket = count');
  assert.equal(count.value, rounds[0].value, 'every round start this node drove is timed');
  assert.ok(count.value === 0 ? sum.value === 0 : sum.value > 0, `sum ${sum.value} for ${count.value}`);
  return { types, rounds: rounds[0].value, sessions, roundStart: { count: count.value, sum: sum.value } };
}

const phases = (over = {}) => ({ lobby: 0, round: 0, break: 0, paused: 0, ...over });

/** A host and two attendees of a fresh event, opted in to a new session. */
async function setup(create) {
  const event = uniq('m');
  const lounge = `lounge:${event}`;
  const host = await connectUser(srv, { sub: `${event}-h`, role: 'host', event });
  await host.ok({ type: 'join', room: lounge });
  const people = [];
  for (const p of ['a', 'b']) {
    const c = await connectUser(srv, { sub: `${event}-${p}`, event });
    await c.ok({ type: 'join', room: lounge });
    people.push(c);
  }
  const { session } = await host.ok({ type: 'sn.create', lounge, strategy: 'random', ...create });
  for (const c of people) await c.ok({ type: 'sn.join', session });
  return { host, people, session, all: [host, ...people] };
}

const isState = (session, pred) => (m) => m.type === 'sn.state' && m.session === session && pred(m);

test('icebreaker_sn_rounds_total and icebreaker_sn_sessions follow rounds and phases', async () => {
  const clients = [];
  try {
    const m0 = await snMetrics();
    assert.equal(m0.types.icebreaker_sn_rounds_total, 'counter');
    assert.equal(m0.types.icebreaker_sn_sessions, 'gauge');
    assert.equal(m0.rounds, 0);
    assert.deepEqual(m0.sessions, phases(), 'every live phase exported, at 0');

    // A: long rounds, driven by the host.
    const A = await setup({ rounds: 2, round_s: 60, break_s: 60 });
    clients.push(...A.all);
    assert.deepEqual((await snMetrics()).sessions, phases({ lobby: 1 }));
    await A.host.ok({ type: 'sn.start', session: A.session });
    for (const c of A.people) await c.next((m) => m.type === 'sn.match' && m.session === A.session && m.round === 1, ms(5000));
    let m = await snMetrics();
    assert.equal(m.rounds, 1, 'round 1 of A started');
    assert.deepEqual(m.sessions, phases({ round: 1 }));

    await A.host.ok({ type: 'sn.pause', session: A.session });
    await A.people[0].next(isState(A.session, (s) => s.phase === 'paused'));
    m = await snMetrics();
    assert.deepEqual(m.sessions, phases({ paused: 1 }));
    assert.equal(m.rounds, 1, 'a pause starts no round');

    await A.host.ok({ type: 'sn.resume', session: A.session });
    await A.people[0].next(isState(A.session, (s) => s.phase === 'round'));
    const ext = await A.host.ok({ type: 'sn.extend', session: A.session, seconds: 10 });
    await A.people[0].next(isState(A.session, (s) => s.ends_at === ext.ends_at));
    m = await snMetrics();
    assert.deepEqual(m.sessions, phases({ round: 1 }));
    assert.equal(m.rounds, 1, 'resume and extend start no round');

    // B: three one-second rounds without breaks run to their end while A
    // stays in its round.
    const B = await setup({ rounds: 3, round_s: 1, break_s: 0 });
    clients.push(...B.all);
    assert.deepEqual((await snMetrics()).sessions, phases({ lobby: 1, round: 1 }));
    await B.host.ok({ type: 'sn.start', session: B.session });
    for (let round = 1; round <= 3; round++) {
      await B.people[0].next((x) => x.type === 'sn.match' && x.session === B.session && x.round === round, ms(8000));
    }
    await B.people[0].next(isState(B.session, (s) => s.phase === 'ended'), ms(8000));
    m = await snMetrics();
    assert.equal(m.rounds, 4, 'A: 1, B: 3');
    assert.deepEqual(m.sessions, phases({ round: 1 }), 'an ended session is not live');

    // C: a one-second round, then a long break.
    const C = await setup({ rounds: 2, round_s: 1, break_s: 60 });
    clients.push(...C.all);
    await C.host.ok({ type: 'sn.start', session: C.session });
    await C.people[0].next(isState(C.session, (s) => s.phase === 'break'), ms(8000));
    m = await snMetrics();
    assert.equal(m.rounds, 5);
    assert.deepEqual(m.sessions, phases({ round: 1, break: 1 }));

    // Stopping ends both; the counter stays.
    for (const x of [A, C]) {
      await x.host.ok({ type: 'sn.stop', session: x.session });
      await x.people[0].next(isState(x.session, (s) => s.phase === 'ended'));
    }
    m = await snMetrics();
    assert.deepEqual(m.sessions, phases());
    assert.equal(m.rounds, 5, 'a counter never goes down');
  } finally {
    await closeAll(clients);
  }
});

test('a participant leaving mid-round re-pairs without counting a round', async () => {
  const clients = [];
  try {
    const before = (await snMetrics()).rounds;
    const event = uniq('r');
    const lounge = `lounge:${event}`;
    const host = await connectUser(srv, { sub: `${event}-h`, role: 'host', event });
    clients.push(host);
    await host.ok({ type: 'join', room: lounge });
    const people = [];
    for (const p of ['a', 'b', 'c']) {
      const c = await connectUser(srv, { sub: `${event}-${p}`, event });
      clients.push(c);
      await c.ok({ type: 'join', room: lounge });
      people.push(c);
    }
    const { session } = await host.ok({ type: 'sn.create', lounge, strategy: 'random', rounds: 1, round_s: 60, break_s: 0, odd: 'bye' });
    for (const c of people) await c.ok({ type: 'sn.join', session });
    await host.ok({ type: 'sn.start', session });
    const first = await Promise.all(people.map((c) => c.next((m) => m.type === 'sn.match' && m.session === session && m.round === 1)));
    assert.equal((await snMetrics()).rounds, before + 1);
    // One of the pair opts out: the other is re-paired, in the same round,
    // with the one who had the bye.
    const byeIdx = first.findIndex((m) => m.room === null);
    assert.ok(byeIdx >= 0, 'three people, odd: bye');
    const [leaves, stays] = [0, 1, 2].filter((i) => i !== byeIdx);
    await people[leaves].ok({ type: 'sn.leave', session });
    const again = await people[stays].next((m) => m.type === 'sn.match' && m.session === session && m.round === 1, ms(5000));
    assert.deepEqual(again.partners.map((p) => p.id), [people[byeIdx].user.id], 're-paired with the one who had the bye');
    const m = await snMetrics();
    assert.equal(m.rounds, before + 1, 'a re-pairing is not a round');
    assert.equal(m.sessions.round, 1);
    await host.ok({ type: 'sn.stop', session });
  } finally {
    await closeAll(clients);
  }
});

test('two nodes on one Redis: a session and its rounds count on the node that drives it only', async () => {
  const port = await freePort();
  const redis = await startRedis(port);
  const nodes = [];
  const clients = [];
  try {
    for (const id of ['ma', 'mb']) {
      const n = await startServer({ args: ['--redis', `redis://127.0.0.1:${port}/0`, '--node-id', id, '--rate', '200', '--burst', '400'] });
      nodes.push(n);
      await healthUntil(n, (h) => h.json?.redis === 'ok', `${id}: redis ok`);
    }
    const [a, b] = nodes;
    const event = uniq('c');
    const lounge = `lounge:${event}`;
    // The host and the participants on a; a lounge member on b hears the
    // session's state (so b knows of the session) but drives nothing.
    const host = await connectUser(a, { sub: `${event}-h`, role: 'host', event });
    clients.push(host);
    const far = await connectUser(b, { sub: `${event}-far`, event });
    clients.push(far);
    await far.ok({ type: 'join', room: lounge });
    await host.ok({ type: 'join', room: lounge });
    const people = [];
    for (const p of ['x', 'y']) {
      const c = await connectUser(a, { sub: `${event}-${p}`, event });
      clients.push(c);
      people.push(c);
      await c.ok({ type: 'join', room: lounge });
    }
    const { session } = await host.ok({ type: 'sn.create', lounge, strategy: 'random', rounds: 1, round_s: 60, break_s: 0 });
    await far.next(isState(session, (s) => s.phase === 'lobby'), ms(5000), 'b hears the lobby');
    for (const c of people) await c.ok({ type: 'sn.join', session });
    await host.ok({ type: 'sn.start', session });
    for (const c of people) await c.next((m) => m.type === 'sn.match' && m.session === session && m.round === 1, ms(5000));
    await far.next(isState(session, (s) => s.phase === 'round'), ms(5000), 'b hears round 1');
    const [ma, mb] = [await snMetrics(a), await snMetrics(b)];
    assert.deepEqual(ma.sessions, phases({ round: 1 }), 'the driving node counts the session');
    assert.equal(ma.rounds, 1);
    assert.deepEqual(mb.sessions, phases(), 'the other node does not count it again');
    assert.equal(mb.rounds, 0, 'nor its round');
    await host.ok({ type: 'sn.stop', session });
    await far.next(isState(session, (s) => s.phase === 'ended'), ms(5000), 'b hears the end');
    for (const n of nodes) assert.deepEqual((await snMetrics(n)).sessions, phases());
  } finally {
    await closeAll(clients);
    for (const n of nodes) await n.stopClean();
    await stopRedis(redis);
  }
});

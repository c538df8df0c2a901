// Speed networking across nodes (issue 5's round clock): three nodes on the
// test's own redis-server. One node drives a session (it holds the lease);
// participants on the other nodes opt in, get their matches, enter their
// pair: rooms, signal each other across nodes, give feedback; a verb sent on
// a node that does not drive the session is answered by the one that does,
// errors included; a participant resuming on another node gets the state,
// the match and the room again; and when the driving node is killed with
// SIGKILL mid-round, a survivor takes the lease over and the session goes on
// with no lost round and nobody meeting a past partner. Every wait has a
// deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser, closeAll } from './lib/client.mjs';
import { token as mintToken } from './lib/jwt.mjs';
import { httpGet } from './lib/raw.mjs';
import { freePort, startRedis, stopRedis, healthUntil } from './lib/redis.mjs';

const GRACE = 1500;
let redis, url, a, b, c;
const nodes = [];
const args = (id) => ['--redis', url, '--node-id', id, '--grace-ms', String(GRACE), '--rate', '200', '--burst', '400'];

async function node(id) {
  const srv = await startServer({ args: args(id) });
  await healthUntil(srv, (h) => h.json?.redis === 'ok', 'redis ok');
  nodes.push(srv);
  return srv;
}

before(async () => {
  const port = await freePort();
  redis = await startRedis(port);
  url = `redis://127.0.0.1:${port}/0`;
  [a, b, c] = await Promise.all([node('sa'), node('sb'), node('sc')]);
});
after(async () => {
  // Every node is stopped and Redis too, even when one exits unclean.
  const results = await Promise.allSettled(nodes.filter((srv) => !srv.exit).map((srv) => srv.stopClean()));
  await stopRedis(redis);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
});

const isState = (session, pred = () => true) => (m) => m.type === 'sn.state' && m.session === session && pred(m);
const isMatch = (session, round) => (m) => m.type === 'sn.match' && m.session === session && m.round === round;
const WAIT = ms(8000);

/** The host on `hostNode` creates a session in `lounge`; people (clients)
 * join the lounge first and opt in from whatever node they are on. */
async function setup(hostNode, event, people, create) {
  const lounge = `lounge:${event}`;
  const host = await connectUser(hostNode, { sub: `${event}-host`, name: 'Host', role: 'host', event });
  await host.ok({ type: 'join', room: lounge });
  for (const p of people) await p.ok({ type: 'join', room: lounge });
  const { session } = await host.ok({ type: 'sn.create', lounge, ...create });
  for (const p of people) {
    const st = await p.next(isState(session), WAIT, `${p.label} hears the lobby`);
    assert.equal(st.phase, 'lobby');
  }
  for (const p of people) assert.equal((await p.ok({ type: 'sn.join', session })).phase, 'lobby');
  await host.next(isState(session, (m) => m.participants === people.length), WAIT, 'host sees every opt-in');
  return { host, session, lounge };
}

test('participants on other nodes: forwarded verbs and errors, matches, pair room and signal across nodes, feedback and double opt-in, re-pairing', async () => {
  const ev = 'snx';
  const x = await connectUser(b, { sub: 'x', name: 'X', event: ev, interests: ['rust'], email: 'x@example.com' });
  const y = await connectUser(c, { sub: 'y', name: 'Y', event: ev, interests: ['rust'], email: 'y@example.com' });
  const { host, session, lounge } = await setup(a, ev, [x, y], { rounds: 2, round_s: 30, break_s: 0, strategy: 'interests' });

  // Errors come back from the driving node with their codes.
  await x.fail({ type: 'sn.start', session }, 'forbidden'); // role checked where the client is
  const outsider = await connectUser(c, { sub: 'o', event: ev });
  await outsider.fail({ type: 'sn.join', session }, 'forbidden');
  await outsider.ok({ type: 'join', room: lounge });
  await outsider.fail({ type: 'sn.leave', session }, 'not_found'); // answered by node a
  await outsider.fail({ type: 'sn.feedback', session, round: 1, partner: 'x', rating: 5, connect: true }, 'forbidden');
  await outsider.fail({ type: 'sn.join', session: 'sn-00000000' }, 'not_found');
  // A host on another node drives it through the driving node.
  const cohost = await connectUser(c, { sub: 'h2', role: 'host', event: ev });
  await cohost.ok({ type: 'sn.start', session });
  await cohost.fail({ type: 'sn.start', session }, 'conflict');

  const [mx, my] = await Promise.all([x.next(isMatch(session, 1), WAIT, 'x matched'), y.next(isMatch(session, 1), WAIT, 'y matched')]);
  assert.equal(mx.room, my.room);
  assert.match(mx.room, /^pair:/);
  assert.deepEqual(mx.partners.map((p) => p.id), ['y']);
  assert.deepEqual(my.partners.map((p) => p.id), ['x']);
  assert.deepEqual(mx.partners[0].shared, ['rust']);

  // Both are members of the pair room on their own node; signal crosses.
  await x.ok({ type: 'signal', to: 'y', room: mx.room, data: { sdp: 'offer' } });
  const sig = await y.next((m) => m.type === 'signal', WAIT, 'signal at y');
  assert.deepEqual(sig, { type: 'signal', from: 'x', room: mx.room, data: { sdp: 'offer' } });
  await y.ok({ type: 'signal', to: 'x', room: my.room, data: { sdp: 'answer' } });
  assert.equal((await x.next((m) => m.type === 'signal', WAIT, 'signal at x')).data.sdp, 'answer');
  // Not a member of that room: refused, wherever the peer is.
  await outsider.fail({ type: 'signal', to: 'x', room: mx.room, data: {} }, 'forbidden');
  await outsider.fail({ type: 'join', room: mx.room }, 'forbidden');

  // Feedback across nodes: one-sided is never revealed, mutual is.
  await x.ok({ type: 'sn.feedback', session, round: 1, partner: 'y', rating: 5, connect: true });
  await y.ok({ type: 'sn.feedback', session, round: 1, partner: 'x', rating: 4, connect: true });
  const [cx, cy] = await Promise.all([x.next((m) => m.type === 'connection', WAIT), y.next((m) => m.type === 'connection', WAIT)]);
  assert.equal(cx.user.id, 'y');
  assert.equal(cx.user.email, 'y@example.com');
  assert.equal(cy.user.email, 'x@example.com');

  // y leaves the session on node c: x, alone, gets a bye for the same round
  // and leaves the pair room.
  await y.ok({ type: 'sn.leave', session });
  const bye = await x.next((m) => isMatch(session, 1)(m) && m.room === null, WAIT, 'x re-paired (bye)');
  assert.equal(bye.reason, 'bye');
  await x.fail({ type: 'signal', to: 'y', room: mx.room, data: {} }, 'forbidden');

  await host.ok({ type: 'sn.stop', session });
  for (const p of [x, y, host]) await p.next(isState(session, (m) => m.phase === 'ended'), WAIT, `${p.label} hears ended`);

  // The report from any node: the driving node answers for the others.
  const auth = (claims) => ({ headers: { authorization: `Bearer ${mintToken(claims)}` } });
  const hostAuth = auth({ sub: 'h3', role: 'host', event: ev });
  for (const srv of [a, b, c]) {
    const rep = await httpGet(srv, `/api/sessions/${session}/report`, hostAuth);
    assert.equal(rep.status, 200, `report from node ${srv.args.join(' ')}`);
    assert.equal(rep.json.session, session);
    assert.equal(rep.json.phase, 'ended');
    assert.equal(rep.json.rounds_run, 1);
    assert.deepEqual(rep.json.history[0].groups.map((g) => [...g].sort()), [['x', 'y']]);
    assert.deepEqual(rep.json.connections, [{ a: 'x', b: 'y', round: 1 }]);
  }
  assert.equal((await httpGet(b, `/api/sessions/${session}/report`, auth({ sub: 'x', event: ev }))).status, 403);
  assert.equal((await httpGet(b, `/api/sessions/sn-00000000/report`, hostAuth)).status, 404);
  await closeAll([host, x, y, outsider, cohost]);
});

test('resume onto another node mid-round: state, match and pair room again, signal still crosses', async () => {
  const ev = 'snr';
  const x = await connectUser(b, { sub: 'rx', name: 'RX', event: ev });
  const y = await connectUser(a, { sub: 'ry', name: 'RY', event: ev });
  const { host, session } = await setup(a, ev, [x, y], { rounds: 1, round_s: 60, break_s: 0, strategy: 'random' });
  await host.ok({ type: 'sn.start', session });
  const mx = await x.next(isMatch(session, 1), WAIT);
  await y.next(isMatch(session, 1), WAIT);
  const token = x.helloReply.resume;
  await x.drop();
  const x2 = await connectUser(c, { sub: 'rx', name: 'RX', event: ev }, { helloExtra: { resume: token } });
  assert.equal(x2.helloReply.resumed, true);
  const st = await x2.next(isState(session), WAIT, 'state after resume');
  assert.equal(st.phase, 'round');
  const again = await x2.next(isMatch(session, 1), WAIT, 'match after resume');
  assert.equal(again.room, mx.room);
  assert.deepEqual(again.partners.map((p) => p.id), ['ry']);
  // The partner was not re-paired: nobody left the pair room.
  await y.ok({ type: 'signal', to: 'rx', room: mx.room, data: { n: 1 } });
  assert.equal((await x2.next((m) => m.type === 'signal', WAIT)).data.n, 1);
  await x2.ok({ type: 'signal', to: 'ry', room: mx.room, data: { n: 2 } });
  assert.equal((await y.next((m) => m.type === 'signal', WAIT)).data.n, 2);
  assert.equal(y.log.filter((m) => m.type === 'sn.match').length, 1, 'y kept its partner');
  await closeAll([host, x2, y]);
});

test('kill -9 of the driving node mid-round: its client resumes on a survivor, a survivor takes the lease, no round lost, nobody meets a past partner', async () => {
  const d = await node('sd');
  const ev = 'snk';
  const people = [];
  // k0 is on the driving node; the others on the survivors.
  for (let i = 0; i < 4; i++) people.push(await connectUser(i === 0 ? d : i % 2 ? c : b, { sub: `k${i}`, name: `K${i}`, event: ev }));
  const { session } = await setup(d, ev, people, { rounds: 3, round_s: 3, break_s: 1, strategy: 'rotate' });
  const partners = new Map(people.map((p) => [p.label, new Set()]));
  const hostOnB = await connectUser(b, { sub: 'kh', role: 'host', event: ev });
  await hostOnB.ok({ type: 'sn.start', session });
  const r1 = await Promise.all(people.map((p) => p.next(isMatch(session, 1), WAIT)));
  d.signal('SIGKILL');
  await d.waitExit(ms(5000));
  await people[0].closed();
  // k0 comes back on a survivor at once (within the grace period).
  people[0] = await connectUser(b, { sub: 'k0', name: 'K0', event: ev }, { helloExtra: { resume: people[0].helloReply.resume } });
  assert.equal(people[0].helloReply.resumed, true);
  // Rounds 2 and 3 come from a survivor: lease TTL (5 s) + a second of polling
  // + the rest of round 1 and the break.
  const r2 = await Promise.all(people.map((p) => p.next(isMatch(session, 2), ms(20000), `${p.label} round 2`)));
  const r3 = await Promise.all(people.map((p) => p.next(isMatch(session, 3), ms(20000), `${p.label} round 3`)));
  for (const [i, round] of [r1, r2, r3].entries()) {
    for (const [j, m] of round.entries()) {
      const me = `k${j}`;
      assert.equal(m.partners.length, 1, `round ${i + 1}: ${me} has one partner`);
      const other = m.partners[0].id;
      assert.ok(!partners.get(people[j].label).has(other), `round ${i + 1}: ${me} meets ${other} again`);
      partners.get(people[j].label).add(other);
      // The partner's match names me back and the same room.
      const k = Number(other.slice(1));
      assert.equal(round[k].partners[0].id, me);
      assert.equal(round[k].room, m.room);
    }
  }
  // Four people, three rounds of rotation: everyone met everyone once.
  for (const s of partners.values()) assert.equal(s.size, 3);
  // Signal still crosses in a round driven by the new node.
  const m3 = r3[0];
  const peer = people[Number(m3.partners[0].id.slice(1))];
  await people[0].ok({ type: 'signal', to: m3.partners[0].id, room: m3.room, data: { r: 3 } });
  assert.equal((await peer.next((m) => m.type === 'signal' && m.data.r === 3, WAIT)).from, 'k0');
  const end = await people[1].next(isState(session, (m) => m.phase === 'ended'), ms(15000), 'ended');
  assert.equal(end.round, 3);
  await closeAll([...people, hostOnB]);
});

test('kick and block reach every node: a kicked user is refused everywhere, a block made on one node keeps two apart in a session driven by another', async () => {
  const ev = 'snm';
  const host = await connectUser(a, { sub: 'mh', role: 'host', event: ev });
  const k1 = await connectUser(b, { sub: 'mk', event: ev });
  const k2 = await connectUser(c, { sub: 'mk', event: ev });
  const witness = await connectUser(c, { sub: 'mw', event: ev });
  const r = await host.ok({ type: 'kick', user: 'mk', reason: 'spam' });
  assert.equal(r.user, 'mk');
  for (const k of [k1, k2]) {
    const m = await k.next((x) => x.type === 'kicked', WAIT, `${k.label} told`);
    assert.equal(m.message, 'spam');
    assert.equal(m.by, 'mh');
    assert.equal((await k.closed()).code, 1008);
  }
  // Refused on a node other than the kicker's.
  const again = await connect(c);
  again.send({ type: 'hello', id: 1, token: mintToken({ sub: 'mk', event: ev }) });
  await again.expectErrorThenClose('unauthorized', 4001, { re: 1 });

  // x blocks y on node b; the session runs on node a: they are never paired.
  const x = await connectUser(b, { sub: 'mx', name: 'MX', event: ev });
  const y = await connectUser(c, { sub: 'my', name: 'MY', event: ev });
  await x.ok({ type: 'block', user: 'my' });
  const { session } = await setup(a, ev, [x, y], { rounds: 1, round_s: 30, break_s: 0, strategy: 'random', odd: 'bye' });
  await host.ok({ type: 'sn.start', session });
  const [mx, my] = await Promise.all([x.next(isMatch(session, 1), WAIT), y.next(isMatch(session, 1), WAIT)]);
  assert.equal(mx.reason, 'bye');
  assert.equal(my.reason, 'bye');
  await closeAll([host, witness, x, y]);
});

/** icebreaker_sn_rounds_total of a node (rounds it started itself). */
async function roundsStarted(srv) {
  const r = await httpGet(srv, '/metrics');
  assert.equal(r.status, 200);
  const line = r.body.split('\n').find((l) => l.startsWith('icebreaker_sn_rounds_total '));
  assert.ok(line, 'icebreaker_sn_rounds_total exported');
  return Number(line.split(' ')[1]);
}

test('a driver stalled past its lease (SIGSTOP) is replaced, and once it wakes it does not run the clock again: every round is started once, by one node', async () => {
  const e = await node('se');
  const ev = 'sns';
  const people = [];
  for (let i = 0; i < 4; i++) people.push(await connectUser(i % 2 ? c : b, { sub: `s${i}`, name: `S${i}`, event: ev }));
  const before = { b: await roundsStarted(b), c: await roundsStarted(c) };
  const { host, session } = await setup(e, ev, people, { rounds: 3, round_s: 3, break_s: 1, strategy: 'rotate' });
  await host.ok({ type: 'sn.start', session });
  await Promise.all(people.map((p) => p.next(isMatch(session, 1), WAIT)));
  assert.equal(await roundsStarted(e), 1);
  e.signal('SIGSTOP');
  let woke = false;
  try {
    // A survivor takes over and starts round 2 while the driver sleeps.
    await Promise.all(people.map((p) => p.next(isMatch(session, 2), ms(20000), `${p.label} round 2`)));
    e.signal('SIGCONT');
    woke = true;
    await Promise.all(people.map((p) => p.next(isMatch(session, 3), ms(20000), `${p.label} round 3`)));
    await people[0].next(isState(session, (m) => m.phase === 'ended'), ms(15000), 'ended');
  } finally {
    if (!woke) e.signal('SIGCONT');
  }
  // The woken node started no round after round 1; the survivors started
  // rounds 2 and 3, each once.
  assert.equal(await roundsStarted(e), 1);
  assert.equal((await roundsStarted(b)) - before.b + (await roundsStarted(c)) - before.c, 2);
  // Each participant's matches of one round all name the same partner and room.
  for (const p of people)
    for (const round of [1, 2, 3]) {
      const ms_ = p.log.filter(isMatch(session, round));
      assert.ok(ms_.length >= 1);
      for (const m of ms_) assert.deepEqual([m.room, m.partners.map((x) => x.id)], [ms_[0].room, ms_[0].partners.map((x) => x.id)], `${p.label} round ${round}`);
    }
  await closeAll([host, ...people]);
});

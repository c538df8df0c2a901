// A rolling restart during speed networking (issue 10, done-means 1): two
// nodes on the test's own redis-server behind haproxy (deploy/haproxy/
// cluster.cfg, as deploy/cluster.sh runs it); a host and four attendees
// reach the nodes through haproxy, the host starts a three-round session,
// and each node in turn is restarted the way an upgrade does it: SIGTERM
// (the node drains: its clients get close 1001, it exits 0), its clients
// reconnect through haproxy with their resume token and resume on the other
// node, the node starts again on its port and rejoins the cluster. The
// first restart falls in round 1, the second in round 2.
//
// What must hold (docs/OPERATIONS.md, "Upgrades without losing a round"):
// - every close is a 1001 close frame, every reconnection resumes the same
//   session on the node still running, and both restarted nodes exit 0;
// - no participant loses its partner: within a round every sn.match anyone
//   gets (before a restart, re-sent after a resume) names the same partner
//   and the same pair: room, nobody gets a bye, pairs are mutual, and
//   partners still reach each other with `signal` after each restart;
// - the rounds go on: everyone gets rounds 1, 2 and 3 and the session ends
//   after round 3; with `rotate`, four people meet each other once;
// - nobody is seen leaving the lounge; afterwards no node counts a live
//   session or keeps a pair: room.
// Every wait has a deadline; every process is stopped by its pid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { freePort, startRedis, stopRedis, healthUntil } from './lib/redis.mjs';
import { startClusterLb } from './lib/proc.mjs';
import { httpGet, parseProm } from './lib/raw.mjs';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-rolling-'));
const IDS = ['ra', 'rb'];
const ROUNDS = 3;
// Long enough for a restart to fall inside a round (one takes about a
// second here); stretched with ICEBREAKER_TEST_SLOW like every deadline.
const ROUND_S = Math.round(ms(8000) / 1000);
const WAIT = ms(20000);

let redis;
let url;
let lb;
const nodes = []; // the running process of each node id, by index
let lbClient; // what lib/client.mjs connects to: haproxy

const args = (id) => ['--redis', url, '--node-id', id, '--rate', '200', '--burst', '400'];

async function startNode(i, port) {
  const srv = await startServer({ args: [...args(IDS[i]), ...(port ? ['--port', String(port)] : [])] });
  await healthUntil(srv, (h) => h.json?.redis === 'ok', `${IDS[i]}: redis ok`);
  nodes[i] = srv;
  return srv;
}

before(async () => {
  const port = await freePort();
  redis = await startRedis(port);
  url = `redis://127.0.0.1:${port}/0`;
  await startNode(0);
  await startNode(1);
  lb = await startClusterLb(TMP, await freePort(), nodes.map((n) => n.port));
  lbClient = {
    port: lb.port,
    clients: new Set(),
    describe: () => `${nodes.map((n) => n.describe()).join('\n')}\n--- haproxy ---\n${lb.out.slice(-3000)}`,
  };
});

after(async () => {
  try {
    await lb?.stop();
    for (const n of nodes) if (n && !n.exit) await n.stopClean();
  } finally {
    // whatever failed above, nothing of ours is left running
    for (const n of nodes) if (n && !n.exit) await n.stop();
    await stopRedis(redis);
    fs.rmSync(TMP, { recursive: true, force: true });
  }
});

const isState = (session, pred = () => true) => (m) => m.type === 'sn.state' && m.session === session && pred(m);
const isMatch = (session, round) => (m) => m.type === 'sn.match' && m.session === session && (round === undefined || m.round === round);

/** A user through haproxy; `conns` keeps every connection it had, in order. */
async function person(claims) {
  const c = await connectUser(lbClient, claims);
  return { claims, id: claims.sub, c, conns: [c] };
}

/**
 * Reconnect through haproxy with the resume token, as the web client does on
 * 1001: refusals (a draining node's 503 when haproxy has nowhere else to send
 * it, a node not yet back in rotation) are retried until the deadline.
 */
async function resumeThroughLb(p) {
  const prev = p.c.helloReply;
  const deadline = Date.now() + WAIT;
  for (;;) {
    try {
      const c = await connectUser(lbClient, p.claims, { helloExtra: { resume: prev.resume } });
      assert.equal(c.helloReply.resumed, true, `${p.id} resumed: ${JSON.stringify(c.helloReply)}`);
      assert.equal(c.helloReply.session, prev.session, `${p.id} kept its session`);
      p.c = c;
      p.conns.push(c);
      return c;
    } catch (e) {
      if (e.code === 'ERR_ASSERTION' || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Restart node i as an upgrade does: SIGTERM, its clients get 1001 and
 * resume on the other node, it exits 0, it starts again on its port.
 */
async function restart(i, everyone, session) {
  const old = nodes[i];
  const id = IDS[i];
  const drained = everyone.filter((p) => p.c.helloReply.node === id);
  old.signal('SIGTERM');
  await Promise.all(
    drained.map(async (p) => {
      await p.c.expectClose(1001, WAIT);
      const c = await resumeThroughLb(p);
      assert.equal(c.helloReply.node, IDS[1 - i], `${p.id} resumed on the node still running`);
      // A resumed participant gets the session's state again, and its match
      // (with its pair: room) while a round runs.
      if (p.participant) {
        const st = await c.next(isState(session), WAIT, `${p.id}: sn.state again after resuming`);
        if (st.phase === 'round') await c.next(isMatch(session, st.round), WAIT, `${p.id}: sn.match again after resuming`);
      }
    }),
  );
  const exit = await old.waitExit(WAIT);
  assert.deepEqual(exit, { code: 0, signal: null }, `${id} exits 0 after its drain\n${old.describe()}`);
  assert.doesNotMatch(old.stderr, /ERROR: (Address|Leak)Sanitizer|runtime error:/, `${id}: sanitizer report\n${old.describe()}`);
  await startNode(i, old.port);
  return drained.length;
}

/** Every sn.match a person got for the session, over all its connections. */
const matchesOf = (p, session) => p.conns.flatMap((c) => c.log.filter(isMatch(session)));

/** The partners' ids (sorted) and room of the person's latest match. */
function current(p, session) {
  const all = matchesOf(p, session);
  const m = all[all.length - 1];
  return { round: m.round, room: m.room, partners: m.partners.map((x) => x.id).sort() };
}

/**
 * Each person signals its partner, who must receive it: in the round that
 * was running when the restart began (the restart fits in a round; if the
 * round is over, say so rather than test another one).
 */
async function partnersReachEachOther(people, session, round, tag) {
  for (const p of people) {
    const states = p.c.log.filter(isState(session));
    const st = states[states.length - 1];
    assert.ok(st && st.phase === 'round' && st.round === round, `${p.id}: round ${round} still running after the restart (${tag}), last sn.state ${JSON.stringify(st)}`);
  }
  for (const p of people) {
    const { round: r, room, partners } = current(p, session);
    assert.equal(r, round, `${p.id}: its latest sn.match is of round ${round}`);
    assert.equal(partners.length, 1, `${p.id} has a partner (${tag})`);
    const to = people.find((q) => q.id === partners[0]);
    const data = { tag, from: p.id };
    await p.c.ok({ type: 'signal', to: to.id, room, data });
    const got = await to.c.next((m) => m.type === 'signal' && m.data?.tag === tag && m.data.from === p.id, WAIT, `${to.id} gets ${p.id}'s signal (${tag})`);
    assert.equal(got.room, room);
  }
}

test('rolling restart of both nodes during speed networking: every participant keeps its partner, the rounds go on', async () => {
  const event = 'rolling';
  const lounge = `lounge:${event}`;
  const everyone = [];
  try {
    const host = await person({ sub: 'rh', name: 'Host', role: 'host', event });
    everyone.push(host);
    await host.c.ok({ type: 'join', room: lounge });
    const people = [];
    for (let i = 0; i < 4; i++) {
      const p = await person({ sub: `r${i}`, name: `R${i}`, event });
      p.participant = true;
      everyone.push(p);
      people.push(p);
      await p.c.ok({ type: 'join', room: lounge });
    }
    // leastconn spread them: both nodes have clients to drain.
    for (const id of IDS) assert.ok(everyone.some((p) => p.c.helloReply.node === id), `clients on ${id}`);
    const { session } = await host.c.ok({ type: 'sn.create', lounge, rounds: ROUNDS, round_s: ROUND_S, break_s: 1, strategy: 'rotate' });
    for (const p of people) {
      await p.c.next(isState(session), WAIT, `${p.id} hears the lobby`);
      await p.c.ok({ type: 'sn.join', session });
    }
    await host.c.next(isState(session, (m) => m.participants === people.length), WAIT, 'the host sees every opt-in');
    await host.c.ok({ type: 'sn.start', session });

    // Round 1, then the first node restarts.
    for (const p of people) await p.c.next(isMatch(session, 1), WAIT, `${p.id}: round 1`);
    const drained1 = await restart(0, everyone, session);
    await partnersReachEachOther(people, session, 1, 'after the first restart');

    // Round 2, then the other node restarts.
    for (const p of people) await p.c.next(isMatch(session, 2), WAIT, `${p.id}: round 2`);
    const drained2 = await restart(1, everyone, session);
    assert.ok(drained1 > 0 && drained2 > 0, `clients drained: ${drained1} then ${drained2}`);
    await partnersReachEachOther(people, session, 2, 'after the second restart');

    // The rounds go on to the end.
    for (const p of people) {
      await p.c.next(isMatch(session, 3), WAIT, `${p.id}: round 3`);
      const end = await p.c.next(isState(session, (m) => m.phase === 'ended'), WAIT, `${p.id}: the end`);
      assert.equal(end.round, ROUNDS);
    }

    // Nobody lost a partner: one partner and one room per person and round,
    // however many times the match was (re)sent; pairs are mutual.
    const met = new Map(people.map((p) => [p.id, new Set()]));
    for (let round = 1; round <= ROUNDS; round++) {
      const byPerson = new Map();
      for (const p of people) {
        const ms_ = matchesOf(p, session).filter((m) => m.round === round);
        assert.ok(ms_.length >= 1, `${p.id} got round ${round}`);
        const seen = new Set(ms_.map((m) => JSON.stringify({ room: m.room, partners: m.partners.map((x) => x.id).sort() })));
        assert.equal(seen.size, 1, `${p.id}, round ${round}: one partner and room, got ${[...seen].join(' then ')}`);
        const m = ms_[0];
        assert.notEqual(m.room, null, `${p.id}, round ${round}: no bye (${m.reason})`);
        assert.equal(m.partners.length, 1);
        byPerson.set(p.id, { room: m.room, partner: m.partners[0].id });
      }
      for (const [id, { room, partner }] of byPerson) {
        assert.equal(byPerson.get(partner).partner, id, `round ${round}: ${id} and ${partner} name each other`);
        assert.equal(byPerson.get(partner).room, room);
        assert.ok(!met.get(id).has(partner), `round ${round}: ${id} meets ${partner} again`);
        met.get(id).add(partner);
      }
    }
    for (const [id, s] of met) assert.equal(s.size, 3, `${id} met everyone once`);
    // Nobody was seen leaving the lounge, on any connection.
    const left = everyone.flatMap((p) => p.conns.flatMap((c) => c.log.filter((m) => m.type === 'presence' && m.room === lounge && m.state === 'left')));
    assert.deepEqual(left, [], 'no presence left during the restarts');

    // The dashboard's view: the ended session is live on no node, and no
    // node kept a pair: room (at most the lounge is left).
    for (const n of nodes) {
      const { samples } = parseProm((await httpGet(n, '/metrics')).body);
      const sum = (name) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
      assert.equal(sum('icebreaker_sn_sessions'), 0, `${n.node}: no live session after the end`);
      assert.ok(sum('icebreaker_rooms') <= 1, `${n.node}: rooms after the end: ${sum('icebreaker_rooms')}`);
    }
  } finally {
    await closeAll(everyone.flatMap((p) => p.conns));
  }
});

// Speed networking live (issue 4) against the real binary, with 1-2 s rounds
// so the suite stays fast: full sessions of 3 rounds with 2, 3, 7 and 50
// participants under every strategy (odd counts, byes rotating, no repeated
// pair while avoidable), pause/resume/extend/stop, a participant dropping
// mid-round and the partner re-paired, resume within grace, signal between
// partners only, feedback one-sided and mutual, role checks, bad session
// ids, and the report endpoint checked against what happened.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser, closeAll } from './lib/client.mjs';
import { httpGet } from './lib/raw.mjs';
import { token } from './lib/jwt.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--grace-ms', '1500', '--rate', '200', '--burst', '400'] });
});
after(async () => {
  await srv.stopClean();
});

const ROUND_WAIT = ms(8000);

/** A host and n attendees of `event` in `lounge`, each opted in to a new session. */
async function setup(event, n, create, profiles = () => ({})) {
  const lounge = `lounge:${event}`;
  const host = await connectUser(srv, { sub: `${event}-host`, name: 'Host', role: 'host', event });
  await host.ok({ type: 'join', room: lounge });
  const people = [];
  for (let i = 0; i < n; i++) {
    const c = await connectUser(srv, { sub: `${event}-p${i}`, name: `P${i}`, event, ...profiles(i) });
    await c.ok({ type: 'join', room: lounge });
    people.push(c);
  }
  const { session } = await host.ok({ type: 'sn.create', lounge, rounds: 3, round_s: 1, break_s: 0, strategy: 'random', ...create });
  const lobby = await people[0].next((m) => m.type === 'sn.state' && m.session === session);
  assert.equal(lobby.phase, 'lobby');
  assert.equal(lobby.round, 0);
  assert.equal(lobby.ends_at, null);
  for (const c of people) await c.ok({ type: 'sn.join', session });
  // Hosts see live counts: the host (only) hears the opt-ins, at most once a second.
  if (n > 0) await host.next((m) => m.type === 'sn.state' && m.session === session && m.participants === n, ms(5000));
  return { host, people, session, lounge };
}

/** Collect every participant's sn.match for `round`. */
async function matches(people, session, round) {
  return Promise.all(people.map((c) => c.next((m) => m.type === 'sn.match' && m.session === session && m.round === round, ROUND_WAIT)));
}

/** Check one round's matches: groups are consistent and everyone is placed once. */
function checkRound(people, ms_, { odd, groupSize = 2 }) {
  const byRoom = new Map();
  let byes = 0;
  ms_.forEach((m, i) => {
    const me = people[i].user.id;
    if (m.room === null) {
      assert.equal(m.reason, 'bye');
      assert.deepEqual(m.partners, []);
      byes++;
      return;
    }
    assert.match(m.room, /^pair:/);
    assert.equal(typeof m.ends_at, 'number');
    for (const p of m.partners) {
      assert.notEqual(p.id, me);
      assert.ok(Array.isArray(p.shared));
      assert.equal(typeof p.name, 'string');
    }
    if (!byRoom.has(m.room)) byRoom.set(m.room, new Set());
    byRoom.get(m.room).add(me);
  });
  for (const [room, members] of byRoom) {
    for (let i = 0; i < ms_.length; i++) {
      if (ms_[i].room !== room) continue;
      const others = new Set(ms_[i].partners.map((p) => p.id));
      assert.equal(others.size, members.size - 1, `partners of ${people[i].user.id} in ${room}`);
      for (const o of others) assert.ok(members.has(o));
    }
    const max = groupSize + (odd === 'trio' ? 1 : 0);
    assert.ok(members.size >= 2 && members.size <= max, `group of ${members.size} in ${room}`);
  }
  return { rooms: [...byRoom.values()].map((s) => [...s]), byes };
}

const pairsOf = (rooms) => rooms.flatMap((r) => r.flatMap((a, i) => r.slice(i + 1).map((b) => [a, b].sort().join('/'))));

for (const strategy of ['random', 'rotate', 'interests']) {
  for (const [n, odd] of [[2, 'bye'], [3, 'bye'], [3, 'trio'], [7, 'bye'], [7, 'trio']]) {
    test(`${strategy}: 3 rounds with ${n} participants, odd ${odd}`, async () => {
      const ev = `${strategy}-${n}-${odd}`;
      const interests = ['ai', 'music', 'climate', 'health'];
      const { host, people, session } = await setup(ev, n, { strategy, odd }, (i) => ({ interests: [interests[i % 4], interests[(i + 1) % 4]] }));
      await host.ok({ type: 'sn.start', session });
      const seen = new Set();
      const byeCount = new Map();
      for (let round = 1; round <= 3; round++) {
        const ms_ = await matches(people, session, round);
        const { rooms, byes } = checkRound(people, ms_, { odd });
        if (odd === 'bye') assert.equal(byes, n % 2);
        else assert.equal(byes, n === 1 ? 1 : 0);
        ms_.forEach((m, i) => m.room === null && byeCount.set(people[i].user.id, (byeCount.get(people[i].user.id) || 0) + 1));
        // No repeated pair while a new partner is possible: with n >= 3
        // (odd: bye) or n >= 4, three rounds never need a repeat, except
        // that a trio may force one: then only inside the trio, at most one.
        for (const room of rooms) {
          const repeats = pairsOf([room]).filter((p) => seen.has(p));
          if (n >= 4 || (n === 3 && odd === 'bye')) {
            if (room.length === 3 && odd === 'trio') assert.ok(repeats.length <= 1, `trio ${room} repeats ${repeats}`);
            else assert.deepEqual(repeats, [], `repeated in round ${round}`);
          }
        }
        for (const p of pairsOf(rooms)) seen.add(p);
      }
      // Byes rotate: nobody sits out twice while another has not sat out.
      if (odd === 'bye' && n % 2 === 1) {
        const counts = people.map((c) => byeCount.get(c.user.id) || 0);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `bye counts ${counts}`);
      }
      const end = await people[0].next((m) => m.type === 'sn.state' && m.session === session && m.phase === 'ended', ROUND_WAIT);
      assert.equal(end.round, 3);
      assert.equal(end.ends_at, null);
      await closeAll([host, ...people]);
    });
  }
}

test('50 participants, interests strategy: everyone is placed each round, shared reasons given', async () => {
  const tags = ['ai', 'ml', 'music', 'climate', 'health', 'fintech', 'design', 'games'];
  const { host, people, session } = await setup('fifty', 50, { strategy: 'interests', odd: 'trio' }, (i) => ({
    interests: [tags[i % 8], tags[(i * 3) % 8]],
    offers: i % 2 ? ['funding'] : [],
    seeks: i % 2 ? [] : ['funding'],
  }));
  await host.ok({ type: 'sn.start', session });
  const seen = new Set();
  for (let round = 1; round <= 3; round++) {
    const ms_ = await matches(people, session, round);
    const { rooms, byes } = checkRound(people, ms_, { odd: 'trio' });
    assert.equal(byes, 0);
    for (const p of pairsOf(rooms)) {
      assert.ok(!seen.has(p), `pair ${p} repeated`);
      seen.add(p);
    }
    // Buyers meet sellers first: most partners share something.
    const withReason = ms_.filter((m) => m.partners.some((p) => p.shared.length > 0)).length;
    assert.ok(withReason >= 40, `${withReason} of 50 have a reason`);
  }
  await closeAll([host, ...people]);
});

test('pause, resume, extend, stop and the phases they fit', async () => {
  const { host, people, session } = await setup('ctl', 2, { round_s: 30, break_s: 5 });
  await host.fail({ type: 'sn.resume', session }, 'conflict');
  await host.fail({ type: 'sn.pause', session }, 'conflict');
  await host.fail({ type: 'sn.extend', session, seconds: 10 }, 'conflict');
  await host.ok({ type: 'sn.start', session });
  await host.fail({ type: 'sn.start', session }, 'conflict');
  const r1 = await people[0].next((m) => m.type === 'sn.state' && m.phase === 'round');
  await host.ok({ type: 'sn.pause', session });
  const paused = await people[0].next((m) => m.type === 'sn.state' && m.phase === 'paused');
  assert.equal(paused.ends_at, null);
  await host.fail({ type: 'sn.pause', session }, 'conflict');
  await host.ok({ type: 'sn.resume', session });
  const resumed = await people[0].next((m) => m.type === 'sn.state' && m.phase === 'round');
  assert.ok(resumed.ends_at >= r1.ends_at, 'resume keeps the time left');
  const ext = await host.ok({ type: 'sn.extend', session, seconds: 20 });
  const extended = await people[0].next((m) => m.type === 'sn.state' && m.ends_at === ext.ends_at);
  assert.equal(extended.ends_at - resumed.ends_at, 20000);
  await host.fail({ type: 'sn.extend', session, seconds: 0 }, 'bad_request');
  await host.ok({ type: 'sn.stop', session });
  const ended = await people[1].next((m) => m.type === 'sn.state' && m.phase === 'ended');
  assert.equal(ended.ends_at, null);
  await host.fail({ type: 'sn.stop', session }, 'conflict');
  await people[0].fail({ type: 'sn.join', session }, 'conflict');
  await closeAll([host, ...people]);
});

test('roles, bad ids, and opting in from outside the lounge', async () => {
  const { host, people, session, lounge } = await setup('roles', 2, {});
  const a = people[0];
  for (const type of ['sn.start', 'sn.pause', 'sn.resume', 'sn.stop']) await a.fail({ type, session }, 'forbidden');
  await a.fail({ type: 'sn.extend', session, seconds: 5 }, 'forbidden');
  await a.fail({ type: 'sn.create', lounge, rounds: 1, round_s: 1, break_s: 0, strategy: 'random' }, 'forbidden');
  await host.fail({ type: 'sn.start', session: 'sn-nope' }, 'not_found');
  await a.fail({ type: 'sn.join', session: 'sn-nope' }, 'not_found');
  await host.fail({ type: 'sn.start' }, 'bad_request');
  await host.fail({ type: 'sn.create', lounge: 'booth:x', rounds: 1, round_s: 1, break_s: 0, strategy: 'random' }, 'bad_request');
  await host.fail({ type: 'sn.create', lounge, rounds: 1, round_s: 1, break_s: 0, strategy: 'speed-dating' }, 'bad_request');
  await host.fail({ type: 'sn.create', lounge, rounds: 0, round_s: 1, break_s: 0, strategy: 'random' }, 'bad_request');
  await host.fail({ type: 'sn.create', lounge, rounds: 1, round_s: 1, break_s: 0, strategy: 'random', group_size: 4 }, 'bad_request');
  await host.fail({ type: 'sn.create', lounge, rounds: 1, round_s: 1, break_s: 0, strategy: 'random', odd: 'sometimes' }, 'bad_request');
  const outsider = await connectUser(srv, { sub: 'roles-out', event: 'roles' });
  await outsider.fail({ type: 'sn.join', session }, 'forbidden');
  // Another event cannot see the session at all.
  const stranger = await connectUser(srv, { sub: 'roles-x', event: 'elsewhere' });
  await stranger.ok({ type: 'join', room: lounge });
  await stranger.fail({ type: 'sn.join', session }, 'not_found');
  await a.fail({ type: 'sn.leave', session: 'sn-nope' }, 'not_found');
  await a.ok({ type: 'sn.leave', session });
  await a.fail({ type: 'sn.leave', session }, 'not_found');
  await closeAll([host, ...people, outsider, stranger]);
});

test('signal between partners only; feedback one-sided stays secret, mutual reveals to both', async () => {
  const { host, people, session } = await setup('talk', 2, { rounds: 1, round_s: 2 }, (i) => ({ email: `p${i}@example.com`, company: `Co${i}` }));
  const [a, b] = people;
  const outsider = await connectUser(srv, { sub: 'talk-x', event: 'talk' });
  await host.ok({ type: 'sn.start', session });
  const [ma, mb] = await matches(people, session, 1);
  assert.equal(ma.room, mb.room);
  assert.deepEqual(ma.partners.map((p) => p.id), ['talk-p1']);
  assert.equal('email' in ma.partners[0], false, 'no contact claims in sn.match');
  await a.ok({ type: 'signal', to: 'talk-p1', room: ma.room, data: { type: 'offer', sdp: 'v=0' } });
  assert.deepEqual(await b.next('signal'), { type: 'signal', from: 'talk-p0', room: ma.room, data: { type: 'offer', sdp: 'v=0' } });
  await outsider.fail({ type: 'signal', to: 'talk-p1', room: ma.room, data: {} }, 'forbidden');
  await a.fail({ type: 'signal', to: 'talk-x', room: ma.room, data: {} }, 'forbidden');
  await a.fail({ type: 'signal', to: 'talk-p1', room: ma.room, data: { sdp: 'x'.repeat(17000) } }, 'too_large');
  await a.fail({ type: 'signal', to: 'talk-p1', room: 'lounge:talk', data: {} }, 'forbidden');

  // Feedback: about someone not met is forbidden; bad values are bad_request.
  await a.fail({ type: 'sn.feedback', session, round: 1, partner: 'talk-x', rating: 5, connect: true }, 'forbidden');
  await a.fail({ type: 'sn.feedback', session, round: 1, partner: 'talk-p1', rating: 6, connect: true }, 'bad_request');
  await a.fail({ type: 'sn.feedback', session, round: 2, partner: 'talk-p1', rating: 4, connect: true }, 'forbidden');
  const from = b.log.length;
  await a.ok({ type: 'sn.feedback', session, round: 1, partner: 'talk-p1', rating: 5, connect: true });
  // One-sided: b learns nothing (its own ping answer comes with no connection before it).
  await b.ok({ type: 'ping' });
  assert.equal(b.indexOf((m) => m.type === 'connection', from), -1);
  await b.ok({ type: 'sn.feedback', session, round: 1, partner: 'talk-p0', rating: 3, connect: false });
  assert.equal(a.indexOf((m) => m.type === 'connection'), -1);
  // Sending again replaces: now mutual, both learn the other's contact.
  await b.ok({ type: 'sn.feedback', session, round: 1, partner: 'talk-p0', rating: 4, connect: true });
  const ca = await a.next('connection');
  const cb = await b.next('connection');
  assert.equal(ca.user.id, 'talk-p1');
  assert.equal(ca.user.email, 'p1@example.com');
  assert.equal(ca.user.company, 'Co1');
  assert.equal(cb.user.id, 'talk-p0');
  assert.equal(cb.user.email, 'p0@example.com');
  await people[0].next((m) => m.type === 'sn.state' && m.phase === 'ended', ROUND_WAIT);

  // The report: hosts only, with what happened.
  const hostTok = token({ sub: 'talk-host', role: 'host', event: 'talk' });
  assert.equal((await httpGet(srv, `/api/sessions/${session}/report`)).status, 401);
  assert.equal((await httpGet(srv, `/api/sessions/${session}/report`, { headers: { authorization: `Bearer ${token({ sub: 'talk-p0', event: 'talk' })}` } })).status, 403);
  assert.equal((await httpGet(srv, `/api/sessions/${session}/report`, { headers: { authorization: `Bearer ${token({ sub: 'h', role: 'host', event: 'other' })}` } })).status, 404);
  const rep = await httpGet(srv, `/api/sessions/${session}/report`, { headers: { authorization: `Bearer ${hostTok}` } });
  assert.equal(rep.status, 200);
  assert.equal(rep.json.session, session);
  assert.equal(rep.json.phase, 'ended');
  assert.equal(rep.json.rounds_run, 1);
  assert.deepEqual(rep.json.history[0].groups.map((g) => [...g].sort()), [['talk-p0', 'talk-p1']]);
  assert.deepEqual(rep.json.history[0].byes, []);
  assert.equal(rep.json.ratings.count, 2);
  assert.equal(rep.json.ratings.mean, 4.5);
  assert.deepEqual(rep.json.connections, [{ a: 'talk-p0', b: 'talk-p1', round: 1 }]);
  assert.deepEqual(rep.json.participants.map((p) => p.id).sort(), ['talk-p0', 'talk-p1']);
  await closeAll([host, ...people, outsider]);
});

test('a participant dropping mid-round: the partner is re-paired with a lone participant or gets a bye', async () => {
  const { host, people, session } = await setup('drop', 3, { rounds: 1, round_s: 20, odd: 'bye' });
  await host.ok({ type: 'sn.start', session });
  const ms_ = await matches(people, session, 1);
  const byeIdx = ms_.findIndex((m) => m.room === null);
  assert.ok(byeIdx >= 0);
  const pair = [0, 1, 2].filter((i) => i !== byeIdx);
  // One of the pair drops; past the grace period the other is re-paired
  // with the one who had the bye.
  await people[pair[0]].drop();
  const again = await people[pair[1]].next((m) => m.type === 'sn.match' && m.round === 1, ms(6000));
  assert.equal(again.partners.length, 1);
  assert.equal(again.partners[0].id, people[byeIdx].user.id);
  const other = await people[byeIdx].next((m) => m.type === 'sn.match' && m.round === 1 && m.room !== null);
  assert.equal(other.room, again.room);
  // Now the new partner leaves the session: the one left gets a bye.
  await people[byeIdx].ok({ type: 'sn.leave', session });
  const bye = await people[pair[1]].next((m) => m.type === 'sn.match' && m.round === 1 && m.room === null);
  assert.equal(bye.reason, 'bye');
  await host.ok({ type: 'sn.stop', session });
  await closeAll([host, people[pair[1]], people[byeIdx]]);
});

/** Drop `a`'s connection, resume its session on a new one; the first sn.state it hears, of a round. */
async function dropAndResume(a) {
  const resumeTok = a.helloReply.resume;
  const tok = a.token;
  await a.drop();
  const a2 = await connect(srv);
  const r = await a2.ok({ type: 'hello', token: tok, resume: resumeTok });
  assert.equal(r.resumed, true);
  const st = await a2.next('sn.state');
  assert.equal(st.phase, 'round');
  return { a2, st };
}

test('resume within grace: sn.state and sn.match again, the pair room kept', async () => {
  const { host, people, session } = await setup('res', 2, { rounds: 1, round_s: 20 });
  const [a, b] = people;
  await host.ok({ type: 'sn.start', session });
  const [ma] = await matches(people, session, 1);
  const { a2 } = await dropAndResume(a);
  const m2 = await a2.next('sn.match');
  assert.equal(m2.room, ma.room);
  assert.deepEqual(m2.partners, ma.partners);
  // Still in the room: signalling works both ways.
  await b.ok({ type: 'signal', to: 'res-p0', room: ma.room, data: { n: 1 } });
  assert.equal((await a2.next('signal')).data.n, 1);
  await host.ok({ type: 'sn.stop', session });
  await closeAll([host, a2, b]);
});

test('resume in round 2, after an extend: the round-2 match again, with the moved deadline', async () => {
  const { host, people, session } = await setup('res2', 4, { rounds: 2, round_s: 1, break_s: 0, strategy: 'rotate' });
  await host.ok({ type: 'sn.start', session });
  await matches(people, session, 1);
  const m2 = await matches(people, session, 2); // the clock starts round 2
  const ext = await host.ok({ type: 'sn.extend', session, seconds: 30 });
  const a = people[0];
  await a.next((m) => m.type === 'sn.state' && m.session === session && m.ends_at === ext.ends_at);
  const { a2, st } = await dropAndResume(a);
  assert.equal(st.round, 2);
  const again = await a2.next('sn.match');
  assert.equal(again.round, 2);
  assert.equal(again.room, m2[0].room);
  assert.deepEqual(again.partners, m2[0].partners);
  assert.equal(again.ends_at, ext.ends_at, 'the stored match follows sn.extend');
  assert.notEqual(m2[0].ends_at, ext.ends_at);
  await host.ok({ type: 'sn.stop', session });
  await closeAll([host, a2, ...people.slice(1)]);
});

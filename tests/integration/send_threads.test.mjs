// Large bursts written by several threads (--send-threads, server/net/sendpool.c):
// a round start for 300 participants and a lounge chat to 301 sockets are each
// split between the node's thread and its helpers. Every participant still gets
// its sn.state before its sn.match, the pairs are consistent, a participant that
// is not reading during the burst gets the same once it reads, and /metrics says
// how many threads there are and how many bursts and connections they wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runBinary, ms } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';
import { httpGet, parseProm } from './lib/raw.mjs';

const N = 300; // above the 256 connections from which a flush is split
const WAIT = ms(15000);

let srv;
before(async () => {
  srv = await startServer({ args: ['--send-threads', '2', '--rate', '1000', '--burst', '2000'] });
});
after(async () => {
  await srv.stopClean();
});

async function metric(node, name) {
  const r = await httpGet(node, '/metrics');
  assert.equal(r.status, 200);
  const s = parseProm(r.body).samples.filter((x) => x.name === name);
  assert.equal(s.length, 1, `one ${name} sample`);
  return s[0].value;
}

/** Connect `n` attendees of `event` in batches, each joined to `lounge`. */
async function crowd(node, event, lounge, n) {
  const people = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 50); k++)
      batch.push(
        (async () => {
          const c = await connectUser(node, { sub: `${event}-p${k}`, name: `P${k}`, event });
          await c.ok({ type: 'join', room: lounge });
          return c;
        })(),
      );
    people.push(...(await Promise.all(batch)));
  }
  return people;
}

test('a round start for 300 and a chat to 301 sockets, written by three threads', async () => {
  assert.equal(await metric(srv, 'icebreaker_send_threads'), 2);
  const bursts0 = await metric(srv, 'icebreaker_send_bursts_total');
  const conns0 = await metric(srv, 'icebreaker_send_burst_connections_total');
  const event = 'burst';
  const lounge = `lounge:${event}`;
  const host = await connectUser(srv, { sub: 'burst-host', name: 'Host', role: 'host', event });
  await host.ok({ type: 'join', room: lounge });
  const people = await crowd(srv, event, lounge, N);
  const { session } = await host.ok({ type: 'sn.create', lounge, rounds: 1, round_s: 30, break_s: 0, strategy: 'random' });
  for (let i = 0; i < N; i += 50) await Promise.all(people.slice(i, i + 50).map((c) => c.ok({ type: 'sn.join', session })));
  await host.next((m) => m.type === 'sn.state' && m.session === session && m.participants === N, WAIT);

  // One participant stops reading before the round starts.
  const slow = people[17];
  slow.ws._socket.pause();
  const from = people.map((c) => c.log.length);
  await host.ok({ type: 'sn.start', session });
  const isMatch = (m) => m.type === 'sn.match' && m.session === session && m.round === 1;
  const others = people.filter((c) => c !== slow);
  await Promise.all(others.map((c) => c.next(isMatch, WAIT)));
  slow.ws._socket.resume();
  await slow.next(isMatch, WAIT);

  // Each connection: the round's sn.state, then its sn.match, nothing lost.
  const matches = people.map((c, i) => {
    const seen = c.log.slice(from[i]);
    const st = seen.findIndex((m) => m.type === 'sn.state' && m.session === session && m.phase === 'round' && m.round === 1);
    const mt = seen.findIndex(isMatch);
    assert.ok(st >= 0, `${c.label} got the round's sn.state`);
    assert.ok(mt > st, `${c.label}: sn.state before sn.match`);
    assert.equal(seen.filter(isMatch).length, 1, `${c.label}: one sn.match`);
    return seen[mt];
  });
  // The pairs are consistent: 150 rooms of two, each naming the other.
  const byRoom = new Map();
  matches.forEach((m, i) => {
    assert.match(m.room, /^pair:/);
    assert.equal(m.partners.length, 1);
    if (!byRoom.has(m.room)) byRoom.set(m.room, []);
    byRoom.get(m.room).push(i);
  });
  assert.equal(byRoom.size, N / 2);
  for (const [room, [a, b]] of byRoom) {
    assert.equal(matches[a].partners[0].id, people[b].user.id, `${room}`);
    assert.equal(matches[b].partners[0].id, people[a].user.id, `${room}`);
  }

  const bursts1 = await metric(srv, 'icebreaker_send_bursts_total');
  const conns1 = await metric(srv, 'icebreaker_send_burst_connections_total');
  assert.ok(bursts1 >= bursts0 + 1, 'the round start was one burst at least');
  assert.ok(conns1 - conns0 >= N, `the burst wrote to every participant (${conns1 - conns0})`);

  // A chat in the lounge reaches all 301 sockets as one more burst.
  const text = 'x'.repeat(1500);
  const marks = [host, ...people].map((c) => c.log.length);
  await people[0].ok({ type: 'chat', room: lounge, text });
  await Promise.all([host, ...people].map((c, i) => c.next((m) => m.type === 'chat' && m.text === text, WAIT).then(() => assert.ok(c.log.length > marks[i]))));
  assert.ok((await metric(srv, 'icebreaker_send_bursts_total')) >= bursts1 + 1);
  assert.ok((await metric(srv, 'icebreaker_send_burst_connections_total')) - conns1 >= N + 1);
  await closeAll([host, ...people]);
});

test('--send-threads 0: no helpers, no bursts split', async () => {
  const one = await startServer({ args: ['--send-threads', '0'] });
  try {
    assert.equal(await metric(one, 'icebreaker_send_threads'), 0);
    assert.equal(await metric(one, 'icebreaker_send_bursts_total'), 0);
  } finally {
    await one.stopClean();
  }
});

test('--send-threads out of range is refused with exit code 2', async () => {
  for (const v of ['-2', '65', 'many']) {
    const r = await runBinary(['serve', '--send-threads', v, '--jwt-secret', 's']);
    assert.equal(r.code, 2, `--send-threads ${v}`);
    assert.match(r.stderr, /--send-threads: expected a whole number from -1 to 64/);
  }
});

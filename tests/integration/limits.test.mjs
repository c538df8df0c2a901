// Limits every server enforces: rooms joined (conflict beyond the cap), the
// message rate (rate_limited, then 1008 for abuse) and the send queue bound
// (a slow consumer is closed with 4003 while everyone else gets everything).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, assertServes, closeAll } from './lib/client.mjs';
import { httpGet, parseProm } from './lib/raw.mjs';
import { uniq, isPresence, isChat } from './lib/util.mjs';

describe('rooms cap (--max-rooms 3)', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ args: ['--max-rooms', '3'] });
  });
  after(async () => {
    await closeAll(open);
    await srv?.stopClean();
  });

  test('the 4th room is conflict; joining a room again is ok; leaving frees a place', async () => {
    const a = await connectUser(srv);
    open.push(a);
    const rooms = [`lounge:${uniq('r')}`, `booth:${uniq('b')}`, `lounge:${uniq('r')}`];
    for (const room of rooms) await a.ok({ type: 'join', room });
    const extra = `lounge:${uniq('extra')}`;
    await a.fail({ type: 'join', room: extra }, 'conflict');
    await a.fail({ type: 'join', room: `booth:${uniq('b')}` }, 'conflict');
    // a refused join makes no member
    const b = await connectUser(srv);
    open.push(b);
    const jb = await b.ok({ type: 'join', room: extra });
    assert.equal(jb.count, 1);
    // joining one of the three again is ok, at the cap
    assert.equal((await a.ok({ type: 'join', room: rooms[0] })).room, rooms[0]);
    await a.ok({ type: 'leave', room: rooms[1] });
    await a.ok({ type: 'join', room: extra });
    await a.fail({ type: 'join', room: rooms[1] }, 'conflict');
    await assertServes(srv, [a, b]);
  });

  test('the cap is per session: another connection of the same user has its own', async () => {
    const sub = uniq('capuser');
    const t1 = await connectUser(srv, { sub });
    const t2 = await connectUser(srv, { sub });
    open.push(t1, t2);
    for (let i = 0; i < 3; i++) await t1.ok({ type: 'join', room: `lounge:${uniq('t1')}` });
    await t1.fail({ type: 'join', room: `lounge:${uniq('t1')}` }, 'conflict');
    await t2.ok({ type: 'join', room: `lounge:${uniq('t2')}` });
  });
});

describe('rooms cap (default 32)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('32 rooms are fine, the 33rd join is conflict', async () => {
    const a = await connectUser(srv);
    for (let i = 0; i < 32; i++) await a.ok({ type: 'join', room: `lounge:cap${i}` });
    await a.fail({ type: 'join', room: 'lounge:cap32' }, 'conflict');
    await a.ok({ type: 'join', room: 'lounge:cap0' });
    await assertServes(srv, [a]);
    await a.close();
  });
});

describe('rate limit (--rate 5 --burst 5 --abuse-refusals 20)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--rate', '5', '--burst', '5', '--abuse-refusals', '20'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('messages over the rate get rate_limited (with re); the bucket refills', async () => {
    const a = await connectUser(srv); // hello took one token of five
    const ids = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    for (const id of ids) a.send({ type: 'ping', id });
    const replies = [];
    for (const id of ids) replies.push(await a.next((m) => m.re === id, undefined, `the reply to ${id}`));
    const kinds = replies.map((r) => (r.type === 'ok' ? 'ok' : r.code));
    assert.ok(
      kinds.every((k) => k === 'ok' || k === 'rate_limited'),
      JSON.stringify(replies),
    );
    const oks = kinds.filter((k) => k === 'ok').length;
    assert.ok(oks >= 4 && oks <= 5, `4 tokens left after hello (5 with a refill), ${oks} ok: ${kinds}`);
    assert.deepEqual(kinds.slice(0, 4), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(kinds.at(-1), 'rate_limited');
    for (const r of replies.filter((x) => x.type === 'error')) assert.equal(typeof r.message, 'string');
    // a refused message without an id gets rate_limited without re
    a.send({ type: 'ping' });
    const e = await a.next((m) => m.type === 'error' && !('re' in m), undefined, 'rate_limited without re');
    assert.equal(e.code, 'rate_limited');
    // tokens come back at 5 per second: within a few tries spaced 250 ms, a ping is ok again
    let ok = null;
    for (let i = 0; i < 12 && !ok; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const r = await a.request({ type: 'ping' });
      if (r.type === 'ok') ok = r;
      else assert.equal(r.code, 'rate_limited');
    }
    assert.ok(ok, 'the bucket refilled');
    assert.equal(a.open, true);
    await a.close();
    await assertServes(srv);
  });

  test('a flood (20 refusals within the window) closes with 1008; the session ends at once; others are served', async () => {
    const room = `lounge:${uniq('flood')}`;
    const obs = await connectUser(srv);
    await obs.ok({ type: 'join', room });
    const f = await connectUser(srv);
    await f.ok({ type: 'join', room });
    await obs.next(isPresence(room, f.user.id, 'joined'));
    // one ping at a time, each awaited: every refusal's reply can be seen before the next
    let refused = 0;
    let oks = 0;
    for (let i = 0; i < 100 && !f.closeInfo; i++) {
      f.send({ type: 'ping', id: i });
      const r = await f.next((m) => m.re === i, undefined, `the reply to ping ${i}`).catch((e) => {
        if (f.closeInfo) return null; // the refusal that closed the connection
        throw e;
      });
      if (!r) break;
      if (r.type === 'ok') oks++;
      else {
        assert.equal(r.code, 'rate_limited', JSON.stringify(r));
        refused++;
      }
    }
    await f.expectClose(1008);
    assert.ok(refused === 19 || refused === 20, `closed after ${refused} rate_limited replies (and ${oks} ok); the 20th refusal closes`);
    // a close for cause ends the session without a grace period (default 30 s): left now
    await obs.next(isPresence(room, f.user.id, 'left'), ms(5000), 'left right after the 1008 close');
    await assertServes(srv, [obs]);
    await obs.close();
  });
});

describe('rate limit: refusals spread over more than --abuse-window-ms do not close', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--rate', '5', '--burst', '5', '--abuse-refusals', '6', '--abuse-window-ms', '400'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('5 refusals, a pause longer than the window, 5 more: still open; 6 within one window: 1008', async () => {
    const a = await connectUser(srv);
    const burst = async (tag) => {
      // drain the bucket, then count refusals among 9 quick pings
      const ids = Array.from({ length: 9 }, (_, i) => `${tag}-${i}`);
      for (const id of ids) a.send({ type: 'ping', id });
      let refused = 0;
      for (const id of ids) {
        const r = await a.next((m) => m.re === id, undefined, `the reply to ${id}`);
        if (r.type === 'error') refused++;
      }
      return refused;
    };
    const r1 = await burst('one');
    assert.ok(r1 >= 4 && r1 <= 5, `${r1} refusals in the first burst`);
    await new Promise((r) => setTimeout(r, 1100)); // past the 400 ms window, and the bucket refills
    const r2 = await burst('two');
    assert.ok(r2 >= 4 && r2 <= 5, `${r2} refusals in the second burst`);
    assert.equal(a.open, true, 'refusals in two windows do not add up');
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 20; i++) a.send({ type: 'ping', id: `three-${i}` });
    await a.expectClose(1008);
  });
});

for (const [what, args] of [
  ['--sendq-msgs 16', ['--sendq-msgs', '16']],
  ['--sendq-bytes 131072', ['--sendq-bytes', '131072']],
]) describe(`slow consumer (${what})`, () => {
  let srv;
  before(async () => {
    // a high rate: the flooder must not be rate limited
    srv = await startServer({ args: [...args, '--rate', '100000', '--burst', '100000'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  async function closes4003() {
    const r = await httpGet(srv, '/metrics');
    const s = parseProm(r.body).samples.find((x) => x.name === 'icebreaker_closes_total' && x.labels.includes('"4003"'));
    return s ? s.value : 0;
  }

  test('a client that stops reading is closed with 4003; the flooder and the others get every message in order', async (t) => {
    const room = `lounge:${uniq('slow')}`;
    const flooder = await connectUser(srv, { sub: 'flooder' });
    const slow = await connectUser(srv, { sub: 'slow' });
    const other = await connectUser(srv, { sub: 'other' });
    const elsewhere = await connectUser(srv, { sub: 'elsewhere' });
    for (const c of [flooder, slow, other]) await c.ok({ type: 'join', room });
    await elsewhere.ok({ type: 'join', room: `lounge:${uniq('quiet')}` });
    const before4003 = await closes4003();
    slow.pause();
    const body = '😀'.repeat(1990); // ~8 KB a message: kernel buffers fill in hundreds, not thousands
    const MAX = 4000;
    const WINDOW = 4; // requests in flight: the flooder's own queue (its ok + its echo) stays far below 16
    let sent = 0;
    let detected = false;
    let checked = 0;
    const inflight = new Set();
    while (sent < MAX && !detected) {
      while (inflight.size < WINDOW && sent < MAX) {
        const n = ++sent;
        const p = flooder.ok({ type: 'chat', room, text: `${n} ${body}` }).then((r) => {
          inflight.delete(p);
          return r;
        });
        inflight.add(p);
      }
      await Promise.race(inflight);
      if (sent - checked >= 50) {
        checked = sent;
        detected = (await closes4003()) > before4003;
      }
    }
    await Promise.all(inflight);
    // Now let the slow client read: what the kernel held, then the close frame.
    slow.resume();
    await slow.expectClose(4003, ms(10000));
    const total = sent;
    const check = async (c) => {
      const evs = [];
      while (evs.length < total) evs.push(await c.next(isChat(room), ms(10000), `chat ${evs.length + 1} of ${total}`));
      assert.deepEqual(
        evs.map((e) => e.seq),
        Array.from({ length: total }, (_, i) => i + 1),
        `${c.label} got every chat, in order`,
      );
      evs.forEach((e, i) => assert.ok(e.text.startsWith(`${i + 1} `), `${c.label} chat ${i + 1} text`));
    };
    await check(flooder);
    await check(other);
    const got = slow.log.filter(isChat(room)).map((m) => m.seq);
    t.diagnostic(`flooded ${total} chats; the slow client got ${got.length} before 4003`);
    assert.ok(got.length < total, `the slow client got ${got.length} of ${total}: it was cut off`);
    assert.deepEqual(
      got,
      Array.from({ length: got.length }, (_, i) => i + 1),
      'what the slow client got is a gap-free prefix',
    );
    // the others are still connected and served
    assert.equal(elsewhere.log.some(isChat(room)), false);
    await assertServes(srv, [flooder, other, elsewhere]);
    await closeAll([flooder, other, elsewhere]);
  });
});

// Large rooms (started with --crowd 5): above the threshold, presence events
// give way to presence.count, join answers with only the threshold's number of
// members, and `members` pages through the whole list.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connectUser, assertServes, closeAll } from './lib/client.mjs';
import { uniq, isChat } from './lib/util.mjs';

const CROWD = 5;

describe('crowd rule (--crowd 5)', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ args: ['--crowd', String(CROWD)] });
  });
  after(async () => {
    await closeAll(open);
    await srv?.stopClean();
  });
  const user = async (over) => {
    const c = await connectUser(srv, over);
    open.push(c);
    return c;
  };
  const isCount = (room, n) => (m) => m.type === 'presence.count' && m.room === room && (n === undefined || m.count === n);
  const presenceOf = (id) => (m) => m.type === 'presence' && m.user?.id === id;

  test('a room of 6+ switches to presence.count; join returns 5 members; members pages through all', async () => {
    const room = `lounge:${uniq('crowd')}`;
    const m = [];
    for (let i = 1; i <= CROWD; i++) {
      const c = await user({ sub: `m${i}-${uniq()}`, name: `Member ${i}` });
      const r = await c.ok({ type: 'join', room });
      assert.equal(r.count, i);
      assert.equal(r.members.length, i);
      m.push(c);
    }
    // up to the threshold, arrivals are announced
    await m[0].next((x) => x.type === 'presence' && x.state === 'joined' && x.user.id === m[CROWD - 1].user.id);
    const ids = () => m.map((c) => c.user.id);

    // the 6th: counted, not announced
    const marks = m.map((c) => c.log.length);
    const sixth = await user({ sub: `m6-${uniq()}`, name: 'Member 6' });
    const j6 = await sixth.ok({ type: 'join', room });
    m.push(sixth);
    assert.equal(j6.count, 6);
    assert.equal(j6.members.length, CROWD, 'join answers only the threshold number of members');
    assert.deepEqual(
      j6.members.map((x) => x.id),
      ids().slice(0, CROWD),
      'the oldest members first',
    );
    for (let i = 0; i < CROWD; i++) {
      const ev = await m[i].next(isCount(room, 6), ms(3000), 'presence.count 6');
      assert.deepEqual(Object.keys(ev).sort(), ['count', 'room', 'type']);
    }
    await m[1].ok({ type: 'chat', room, text: 'after six' });
    for (let i = 0; i < CROWD; i++) {
      await m[i].nextWithout(isChat(room, 'after six'), presenceOf(sixth.user.id), { from: marks[i] });
    }

    // the 7th: presence.count 7 (at most once a second, so it may take a moment)
    const seventh = await user({ sub: `m7-${uniq()}`, name: 'Member 7' });
    const j7 = await seventh.ok({ type: 'join', room });
    m.push(seventh);
    assert.equal(j7.count, 7);
    assert.equal(j7.members.length, CROWD);
    await m[0].next(isCount(room, 7), ms(3000), 'presence.count 7');
    await sixth.next(isCount(room, 7), ms(3000), 'presence.count 7 to the 6th');

    // members paging, oldest first
    const page = async (args) => m[0].ok({ type: 'members', room, ...args });
    const p1 = await page({ offset: 0, limit: 3 });
    assert.equal(p1.room, room);
    assert.equal(p1.count, 7);
    assert.equal(p1.offset, 0);
    assert.deepEqual(
      p1.members.map((x) => x.id),
      ids().slice(0, 3),
    );
    const p2 = await page({ offset: 3, limit: 3 });
    assert.equal(p2.offset, 3);
    assert.deepEqual(
      p2.members.map((x) => x.id),
      ids().slice(3, 6),
    );
    const p3 = await page({ offset: 6, limit: 3 });
    assert.deepEqual(
      p3.members.map((x) => x.id),
      ids().slice(6),
    );
    assert.deepEqual((await page({ offset: 7, limit: 3 })).members, []);
    assert.deepEqual((await page({ offset: 1000 })).members, []);
    const all = await page({});
    assert.equal(all.offset, 0, 'default offset 0');
    assert.equal(all.count, 7);
    assert.deepEqual(
      all.members.map((x) => x.id),
      ids(),
    );
    for (const x of all.members) assert.deepEqual(Object.keys(x).sort(), ['id', 'name', 'role', 'status']);
    assert.equal((await page({ limit: 200 })).members.length, 7);
    assert.equal((await page({ limit: 1 })).members.length, 1);

    // bad paging
    for (const args of [{ limit: 201 }, { limit: 0 }, { limit: -1 }, { offset: -1 }, { limit: 2.5 }, { offset: 1.5 }, { limit: '3' }, { offset: '0' }, { limit: null }, { limit: true }]) {
      await m[0].fail({ type: 'members', room, ...args }, 'bad_request');
    }
    const outsider = await user();
    await outsider.fail({ type: 'members', room }, 'forbidden');

    // status changes are not announced in a crowded room
    const sm = m.map((c) => c.log.length);
    await m[2].ok({ type: 'status', status: 'away' });
    await m[3].ok({ type: 'chat', room, text: 'after status' });
    await m[0].nextWithout(isChat(room, 'after status'), presenceOf(m[2].user.id), { from: sm[0] });
    assert.equal((await page({ offset: 2, limit: 1 })).members[0].status, 'away');

    // departures above the threshold are counted: 7 -> 6 -> 5, and the one that
    // brings it back to 5 is counted too, not announced
    const dm = m.map((c) => c.log.length);
    await seventh.ok({ type: 'leave', room });
    await sixth.ok({ type: 'leave', room });
    await m[0].next(isCount(room, 5), ms(3000), 'presence.count 5');
    await m[1].ok({ type: 'chat', room, text: 'after departures' });
    await m[0].nextWithout(isChat(room, 'after departures'), (x) => presenceOf(sixth.user.id)(x) || presenceOf(seventh.user.id)(x), { from: dm[0] });

    // at 5 and below, presence is back
    await m[4].ok({ type: 'leave', room });
    await m[0].next((x) => presenceOf(m[4].user.id)(x) && x.state === 'left', ms(3000), 'presence left at 5 -> 4');
    const back = await user({ name: 'Back' });
    const jb = await back.ok({ type: 'join', room });
    assert.equal(jb.count, 5);
    assert.equal(jb.members.length, 5);
    await m[0].next((x) => presenceOf(back.user.id)(x) && x.state === 'joined', ms(3000), 'presence joined at 4 -> 5');
    await assertServes(srv, [m[0]]);
  });

  test('members defaults to offset 0 and limit 100; limit 200 gives up to 200', async () => {
    const room = `lounge:${uniq('big')}`;
    const N = 102;
    const ids = [];
    let first;
    for (let i = 0; i < N; i++) {
      const c = await user({ sub: `big${String(i).padStart(3, '0')}-${uniq()}` });
      const r = await c.ok({ type: 'join', room });
      assert.equal(r.count, i + 1);
      assert.equal(r.members.length, Math.min(i + 1, CROWD));
      ids.push(c.user.id);
      if (i === 0) first = c;
    }
    const d = await first.ok({ type: 'members', room });
    assert.equal(d.count, N);
    assert.equal(d.offset, 0);
    assert.deepEqual(
      d.members.map((x) => x.id),
      ids.slice(0, 100),
    );
    const rest = await first.ok({ type: 'members', room, offset: 100 });
    assert.deepEqual(
      rest.members.map((x) => x.id),
      ids.slice(100),
    );
    const all = await first.ok({ type: 'members', room, limit: 200 });
    assert.deepEqual(
      all.members.map((x) => x.id),
      ids,
    );
    await first.fail({ type: 'members', room, limit: 201 }, 'bad_request');
    // the first member heard the room grow by presence.count, ending at N
    await first.next(isCount(room, N), ms(3000), `presence.count ${N}`);
  });

  test('presence.count is sent at most once a second while the count changes', async () => {
    const room = `lounge:${uniq('rate')}`;
    const first = [];
    for (let i = 0; i < CROWD; i++) {
      const c = await user();
      await c.ok({ type: 'join', room });
      first.push(c);
    }
    const watcher = first[0];
    const from = watcher.log.length;
    // four arrivals in quick succession over the threshold: counts 6..9
    const more = await Promise.all([0, 1, 2, 3].map(() => user()));
    for (const c of more) await c.ok({ type: 'join', room });
    const last = await watcher.next(isCount(room, 9), ms(4000), 'presence.count 9');
    const upto = watcher.log.indexOf(last);
    const at = [];
    for (let i = from; i <= upto; i++) if (isCount(room)(watcher.log[i])) at.push([watcher.log[i].count, watcher.times[i]]);
    // the counts only grow and end exact; consecutive ones are about a second apart (200 ms for jitter)
    for (let i = 1; i < at.length; i++) {
      assert.ok(at[i][0] > at[i - 1][0], JSON.stringify(at));
      assert.ok(at[i][1] - at[i - 1][1] >= 800, `presence.count events ${at[i][1] - at[i - 1][1]} ms apart: ${JSON.stringify(at)}`);
    }
  });
});

// Rooms and presence: join/leave/status/chat/members answers and events,
// room ids, chat seq and history, chat length in code points, a user with two
// tabs showing once, and two events sharing room names seeing nothing of each
// other.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connectUser, assertServes, closeAll } from './lib/client.mjs';
import { uniq, isPresence, isChat } from './lib/util.mjs';

const STATUSES = ['available', 'busy', 'away'];

describe('rooms and presence', () => {
  let srv;
  const open = [];
  before(async () => {
    // history needs 55 chats from one connection: a rate above the default burst
    srv = await startServer({ args: ['--rate', '200', '--burst', '200'] });
  });
  after(async () => {
    await closeAll(open);
    await srv?.stopClean();
  });
  const user = async (over = {}) => {
    const c = await connectUser(srv, over);
    open.push(c);
    return c;
  };

  test('join -> ok with room, count, members (joiner included), history', async () => {
    const room = `lounge:${uniq('j')}`;
    const a = await user({ sub: uniq('alice'), name: 'Alice' });
    const r = await a.ok({ type: 'join', room });
    assert.equal(r.room, room);
    assert.equal(r.count, 1);
    assert.equal(r.members.length, 1);
    const [m] = r.members;
    assert.deepEqual(Object.keys(m).sort(), ['id', 'name', 'role', 'status']);
    assert.equal(m.id, a.user.id);
    assert.equal(m.name, 'Alice');
    assert.equal(m.role, 'attendee');
    assert.ok(STATUSES.includes(m.status), `status ${m.status}`);
    assert.deepEqual(r.history, []);
  });

  test('a second member: the first gets presence joined, the joiner gets members oldest first and no event of itself', async () => {
    const room = `lounge:${uniq('p')}`;
    const a = await user({ name: 'Ann' });
    const b = await user({ name: 'Bob', role: 'host' });
    await a.ok({ type: 'join', room });
    const r = await b.ok({ type: 'join', room });
    assert.equal(r.count, 2);
    assert.deepEqual(
      r.members.map((m) => m.id),
      [a.user.id, b.user.id],
    );
    const ev = await a.next(isPresence(room, b.user.id, 'joined'), undefined, 'presence joined of b');
    assert.equal(ev.room, room);
    assert.equal(ev.user.name, 'Bob');
    assert.equal(ev.user.role, 'host');
    assert.ok(STATUSES.includes(ev.user.status));
    assert.deepEqual(Object.keys(ev).sort(), ['room', 'state', 'type', 'user']);
    assert.deepEqual(Object.keys(ev.user).sort(), ['id', 'name', 'role', 'status']);
    assert.equal('re' in ev, false, 'events carry no re');
    // b gets no presence about itself: the chat a sends next arrives with nothing about b before it
    await a.ok({ type: 'chat', room, text: 'marker' });
    await b.nextWithout(isChat(room, 'marker'), (m) => m.type === 'presence' && m.user?.id === b.user.id, { what: 'the marker chat' });
  });

  test('joining a room again is ok again and announces nothing new', async () => {
    const room = `lounge:${uniq('again')}`;
    const a = await user();
    const b = await user();
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    await a.next(isPresence(room, b.user.id, 'joined'));
    const from = a.log.length;
    const r = await b.ok({ type: 'join', room });
    assert.equal(r.room, room);
    assert.equal(r.count, 2);
    assert.deepEqual(
      r.members.map((m) => m.id),
      [a.user.id, b.user.id],
    );
    await b.ok({ type: 'chat', room, text: 'after rejoin' });
    await a.nextWithout(isChat(room, 'after rejoin'), (m) => m.type === 'presence', { from, what: 'the chat after the rejoin' });
  });

  test('leave -> ok with room, others get presence left; leaving again or a room never joined is not_found', async () => {
    const room = `lounge:${uniq('leave')}`;
    const a = await user();
    const b = await user();
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const r = await b.ok({ type: 'leave', room });
    assert.equal(r.room, room);
    const ev = await a.next(isPresence(room, b.user.id, 'left'), undefined, 'presence left');
    assert.equal(ev.user.id, b.user.id);
    assert.deepEqual(Object.keys(ev.user).sort(), ['id', 'name', 'role', 'status']);
    await b.fail({ type: 'leave', room }, 'not_found');
    await b.fail({ type: 'leave', room: `lounge:${uniq('never')}` }, 'not_found');
    await b.fail({ type: 'chat', room, text: 'not a member any more' }, 'forbidden');
    const m = await a.ok({ type: 'members', room });
    assert.deepEqual(
      m.members.map((x) => x.id),
      [a.user.id],
    );
  });

  test('invalid room ids -> bad_request', async () => {
    const a = await user();
    const bad = [
      'main',
      'lounge',
      'lounge:',
      'lobby:main',
      'LOUNGE:main',
      'Lounge:main',
      ':main',
      'lounge:bad name',
      'lounge:a/b',
      'lounge:a:b',
      'lounge:é',
      'lounge:main\n',
      'lounge:' + 'a'.repeat(65),
      'booth:',
      'booth:a b',
      'pair:',
      'meet:',
      '',
    ];
    for (const room of bad) {
      await a.fail({ type: 'join', room }, 'bad_request');
      await a.fail({ type: 'chat', room, text: 'x' }, 'bad_request');
    }
    await assertServes(srv, [a]);
  });

  test('ids of 1 and 64 characters of A-Z a-z 0-9 . _ - are valid room names', async () => {
    const a = await user();
    for (const name of ['x', 'a'.repeat(64), 'A-Z_a-z.0-9', '-', '.', '_']) {
      const r = await a.ok({ type: 'join', room: `lounge:${name}` });
      assert.equal(r.room, `lounge:${name}`);
      await a.ok({ type: 'leave', room: `lounge:${name}` });
    }
  });

  test('pair: and meet: rooms the user was not put in are forbidden; booth: lounges are open to anyone', async () => {
    const a = await user();
    await a.fail({ type: 'join', room: 'pair:abc' }, 'forbidden');
    await a.fail({ type: 'join', room: 'meet:abc' }, 'forbidden');
    await a.fail({ type: 'chat', room: 'pair:abc', text: 'hi' }, 'forbidden');
    const r = await a.ok({ type: 'join', room: `booth:${uniq('acme')}` });
    assert.equal(r.count, 1);
    await assertServes(srv, [a]);
  });

  test('status -> ok; presence updated goes to the other members of every room the user is in, and only to them', async () => {
    const r1 = `lounge:${uniq('s1')}`;
    const r2 = `lounge:${uniq('s2')}`;
    const r3 = `lounge:${uniq('s3')}`;
    const a = await user({ name: 'Stat' });
    const b = await user();
    const c = await user();
    const d = await user(); // in r3 only, with nobody relevant
    await a.ok({ type: 'join', room: r1 });
    await a.ok({ type: 'join', room: r2 });
    await b.ok({ type: 'join', room: r1 });
    await c.ok({ type: 'join', room: r2 });
    await d.ok({ type: 'join', room: r3 });
    const marks = [a, b, c, d].map((x) => x.log.length);
    const r = await a.ok({ type: 'status', status: 'busy' });
    assert.equal(r.status, 'busy');
    const eb = await b.next(isPresence(r1, a.user.id, 'updated'), undefined, 'updated in r1');
    assert.deepEqual(eb.user, { id: a.user.id, name: 'Stat', role: 'attendee', status: 'busy' });
    const ec = await c.next(isPresence(r2, a.user.id, 'updated'), undefined, 'updated in r2');
    assert.equal(ec.user.status, 'busy');
    // exactly one updated each; none to a itself, none to d: markers through the same rooms
    await a.ok({ type: 'chat', room: r1, text: 'm1' });
    await a.ok({ type: 'chat', room: r2, text: 'm2' });
    await d.ok({ type: 'chat', room: r3, text: 'm3' });
    await b.nextWithout(isChat(r1, 'm1'), (m) => m.type === 'presence' && m.state === 'updated' && m !== eb, { from: marks[1] });
    await c.nextWithout(isChat(r2, 'm2'), (m) => m.type === 'presence' && m.state === 'updated' && m !== ec, { from: marks[2] });
    await a.nextWithout(isChat(r2, 'm2'), (m) => m.type === 'presence', { from: marks[0] });
    await d.nextWithout(isChat(r3, 'm3'), (m) => m.type === 'presence', { from: marks[3] });
    // the new status shows in members and to a newcomer
    const e = await user();
    const j = await e.ok({ type: 'join', room: r1 });
    assert.equal(j.members.find((m) => m.id === a.user.id).status, 'busy');
    for (const s of ['away', 'available']) {
      assert.equal((await a.ok({ type: 'status', status: s })).status, s);
      assert.equal((await b.next(isPresence(r1, a.user.id, 'updated'))).user.status, s);
    }
  });

  test('status other than available|busy|away -> bad_request', async () => {
    const a = await user();
    for (const status of ['', 'offline', 'AWAY', ' busy', 1, null, true, ['busy'], { s: 'busy' }]) {
      await a.fail({ type: 'status', status }, 'bad_request');
    }
    await a.fail({ type: 'status' }, 'bad_request');
    await assertServes(srv, [a]);
  });

  test('chat -> ok with seq; the chat event reaches every member, sender included; seq counts up per room', async () => {
    const room = `lounge:${uniq('chat')}`;
    const other = `lounge:${uniq('chat2')}`;
    const a = await user({ name: 'Ann' });
    const b = await user({ name: 'Ben' });
    const outsider = await user();
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    await outsider.ok({ type: 'join', room: other });
    const t0 = Date.now();
    const r1 = await a.ok({ type: 'chat', room, text: 'first' });
    assert.equal(r1.seq, 1);
    for (const x of [a, b]) {
      const ev = await x.next(isChat(room, 'first'), undefined, 'the first chat');
      assert.deepEqual(Object.keys(ev).sort(), ['from', 'room', 'seq', 'text', 'ts', 'type']);
      assert.deepEqual(ev.from, { id: a.user.id, name: 'Ann' });
      assert.equal(ev.seq, 1);
      assert.ok(Number.isInteger(ev.ts) && ev.ts >= t0 - 1000 && ev.ts <= Date.now() + 1000, `ts ${ev.ts}`);
    }
    assert.equal((await b.ok({ type: 'chat', room, text: 'second' })).seq, 2);
    assert.equal((await a.ok({ type: 'chat', room, text: 'third' })).seq, 3);
    const seen = [];
    for (let i = 0; i < 2; i++) seen.push(await a.next(isChat(room)));
    assert.deepEqual(
      seen.map((m) => [m.seq, m.text, m.from.id]),
      [
        [2, 'second', b.user.id],
        [3, 'third', a.user.id],
      ],
    );
    // another room has its own sequence
    assert.equal((await outsider.ok({ type: 'chat', room: other, text: 'own' })).seq, 1);
    // a non-member cannot chat; the outsider never saw this room's chat
    await outsider.fail({ type: 'chat', room, text: 'let me in' }, 'forbidden');
    assert.equal(outsider.log.some(isChat(room)), false);
  });

  test('chat text: empty -> bad_request, 2001 code points -> too_large, 2000 astral code points (8000 bytes) accepted', async () => {
    const room = `lounge:${uniq('len')}`;
    const a = await user();
    const b = await user();
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    await a.fail({ type: 'chat', room, text: '' }, 'bad_request');
    await a.fail({ type: 'chat', room, text: 'a'.repeat(2001) }, 'too_large');
    await a.fail({ type: 'chat', room, text: '😀'.repeat(2001) }, 'too_large');
    await a.fail({ type: 'chat', room, text: 'é'.repeat(2001) }, 'too_large');
    const astral = '😀'.repeat(2000);
    assert.equal(Buffer.byteLength(astral), 8000);
    assert.equal(astral.length, 4000, 'UTF-16 length is 4000: the limit must count code points');
    const r = await a.ok({ type: 'chat', room, text: astral });
    assert.equal(r.seq, 1);
    assert.equal((await b.next(isChat(room))).text, astral);
    const ascii = 'a'.repeat(2000);
    assert.equal((await a.ok({ type: 'chat', room, text: ascii })).seq, 2);
    assert.equal((await b.next(isChat(room))).text, ascii);
    const mixed = 'x'.repeat(1999) + '𝄞';
    assert.equal((await a.ok({ type: 'chat', room, text: mixed })).seq, 3);
    assert.equal((await b.next(isChat(room))).text, mixed);
    // JSON escapes and control characters arrive unchanged
    const tricky = 'quote " backslash \\ newline \n tab \t bell \u0007 del \u007f </script> \u2028';
    await a.ok({ type: 'chat', room, text: tricky });
    assert.equal((await b.next(isChat(room))).text, tricky);
    await assertServes(srv, [a, b]);
  });

  test('a chat with U+0000 (valid JSON \\u0000) is answered with its re: delivered unchanged or bad_request', async () => {
    // The contract does not say whether chat text may carry U+0000; it is
    // valid JSON, and the request has an id, so the answer must carry `re`.
    const room = `lounge:${uniq('nul')}`;
    const a = await user();
    const b = await user();
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const nul = await a.request({ type: 'chat', id: 'nul', room, text: 'nul \u0000 here' });
    if (nul.type === 'ok') assert.equal((await b.next(isChat(room))).text, 'nul \u0000 here');
    else assert.equal(nul.code, 'bad_request', JSON.stringify(nul));
    await assertServes(srv, [a, b]);
  });

  test('history: the last 50 chats, oldest first', async () => {
    const room = `lounge:${uniq('hist')}`;
    const a = await user({ name: 'Historian' });
    await a.ok({ type: 'join', room });
    const early = await user();
    await early.ok({ type: 'join', room });
    assert.deepEqual((await early.ok({ type: 'join', room })).history, []);
    const sends = [];
    for (let i = 1; i <= 55; i++) sends.push(a.ok({ type: 'chat', room, text: `msg ${i}` }));
    const oks = await Promise.all(sends);
    assert.deepEqual(
      oks.map((r) => r.seq),
      Array.from({ length: 55 }, (_, i) => i + 1),
    );
    const b = await user();
    const r = await b.ok({ type: 'join', room });
    assert.equal(r.history.length, 50);
    assert.deepEqual(
      r.history.map((h) => [h.seq, h.text]),
      Array.from({ length: 50 }, (_, i) => [i + 6, `msg ${i + 6}`]),
    );
    for (const h of r.history) {
      assert.deepEqual(h.from, { id: a.user.id, name: 'Historian' });
      assert.equal(typeof h.ts, 'number');
    }
    // a short history is given whole
    const room2 = `lounge:${uniq('hist2')}`;
    await a.ok({ type: 'join', room: room2 });
    await a.ok({ type: 'chat', room: room2, text: 'one' });
    await a.ok({ type: 'chat', room: room2, text: 'two' });
    const r2 = await b.ok({ type: 'join', room: room2 });
    assert.deepEqual(
      r2.history.map((h) => h.text),
      ['one', 'two'],
    );
  });

  test('members -> ok with room, count, offset, members; a room not joined is forbidden', async () => {
    const room = `lounge:${uniq('mem')}`;
    const xs = [];
    for (let i = 0; i < 4; i++) {
      const x = await user({ name: `M${i}` });
      await x.ok({ type: 'join', room });
      xs.push(x);
    }
    const r = await xs[0].ok({ type: 'members', room });
    assert.equal(r.room, room);
    assert.equal(r.count, 4);
    assert.equal(r.offset, 0);
    assert.deepEqual(
      r.members.map((m) => m.id),
      xs.map((x) => x.user.id),
    );
    const p = await xs[0].ok({ type: 'members', room, offset: 1, limit: 2 });
    assert.deepEqual(
      p.members.map((m) => m.id),
      [xs[1].user.id, xs[2].user.id],
    );
    assert.equal(p.offset, 1);
    assert.equal(p.count, 4);
    const stranger = await user();
    await stranger.fail({ type: 'members', room }, 'forbidden');
  });

  test('a user with two tabs shows once; left comes only when the last tab leaves', async () => {
    const room = `lounge:${uniq('tabs')}`;
    const sub = uniq('tabby');
    const obs = await user({ name: 'Observer' });
    const talker = await user();
    await obs.ok({ type: 'join', room });
    await talker.ok({ type: 'join', room });
    const tab1 = await user({ sub, name: 'Tabby' });
    const tab2 = await user({ sub, name: 'Tabby' });
    await tab1.ok({ type: 'join', room });
    await obs.next(isPresence(room, sub, 'joined'), undefined, 'joined of the first tab');
    let from = obs.log.length;
    const j2 = await tab2.ok({ type: 'join', room });
    assert.equal(j2.count, 3, 'observer, talker and the two-tab user once');
    assert.deepEqual(
      j2.members.map((m) => m.id),
      [obs.user.id, talker.user.id, sub],
    );
    await talker.ok({ type: 'chat', room, text: 'after tab2 joined' });
    await obs.nextWithout(isChat(room, 'after tab2 joined'), (m) => m.type === 'presence' && m.user?.id === sub, { from });
    // a chat from the user reaches both tabs
    await tab1.ok({ type: 'chat', room, text: 'from tab1' });
    await tab2.next(isChat(room, 'from tab1'));
    await tab1.next(isChat(room, 'from tab1'));
    // tab1 leaves: no left
    from = obs.log.length;
    await tab1.ok({ type: 'leave', room });
    await talker.ok({ type: 'chat', room, text: 'after tab1 left' });
    await obs.nextWithout(isChat(room, 'after tab1 left'), (m) => m.type === 'presence' && m.user?.id === sub, { from });
    const mem = await obs.ok({ type: 'members', room });
    assert.equal(mem.count, 3);
    await tab2.ok({ type: 'chat', room, text: 'tab2 still in' });
    // tab1 closes its connection entirely: still no left, tab2 is in the room
    from = obs.log.length;
    await tab1.close();
    await talker.ok({ type: 'chat', room, text: 'after tab1 closed' });
    await obs.nextWithout(isChat(room, 'after tab1 closed'), (m) => m.type === 'presence' && m.user?.id === sub, { from });
    // the last tab leaves: left
    await tab2.ok({ type: 'leave', room });
    const left = await obs.next(isPresence(room, sub, 'left'), undefined, 'left after the last tab');
    assert.equal(left.user.name, 'Tabby');
    assert.equal((await obs.ok({ type: 'members', room })).count, 2);
  });

  test('two tabs: a status change is announced once per room', async () => {
    const room = `lounge:${uniq('tabst')}`;
    const sub = uniq('tabst');
    const obs = await user();
    await obs.ok({ type: 'join', room });
    const tab1 = await user({ sub });
    const tab2 = await user({ sub });
    await tab1.ok({ type: 'join', room });
    await tab2.ok({ type: 'join', room });
    await obs.next(isPresence(room, sub, 'joined'));
    const from = obs.log.length;
    await tab2.ok({ type: 'status', status: 'away' });
    const ev = await obs.next(isPresence(room, sub, 'updated'));
    assert.equal(ev.user.status, 'away');
    await tab1.ok({ type: 'chat', room, text: 'after status' });
    await obs.nextWithout(isChat(room, 'after status'), (m) => m.type === 'presence' && m !== ev, { from });
  });
});

describe('two events using the same room names see nothing of each other', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await closeAll(open);
    await srv?.stopClean();
  });

  test('members, presence, chat, seq and history are per event', async () => {
    const mk = async (over) => {
      const c = await connectUser(srv, over);
      open.push(c);
      return c;
    };
    const room = 'lounge:main';
    const a1 = await mk({ sub: 'a1', event: 'event-a' });
    const a2 = await mk({ sub: 'a2', event: 'event-a' });
    const b1 = await mk({ sub: 'b1', event: 'event-b' });
    const same = await mk({ sub: 'same', event: 'event-b', name: 'Same in B' });
    await a1.ok({ type: 'join', room });
    await a1.ok({ type: 'chat', room, text: 'secret of a' });
    const jb = await b1.ok({ type: 'join', room });
    assert.equal(jb.count, 1);
    assert.deepEqual(
      jb.members.map((m) => m.id),
      ['b1'],
    );
    assert.deepEqual(jb.history, [], 'no history of event-a');
    assert.equal((await b1.ok({ type: 'chat', room, text: 'secret of b' })).seq, 1, 'own seq in event-b');
    await b1.ok({ type: 'status', status: 'busy' });
    await same.ok({ type: 'join', room });
    await b1.next(isPresence(room, 'same', 'joined'));
    // a user id that exists in both events is two people
    const sameA = await mk({ sub: 'same', event: 'event-a', name: 'Same in A' });
    const ja = await sameA.ok({ type: 'join', room });
    assert.deepEqual(
      ja.members.map((m) => [m.id, m.name]),
      [
        ['a1', `User a1`],
        ['same', 'Same in A'],
      ],
    );
    assert.deepEqual(
      ja.history.map((h) => h.text),
      ['secret of a'],
    );
    assert.equal((await sameA.ok({ type: 'chat', room, text: 'second of a' })).seq, 2);
    // markers: a2 joins event-a's lounge:main after everything above
    await a2.ok({ type: 'join', room });
    const fromB = (m) =>
      (m.type === 'presence' && (m.user?.id === 'b1' || m.user?.name === 'Same in B')) ||
      (m.type === 'chat' && (m.from?.id === 'b1' || /of b|b marker/.test(m.text)));
    const fromA = (m) =>
      (m.type === 'presence' && (['a1', 'a2'].includes(m.user?.id) || m.user?.name === 'Same in A')) ||
      (m.type === 'chat' && (['a1', 'a2'].includes(m.from?.id) || m.from?.name === 'Same in A' || /of a/.test(m.text)));
    await a1.nextWithout(isPresence(room, 'a2', 'joined'), fromB, { what: "a2's joined" });
    await b1.ok({ type: 'chat', room, text: 'b marker' });
    await b1.next(isChat(room, 'b marker'));
    await same.nextWithout(isChat(room, 'b marker'), fromA, { what: "b1's marker" });
    await sameA.ok({ type: 'chat', room, text: 'a marker' });
    await a1.nextWithout(isChat(room, 'a marker'), fromB, { what: "sameA's marker" });
    assert.equal(b1.log.some(fromA), false, 'b1 saw nothing of event-a');
    const mb = await b1.ok({ type: 'members', room });
    assert.deepEqual(
      mb.members.map((m) => [m.id, m.name]),
      [
        ['b1', 'User b1'],
        ['same', 'Same in B'],
      ],
    );
    await assertServes(srv, [a1, b1]);
  });
});

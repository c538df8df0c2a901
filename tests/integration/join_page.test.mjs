// The members page a join answers with is built once per room and shared
// (server/core/room_page.c): every change that can alter the first page must
// show in the next join's answer. Started with --crowd 3, so the page is the
// first 3 members once the room has more than 3.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connectUser, assertServes, closeAll } from './lib/client.mjs';
import { uniq } from './lib/util.mjs';

const CROWD = 3;

describe('join answers after arrivals, departures and status changes (--crowd 3)', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ args: ['--crowd', String(CROWD)] });
  });
  after(async () => {
    await closeAll(open);
    await srv?.stopClean();
  });

  test('each join lists the first members as they are now', async () => {
    const room = `lounge:${uniq('page')}`;
    const ids = [];
    const users = {};
    const join = async (sub) => {
      const c = await connectUser(srv, { sub, name: `Name ${sub}` });
      open.push(c);
      users[sub] = c;
      ids.push(sub);
      return c.ok({ type: 'join', room });
    };
    const page = (reply) => reply.members.map((m) => `${m.id}:${m.status}`);

    // filling the page: every arrival is on it
    assert.deepEqual(page(await join('u1')), ['u1:available']);
    assert.deepEqual(page(await join('u2')), ['u1:available', 'u2:available']);
    assert.deepEqual(page(await join('u3')), ['u1:available', 'u2:available', 'u3:available']);
    // crowded: arrivals go after the page, which stays the first three
    let r = await join('u4');
    assert.equal(r.count, 4);
    assert.deepEqual(page(r), ['u1:available', 'u2:available', 'u3:available']);
    r = await join('u5');
    assert.equal(r.count, 5);
    assert.deepEqual(page(r), ['u1:available', 'u2:available', 'u3:available']);

    // a member of the page changes status: the next join shows it
    await users.u2.ok({ type: 'status', status: 'busy' });
    r = await join('u6');
    assert.deepEqual(page(r), ['u1:available', 'u2:busy', 'u3:available']);

    // a member of the page leaves: the next one moves up
    await users.u1.ok({ type: 'leave', room });
    r = await join('u7');
    assert.equal(r.count, 6);
    assert.deepEqual(page(r), ['u2:busy', 'u3:available', 'u4:available']);

    // a member after the page leaves: the page is the same
    await users.u6.ok({ type: 'leave', room });
    r = await join('u8');
    assert.equal(r.count, 6);
    assert.deepEqual(page(r), ['u2:busy', 'u3:available', 'u4:available']);

    // back under the threshold: every member is listed, then the page again
    for (const sub of ['u3', 'u5', 'u7']) await users[sub].ok({ type: 'leave', room });
    r = await join('u9');
    assert.equal(r.count, 4);
    assert.deepEqual(page(r), ['u2:busy', 'u4:available', 'u8:available']);
    await users.u4.ok({ type: 'leave', room });
    r = await join('u10');
    assert.equal(r.count, 4);
    assert.deepEqual(page(r), ['u2:busy', 'u8:available', 'u9:available']);

    // the members verb agrees with the join answer
    const all = await users.u10.ok({ type: 'members', room });
    assert.deepEqual(all.members.slice(0, CROWD).map((m) => `${m.id}:${m.status}`), page(r));
    await assertServes(srv, Object.values(users).filter((c) => c.open));
  });
});

// Resume (started with --grace-ms 1000): within the grace period a client
// that comes back with its `resume` token keeps its rooms and others never see
// it leave; after the grace period it starts fresh and others saw `left`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser, closeAll } from './lib/client.mjs';
import { token } from './lib/jwt.mjs';
import { uniq, isPresence, isChat } from './lib/util.mjs';

const GRACE = 1000;

describe(`resume (--grace-ms ${GRACE})`, () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ args: ['--grace-ms', String(GRACE)] });
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
  const reconnect = async (tok, resume) => {
    const c = await connect(srv);
    open.push(c);
    const r = await c.hello(tok, resume === undefined ? {} : { resume });
    return [c, r];
  };

  for (const how of ['drop', 'close']) {
    test(`within grace (after a ${how === 'drop' ? 'dropped socket' : 'close frame'}): resumed, rooms kept, no left seen by others`, async () => {
      const room = `lounge:${uniq('keep')}`;
      const obs = await user({ name: 'Observer' });
      const a = await user({ sub: uniq('a'), name: 'Resumer' });
      const d = await user({ sub: uniq('d'), name: 'Marker' }); // drops after a and never returns
      for (const c of [obs, a, d]) await c.ok({ type: 'join', room });
      await obs.next(isPresence(room, d.user.id, 'joined'));
      const from = obs.log.length;
      const resumeTok = a.helloReply.resume;
      const session = a.helloReply.session;
      await (how === 'drop' ? a.drop() : a.close());
      await d.drop();
      const [a2, r] = await reconnect(a.token, resumeTok);
      assert.equal(r.resumed, true, JSON.stringify(r));
      assert.equal(r.user.id, a.user.id);
      assert.equal(typeof r.resume, 'string');
      assert.notEqual(r.resume, resumeTok, 'a fresh resume token');
      assert.equal(typeof r.session, 'string');
      void session;
      // rooms kept: chat works without a join, and the observer gets it
      const c = await a2.ok({ type: 'chat', room, text: 'back again' });
      assert.equal(typeof c.seq, 'number');
      await obs.next(isChat(room, 'back again'));
      const mem = await a2.ok({ type: 'members', room });
      assert.ok(mem.members.some((x) => x.id === a.user.id));
      // d dropped after a and is gone past the grace period: its `left` is the
      // marker; a's `left` would have come before it.
      const left = await obs.nextWithout(isPresence(room, d.user.id, 'left'), (m) => m.type === 'presence' && m.user?.id === a.user.id, {
        from,
        timeoutMs: GRACE + ms(4000),
        what: "the dropped marker user's left",
      });
      assert.equal(left.user.name, 'Marker');
      // and after all that a is still a member
      assert.ok((await obs.ok({ type: 'members', room })).members.some((x) => x.id === a.user.id));
      await a2.ok({ type: 'chat', room, text: 'still here' });
    });
  }

  test('after grace: resumed false, others saw left, rooms not kept', async () => {
    const room = `lounge:${uniq('gone')}`;
    const obs = await user();
    const a = await user({ sub: uniq('late'), name: 'Late' });
    await obs.ok({ type: 'join', room });
    await a.ok({ type: 'join', room });
    const resumeTok = a.helloReply.resume;
    const t0 = Date.now();
    await a.drop();
    const left = await obs.next(isPresence(room, a.user.id, 'left'), GRACE + ms(4000), 'left after the grace period');
    assert.ok(Date.now() - t0 >= GRACE - 200, `left came ${Date.now() - t0} ms after the drop, before the grace period ended`);
    assert.equal(left.user.name, 'Late');
    const [a2, r] = await reconnect(a.token, resumeTok);
    assert.equal(r.resumed, false);
    await a2.fail({ type: 'chat', room, text: 'am I in?' }, 'forbidden');
    assert.equal((await obs.ok({ type: 'members', room })).count, 1);
    const j = await a2.ok({ type: 'join', room });
    assert.equal(j.count, 2);
    await obs.next(isPresence(room, a.user.id, 'joined'));
  });

  test('an unknown resume token is not an error: resumed false', async () => {
    for (const resume of ['garbage', '', 'x'.repeat(300)]) {
      const [c, r] = await reconnect(token({}), resume);
      assert.equal(r.resumed, false);
      await c.ok({ type: 'ping' });
    }
  });

  test("a resume token is honoured only for the same user and event", async () => {
    const room = `lounge:${uniq('own')}`;
    const a = await user({ sub: uniq('own'), event: 'ev1' });
    await a.ok({ type: 'join', room });
    const resumeTok = a.helloReply.resume;
    await a.drop();
    const [other, r1] = await reconnect(token({ sub: uniq('thief'), event: 'ev1' }), resumeTok);
    assert.equal(r1.resumed, false, 'another user');
    await other.fail({ type: 'chat', room, text: 'x' }, 'forbidden');
    const [otherEv, r2] = await reconnect(token({ sub: a.user.id, event: 'ev2' }), resumeTok);
    assert.equal(r2.resumed, false, 'the same sub in another event');
    await otherEv.fail({ type: 'chat', room, text: 'x' }, 'forbidden');
    // the rightful owner can still resume (refused attempts do not consume the token)
    const [back, r3] = await reconnect(a.token, resumeTok);
    assert.equal(r3.resumed, true);
    await back.ok({ type: 'chat', room, text: 'mine' });
  });

  test('each hello issues a fresh resume token; the previous one stops working', async () => {
    const room = `lounge:${uniq('fresh')}`;
    const a = await user({ sub: uniq('fr') });
    await a.ok({ type: 'join', room });
    const first = a.helloReply.resume;
    await a.drop();
    const [a2, r] = await reconnect(a.token, first);
    assert.equal(r.resumed, true);
    await a2.drop();
    const [a3, r2] = await reconnect(a.token, first);
    assert.equal(r2.resumed, false, 'the old resume token no longer works');
    await a3.close();
    const [a4, r3] = await reconnect(a.token, r.resume);
    assert.equal(r3.resumed, true, 'the newest one does');
    await a4.ok({ type: 'chat', room, text: 'ok' });
  });

  test('resuming while the old connection is still open closes the old one with 1000', async () => {
    const room = `lounge:${uniq('dup')}`;
    const obs = await user();
    const a = await user({ sub: uniq('dup') });
    await obs.ok({ type: 'join', room });
    await a.ok({ type: 'join', room });
    const from = obs.log.length;
    const [a2, r] = await reconnect(a.token, a.helloReply.resume);
    assert.equal(r.resumed, true);
    await a.expectClose(1000);
    await a2.ok({ type: 'chat', room, text: 'took over' });
    await obs.nextWithout(isChat(room, 'took over'), (m) => m.type === 'presence', { from });
  });
});

// Identity and authentication: the hello answer, what is refused before and
// in hello (unauthorized, then close 4001), forged, expired and malformed
// tokens, the hello timeout (4002) and a token expiring mid-connection (4001).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms, SECRET } from './lib/server.mjs';
import { connect, connectUser, assertServes } from './lib/client.mjs';
import { token, claims, sign, without, nowS, b64url } from './lib/jwt.mjs';

describe('hello', () => {
  let srv;
  let other; // an authenticated bystander who must keep being served
  before(async () => {
    // the bystander answers a ping after every case: a rate above the default burst
    srv = await startServer({ args: ['--rate', '1000', '--burst', '1000'] });
    other = await connectUser(srv, { sub: 'bystander-1' });
  });
  after(async () => {
    await other?.close();
    await srv?.stopClean();
  });

  test('hello -> ok with session, resume, resumed, user, event, node, server_time, heartbeat_ms', async () => {
    const c = await connect(srv);
    const tok = token({ sub: 'alice', name: 'Alice Liddell', role: 'host', event: 'conf-2026' });
    const t0 = Date.now();
    const r = await c.ok({ type: 'hello', id: 1, token: tok });
    const t1 = Date.now();
    assert.equal(r.type, 'ok');
    assert.equal(r.re, 1);
    assert.equal(typeof r.session, 'string');
    assert.ok(r.session.length > 0);
    assert.equal(typeof r.resume, 'string');
    assert.ok(r.resume.length > 0);
    assert.equal(r.resumed, false);
    assert.deepEqual(r.user, { id: 'alice', name: 'Alice Liddell', role: 'host' });
    assert.equal(r.event, 'conf-2026');
    assert.equal(r.node, srv.node);
    assert.ok(Number.isInteger(r.server_time) && r.server_time >= t0 - 1000 && r.server_time <= t1 + 1000, `server_time ${r.server_time}`);
    assert.equal(r.heartbeat_ms, 25000);
    await c.close();
  });

  test('hello with a string id echoes it in re; every role is accepted', async () => {
    for (const role of ['attendee', 'host', 'exhibitor', 'admin']) {
      const c = await connect(srv);
      const r = await c.ok({ type: 'hello', id: `h-${role}`, token: token({ role, booth: role === 'exhibitor' ? 'acme' : undefined }) });
      assert.equal(r.re, `h-${role}`);
      assert.equal(r.user.role, role);
      await c.close();
    }
  });

  test('a token within the 30 s exp leeway is accepted', async () => {
    const c = await connect(srv);
    await c.hello(token({ exp: nowS() - 10 }));
    await c.ok({ type: 'ping' });
    await c.close();
  });

  test('a second hello on an authenticated connection is conflict, and the connection stays', async () => {
    const c = await connectUser(srv);
    await c.fail({ type: 'hello', token: token({}) }, 'conflict');
    await c.fail({ type: 'hello', token: 'garbage' }, 'conflict');
    await c.ok({ type: 'ping' });
    await c.close();
    await assertServes(srv, [other]);
  });

  // Anything but a valid hello first: error unauthorized, then close 4001.
  const firsts = {
    'another verb (ping) with an id': { send: { type: 'ping', id: 7 }, re: 7 },
    'another verb (join) with a string id': { send: { type: 'join', id: 'j', room: 'lounge:main' }, re: 'j' },
    'a verb without an id': { send: { type: 'chat', room: 'lounge:main', text: 'hi' } },
    'an unknown type': { send: { type: 'nonsense', id: 3 }, re: 3 },
    'a message without type': { send: { id: 4 }, re: 4 },
    'invalid JSON': { send: '{"type":"hello",' },
    'a JSON array': { send: '[1,2,3]' },
    'a JSON string': { send: '"hello"' },
    'an empty text message': { send: '' },
    'a binary message': { send: Buffer.from(JSON.stringify({ type: 'hello', id: 1, token: 'x' })), binary: true },
    'hello without a token': { send: { type: 'hello', id: 5 }, re: 5 },
    'hello with a numeric token': { send: { type: 'hello', id: 6, token: 12345 }, re: 6 },
    'hello with an empty token': { send: { type: 'hello', id: 8, token: '' }, re: 8 },
  };
  for (const [what, { send, re, binary }] of Object.entries(firsts)) {
    test(`before hello, ${what} -> unauthorized, then close 4001`, async () => {
      const c = await connect(srv);
      c.send(send, binary ? { binary: true } : undefined);
      await c.expectErrorThenClose('unauthorized', 4001, { re });
      await assertServes(srv, [other]);
    });
  }

  // Tokens that must be refused: error unauthorized (re 1), then close 4001.
  const good = () => claims({ sub: 'mallory' });
  const refused = {
    'a bad signature (another secret)': () => token({}, { secret: 'not-the-secret' }),
    'a tampered payload': () => {
      const [h, , s] = token({ sub: 'mallory', role: 'attendee' }).split('.');
      return `${h}.${b64url({ ...good(), role: 'admin' })}.${s}`;
    },
    'alg none and no signature': () => sign(good(), { header: { alg: 'none', typ: 'JWT' }, signature: '' }),
    'alg none and an HS256 signature': () => {
      const t = sign(good());
      const [, p, s] = t.split('.');
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.${s}`;
    },
    'alg "None"': () => sign(good(), { header: { alg: 'None' }, signature: '' }),
    'alg HS512 (signed with the secret)': () => sign(good(), { header: { alg: 'HS512', typ: 'JWT' }, hmac: 'sha512' }),
    'alg HS384 (signed with the secret)': () => sign(good(), { header: { alg: 'HS384', typ: 'JWT' }, hmac: 'sha384' }),
    'alg RS256 (HMAC-signed with the secret)': () => sign(good(), { header: { alg: 'RS256', typ: 'JWT' } }),
    'a header without alg': () => sign(good(), { header: { typ: 'JWT' } }),
    'an expired token (exp 60 s ago)': () => token({ exp: nowS() - 60 }),
    'an expired token (exp one day ago)': () => token({ exp: nowS() - 86400 }),
    'no sub claim': () => sign(without(good(), 'sub')),
    'no name claim': () => sign(without(good(), 'name')),
    'no role claim': () => sign(without(good(), 'role')),
    'no event claim': () => sign(without(good(), 'event')),
    'no exp claim': () => sign(without(good(), 'exp')),
    'an unknown role': () => token({ role: 'superuser' }),
    'exp given as a string': () => token({ exp: String(nowS() + 3600) }),
    'sub given as a number': () => token({ sub: 42 }),
    'a sub with a space (bad id)': () => token({ sub: 'bad id' }),
    'a sub of 65 characters (bad id)': () => token({ sub: 'a'.repeat(65) }),
    'an empty sub': () => token({ sub: '' }),
    'an event with a slash (bad id)': () => token({ event: 'ev/1' }),
    'an event with a colon (bad id)': () => token({ event: 'ev:1' }),
    'a non-ASCII event (bad id)': () => token({ event: 'événement' }),
    'an empty name': () => token({ name: '' }),
    'claims that are not an object': () => sign([1, 2, 3]),
    'a header that is not JSON': () => {
      const [, p, sig] = sign(good()).split('.');
      return `${b64url('not json')}.${p}.${sig}`;
    },
    'a token of two parts': () => token({}).split('.').slice(0, 2).join('.'),
    'a token of four parts': () => token({}) + '.xyz',
    'a string that is not a JWT': () => 'definitely-not-a-token',
    'a signature that is not base64url': () => token({}).replace(/\.[^.]*$/, '.!!!!'),
  };
  for (const [what, make] of Object.entries(refused)) {
    test(`hello with ${what} is refused: unauthorized, then close 4001`, async () => {
      const c = await connect(srv);
      c.send({ type: 'hello', id: 1, token: make() });
      await c.expectErrorThenClose('unauthorized', 4001, { re: 1 });
      await assertServes(srv, [other]);
    });
  }

  test('the jwt helper itself makes tokens the server accepts (control for the refusals)', async () => {
    const c = await connect(srv);
    const r = await c.hello(sign(good()));
    assert.equal(r.user.id, 'mallory');
    await c.close();
    assert.equal(SECRET, 'test-secret');
  });
});

describe('hello timeout', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--hello-timeout-ms', '500'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('no hello within --hello-timeout-ms closes with 4002; a client that said hello stays', async () => {
    const good = await connect(srv);
    await good.hello({});
    const t0 = Date.now();
    const idle = await connect(srv);
    await idle.expectClose(4002, ms(5000));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before the 500 ms timeout`);
    assert.deepEqual(idle.log, [], 'nothing but the close');
    // The one that said hello before the idle one connected is past its own timeout and still served.
    await good.ok({ type: 'ping' });
    await good.close();
    await assertServes(srv);
  });

  test('a connection that sent only a partial message before the timeout still gets 4002', async () => {
    const c = await connect(srv);
    c.send(Buffer.from('{"type":"hel'), { binary: false, fin: false });
    await c.expectClose(4002, ms(5000));
    await assertServes(srv);
  });
});

describe('token expiring during the connection', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('unauthorized (no re), then close 4001 once exp + 30 s leeway passes', async () => {
    const other = await connectUser(srv, { sub: 'stays' });
    await other.ok({ type: 'join', room: 'lounge:exp' });
    // exp + 30 s leeway lands 1-2 s from now: accepted now, expired soon.
    const exp = Math.ceil(Date.now() / 1000) - 29;
    const c = await connect(srv);
    await c.hello(token({ sub: 'expiring', exp }));
    await c.ok({ type: 'join', room: 'lounge:exp' });
    await c.ok({ type: 'ping' });
    await c.expectErrorThenClose('unauthorized', 4001, { timeoutMs: ms(6000) });
    assert.ok(Date.now() / 1000 >= exp + 30 - 0.5, 'not closed before the token expired');
    // a close for cause ends the session at once (no 30 s grace period): left now
    await other.next((m) => m.type === 'presence' && m.user?.id === 'expiring' && m.state === 'left', ms(5000), 'left of the expired user');
    await assertServes(srv, [other]);
    await other.close();
  });
});

// The envelope after hello: every bad message gets exactly one `error`
// `bad_request` (with `re` when it had a usable id, without otherwise) and the
// connection stays open; the server keeps serving others.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connectUser, assertServes } from './lib/client.mjs';

describe('envelope', () => {
  let srv;
  let c; // the sender of bad messages, reused: it must stay open throughout
  let other;
  before(async () => {
    // A generous rate so that the many bad messages of this file are not rate_limited.
    srv = await startServer({ args: ['--rate', '1000', '--burst', '1000'] });
    c = await connectUser(srv, { sub: 'sender' });
    other = await connectUser(srv, { sub: 'other' });
  });
  after(async () => {
    await c?.close();
    await other?.close();
    await srv?.stopClean();
  });

  /** Send raw, expect one error bad_request; `re` as given (undefined: none). */
  async function expectBadRequest(raw, re, opts) {
    const mark = `after-${Math.random().toString(36).slice(2)}`;
    const from = c.log.length;
    c.send(raw, opts);
    // A ping right behind it: its ok must come after exactly one error.
    c.send({ type: 'ping', id: mark });
    const pong = await c.next((m) => m.re === mark, undefined, `the ping behind ${String(raw).slice(0, 80)}`);
    assert.equal(pong.type, 'ok');
    const replies = c.log.slice(from, c.log.indexOf(pong)).filter((m) => m.type === 'ok' || m.type === 'error');
    assert.equal(replies.length, 1, `exactly one answer to ${String(raw).slice(0, 80)}: ${JSON.stringify(replies)}`);
    const e = replies[0];
    assert.equal(e.type, 'error', JSON.stringify(e));
    assert.equal(e.code, 'bad_request', JSON.stringify(e));
    assert.equal(typeof e.message, 'string');
    if (re === undefined) assert.equal('re' in e, false, `no re expected: ${JSON.stringify(e)}`);
    else assert.deepEqual(e.re, re);
    // consume it from the queue so later waits start clean
    c.queue.splice(c.queue.indexOf(e), 1);
    assert.equal(c.open, true);
  }

  const cases = [
    ['invalid JSON', '{"type":"ping",', undefined],
    ['invalid JSON (trailing garbage)', '{"type":"ping","id":1} x', undefined],
    ['not JSON at all', 'hello there', undefined],
    ['a JSON array', '[{"type":"ping","id":1}]', undefined],
    ['a JSON number', '42', undefined],
    ['a JSON string', '"ping"', undefined],
    ['JSON null', 'null', undefined],
    ['JSON true', 'true', undefined],
    ['an empty message', '', undefined],
    ['an object without type', '{"id":11}', 11],
    ['an object without type nor id', '{}', undefined],
    ['an unknown type', '{"type":"teleport","id":12}', 12],
    ['an unknown type without id', '{"type":"teleport"}', undefined],
    ['a type that is a number', '{"type":5,"id":13}', 13],
    ['a type that is null', '{"type":null,"id":14}', 14],
    ['a type that is an object', '{"type":{"x":1},"id":15}', 15],
    ['an empty type', '{"type":"","id":16}', 16],
    ['a type in the wrong case', '{"type":"PING","id":17}', 17],
    ['an id that is an object', '{"type":"ping","id":{"a":1}}', undefined],
    ['an id that is an array', '{"type":"ping","id":[1]}', undefined],
    ['an id that is a boolean', '{"type":"ping","id":true}', undefined],
    ['an id string over 256 bytes', JSON.stringify({ type: 'ping', id: 'i'.repeat(257) }), undefined],
    // (whether a duplicate-key message's id is usable is not specified: test without one)
    ['duplicate keys', '{"type":"ping","type":"join"}', undefined],
    ['join without room', '{"type":"join","id":19}', 19],
    ['join with a numeric room', '{"type":"join","id":20,"room":7}', 20],
    ['join with a null room', '{"type":"join","id":21,"room":null}', 21],
    ['leave without room', '{"type":"leave","id":22}', 22],
    ['status without status', '{"type":"status","id":23}', 23],
    ['status with a number', '{"type":"status","id":24,"status":1}', 24],
    ['status with an unknown value', '{"type":"status","id":25,"status":"sleeping"}', 25],
    ['status in the wrong case', '{"type":"status","id":26,"status":"Busy"}', 26],
    ['chat without room', '{"type":"chat","id":27,"text":"hi"}', 27],
    ['chat without text', '{"type":"chat","id":28,"room":"lounge:main"}', 28],
    ['chat with a numeric text', '{"type":"chat","id":29,"room":"lounge:main","text":5}', 29],
    ['chat with a numeric room', '{"type":"chat","id":30,"room":5,"text":"hi"}', 30],
    ['members without room', '{"type":"members","id":31}', 31],
  ];
  for (const [what, raw, re] of cases) {
    test(`${what} -> bad_request${re === undefined ? ' without re' : ' with re'}, connection stays open`, async () => {
      await expectBadRequest(raw, re);
      await assertServes(srv, [other]);
    });
  }

  test('a binary message -> bad_request without re, connection stays open', async () => {
    await expectBadRequest(Buffer.from('{"type":"ping","id":1}'), undefined, { binary: true });
    await assertServes(srv, [other]);
  });

  test('ids: a number and a string are echoed as given; null counts as no id', async () => {
    assert.equal((await c.ok({ type: 'ping', id: 0 })).re, 0);
    assert.equal((await c.ok({ type: 'ping', id: -5 })).re, -5);
    assert.equal((await c.ok({ type: 'ping', id: 1.5 })).re, 1.5);
    assert.equal((await c.ok({ type: 'ping', id: '' })).re, '');
    assert.equal((await c.ok({ type: 'ping', id: 'x'.repeat(256) })).re, 'x'.repeat(256));
    const from = c.log.length;
    c.send('{"type":"ping","id":null}');
    c.send({ type: 'ping', id: 'after-null' });
    const pong = await c.next((m) => m.re === 'after-null');
    const before = c.log.slice(from, c.log.indexOf(pong));
    assert.equal(before.length, 1, JSON.stringify(before));
    assert.equal(before[0].type, 'ok');
    assert.equal('re' in before[0], false);
    c.queue.splice(c.queue.indexOf(before[0]), 1);
  });

  test('the error reply to a verb the contract names carries re and the same shape', async () => {
    const r = await c.fail({ type: 'leave', room: 'lounge:never-joined' }, 'not_found');
    assert.deepEqual(Object.keys(r).sort(), ['code', 'message', 're', 'type']);
  });
});

// Booths and moderation (issue 6) against the real binary: queue order and
// positions, two staff sharing one queue, a visitor dropping past the grace
// period, meet rooms and signalling, lead consent and the leads API (JSON,
// CSV, right and wrong tokens), announce, kick, block, chat.delete, and the
// role checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ms } from './lib/server.mjs';
import { connect, connectUser, closeAll } from './lib/client.mjs';
import { httpGet } from './lib/raw.mjs';
import { token } from './lib/jwt.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--grace-ms', '600'] });
});
after(async () => {
  await srv.stopClean();
});

const staff = (sub, booth = 'acme', over = {}) => ({ sub, name: `Staff ${sub}`, role: 'exhibitor', booth, event: 'fair', ...over });
const visitor = (sub, over = {}) => ({ sub, name: `Visitor ${sub}`, event: 'fair', ...over });

test('queue order, positions, two staff sharing one queue, meet rooms and signal', async () => {
  const s1 = await connectUser(srv, staff('q-s1'));
  const s2 = await connectUser(srv, staff('q-s2'));
  const v = [];
  for (const n of ['q-v1', 'q-v2', 'q-v3', 'q-v4']) v.push(await connectUser(srv, visitor(n)));
  await s1.fail({ type: 'booth.next', booth: 'acme' }, 'not_found');
  for (let i = 0; i < 4; i++) {
    const r = await v[i].ok({ type: 'booth.queue', booth: 'acme' });
    assert.equal(r.position, i + 1);
    assert.equal(r.booth, 'acme');
    assert.equal(r.wait_s, null); // no finished meeting to estimate from yet
  }
  // Queueing again keeps the place.
  assert.equal((await v[1].ok({ type: 'booth.queue', booth: 'acme' })).position, 2);
  // v2 leaves: those behind move up.
  await v[1].ok({ type: 'booth.unqueue', booth: 'acme' });
  assert.deepEqual(await v[2].next('booth.position'), { type: 'booth.position', booth: 'acme', position: 2, wait_s: null });
  assert.equal((await v[3].next('booth.position')).position, 3);
  await v[1].fail({ type: 'booth.unqueue', booth: 'acme' }, 'not_found');

  // First come, first served across both staff.
  const n1 = await s1.ok({ type: 'booth.next', booth: 'acme' });
  assert.equal(n1.with.id, 'q-v1');
  assert.match(n1.room, /^meet:/);
  const m1 = await v[0].next('booth.meet');
  assert.deepEqual(m1, { type: 'booth.meet', booth: 'acme', room: n1.room, with: { id: 'q-s1', name: 'Staff q-s1', headline: null } });
  const n2 = await s2.ok({ type: 'booth.next', booth: 'acme' });
  assert.equal(n2.with.id, 'q-v3');
  assert.notEqual(n2.room, n1.room);
  assert.equal((await v[3].next((m) => m.type === 'booth.position' && m.position === 1)).position, 1);

  // Signal inside the meet room, both ways; refused to anyone else.
  await v[0].ok({ type: 'signal', to: 'q-s1', room: n1.room, data: { sdp: 'offer' } });
  assert.deepEqual(await s1.next('signal'), { type: 'signal', from: 'q-v1', room: n1.room, data: { sdp: 'offer' } });
  await s1.ok({ type: 'signal', to: 'q-v1', room: n1.room, data: { sdp: 'answer' } });
  assert.equal((await v[0].next('signal')).data.sdp, 'answer');
  await v[2].fail({ type: 'signal', to: 'q-s1', room: n1.room, data: {} }, 'forbidden');
  await v[0].fail({ type: 'signal', to: 'q-s2', room: n1.room, data: {} }, 'forbidden');
  await v[2].fail({ type: 'join', room: n1.room }, 'forbidden');
  await v[0].ok({ type: 'join', room: n1.room }); // its own meet room: ok again

  // Either side leaving ends the meeting for both.
  await v[0].ok({ type: 'leave', room: n1.room });
  assert.deepEqual(await s1.next('booth.end'), { type: 'booth.end', booth: 'acme', room: n1.room });
  await s1.fail({ type: 'signal', to: 'q-v1', room: n1.room, data: {} }, 'forbidden');
  await closeAll([s1, s2, ...v]);
});

test('a visitor gone past the grace period leaves the queue; one within it keeps its place', async () => {
  const s = await connectUser(srv, staff('g-s', 'gbooth'));
  const a = await connectUser(srv, visitor('g-a'));
  const b = await connectUser(srv, visitor('g-b'));
  await a.ok({ type: 'booth.queue', booth: 'gbooth' });
  await b.ok({ type: 'booth.queue', booth: 'gbooth' });
  await a.drop();
  // Past the grace period (600 ms) b moves to the front.
  const p = await b.next('booth.position', ms(5000));
  assert.equal(p.position, 1);
  const n = await s.ok({ type: 'booth.next', booth: 'gbooth' });
  assert.equal(n.with.id, 'g-b');
  await s.fail({ type: 'booth.next', booth: 'gbooth' }, 'not_found');
  await closeAll([s, b]);
});

test('leads only with consent; the leads API answers JSON and CSV to staff and admins only', async () => {
  const s = await connectUser(srv, staff('l-s', 'leadco'));
  const v = await connectUser(srv, visitor('l-v', { email: 'v@example.com', company: 'Initech', title: 'CTO', headline: 'Builds things' }));
  const quiet = await connectUser(srv, visitor('l-q'));
  await quiet.ok({ type: 'booth.queue', booth: 'leadco' });
  await v.ok({ type: 'booth.queue', booth: 'leadco' });
  await s.ok({ type: 'booth.next', booth: 'leadco' }); // meets quiet, who never consents
  const staffToken = token(staff('l-s', 'leadco'));
  let r = await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${staffToken}` } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.leads, []);

  await v.fail({ type: 'booth.lead', booth: 'leadco' }, 'bad_request'); // consent is required
  await v.ok({ type: 'booth.lead', booth: 'leadco', consent: true });
  const ev = await s.next('booth.lead');
  assert.equal(ev.booth, 'leadco');
  assert.equal(ev.lead.id, 'l-v');
  assert.equal(ev.lead.email, 'v@example.com');
  assert.equal(ev.lead.url, null);

  r = await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${staffToken}` } });
  assert.equal(r.status, 200);
  assert.equal(r.json.booth, 'leadco');
  assert.equal(r.json.leads.length, 1);
  const lead = r.json.leads[0];
  for (const k of ['id', 'name', 'headline', 'email', 'company', 'title', 'url', 'at', 'meeting_s']) assert.ok(k in lead, `lead has ${k}`);
  assert.equal(lead.company, 'Initech');
  assert.equal(lead.url, null);
  assert.equal(typeof lead.at, 'number');
  assert.equal(r.json.stats.visits, 1);

  r = await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${staffToken}`, accept: 'text/csv' } });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/csv/);
  const lines = r.body.trim().split('\r\n');
  assert.equal(lines[0], 'id,name,headline,email,company,title,url,at,meeting_s');
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^l-v,Visitor l-v,Builds things,v@example.com,Initech,CTO,,\d+,/);

  // Wrong or missing tokens.
  assert.equal((await httpGet(srv, '/api/booths/leadco/leads')).status, 401);
  assert.equal((await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: 'Bearer nonsense' } })).status, 401);
  assert.equal((await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${token(staff('x', 'otherco'))}` } })).status, 403);
  assert.equal((await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${token(visitor('x', { role: 'host' }))}` } })).status, 403);
  const admin = await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${token(visitor('x', { role: 'admin' }))}` } });
  assert.equal(admin.status, 200);
  assert.equal(admin.json.leads.length, 1);
  const stats = await httpGet(srv, '/api/booths/leadco/stats', { headers: { authorization: `Bearer ${staffToken}` } });
  assert.equal(stats.status, 200);
  assert.equal(stats.json.visits, 1);
  assert.equal(stats.json.queued, 1);

  // Withdrawing consent removes the lead.
  await v.ok({ type: 'booth.lead', booth: 'leadco', consent: false });
  r = await httpGet(srv, '/api/booths/leadco/leads', { headers: { authorization: `Bearer ${staffToken}` } });
  assert.deepEqual(r.json.leads, []);
  await closeAll([s, v, quiet]);
});

test('role checks: attendees cannot use host or staff verbs', async () => {
  const a = await connectUser(srv, visitor('r-a'));
  const wrongBooth = await connectUser(srv, staff('r-s', 'elsewhere'));
  await a.fail({ type: 'announce', text: 'hi' }, 'forbidden');
  await a.fail({ type: 'kick', user: 'r-s' }, 'forbidden');
  await a.fail({ type: 'chat.delete', room: 'lounge:x', seq: 1 }, 'forbidden');
  await a.fail({ type: 'booth.next', booth: 'acme' }, 'forbidden');
  await wrongBooth.fail({ type: 'booth.next', booth: 'acme' }, 'forbidden');
  await wrongBooth.fail({ type: 'booth.queue', booth: 'elsewhere' }, 'conflict');
  await a.fail({ type: 'booth.queue', booth: 'bad booth' }, 'bad_request');
  await a.fail({ type: 'booth.queue' }, 'bad_request');
  await closeAll([a, wrongBooth]);
});

test('announce reaches every member of the event and nobody else', async () => {
  const host = await connectUser(srv, { sub: 'an-h', name: 'Host', role: 'host', event: 'ann' });
  const a = await connectUser(srv, { sub: 'an-a', event: 'ann' });
  const other = await connectUser(srv, { sub: 'an-o', event: 'ann2' });
  await host.fail({ type: 'announce', text: '' }, 'bad_request');
  await host.fail({ type: 'announce', text: 'x'.repeat(2001) }, 'too_large');
  await host.ok({ type: 'announce', text: 'Keynote in 5 minutes' });
  const ev = await a.next('announcement');
  assert.equal(ev.text, 'Keynote in 5 minutes');
  assert.deepEqual(ev.from, { id: 'an-h', name: 'Host' });
  assert.equal(typeof ev.ts, 'number');
  // The other event hears nothing: its own marker arrives with no announcement before it.
  await other.ok({ type: 'ping' });
  assert.equal(other.indexOf((m) => m.type === 'announcement'), -1);
  await closeAll([host, a, other]);
});

test('kick closes every session of the user with 1008 and refuses its tokens', async () => {
  const host = await connectUser(srv, { sub: 'k-h', role: 'host', event: 'kk' });
  const t1 = await connectUser(srv, { sub: 'k-bad', event: 'kk' });
  const t2 = await connectUser(srv, { sub: 'k-bad', event: 'kk' });
  await host.fail({ type: 'kick', user: 'k-h' }, 'bad_request');
  await host.fail({ type: 'kick' }, 'bad_request');
  const r = await host.ok({ type: 'kick', user: 'k-bad', reason: 'spam' });
  assert.equal(r.sessions, 2);
  assert.equal((await t1.next('kicked')).message, 'spam');
  await t1.expectClose(1008);
  await t2.expectClose(1008);
  // A reconnect with a fresh token is refused: unauthorized, then 4001.
  const again = await connect(srv);
  again.send({ type: 'hello', id: 1, token: token({ sub: 'k-bad', event: 'kk' }) });
  await again.expectErrorThenClose('unauthorized', 4001, { re: 1 });
  // The same user id in another event is not affected.
  const elsewhere = await connectUser(srv, { sub: 'k-bad', event: 'kk-other' });
  await closeAll([host, elsewhere]);
});

test('block: the blocked user\'s chat and signals no longer reach the blocker', async () => {
  const a = await connectUser(srv, { sub: 'b-a', event: 'bl' });
  const b = await connectUser(srv, { sub: 'b-b', event: 'bl' });
  const c = await connectUser(srv, { sub: 'b-c', event: 'bl' });
  for (const x of [a, b, c]) await x.ok({ type: 'join', room: 'lounge:bl' });
  await a.fail({ type: 'block', user: 'b-a' }, 'bad_request');
  await a.ok({ type: 'block', user: 'b-b' });
  const from = a.log.length;
  await b.ok({ type: 'chat', room: 'lounge:bl', text: 'from the blocked' });
  assert.equal((await c.next('chat')).text, 'from the blocked'); // others still hear it
  await c.ok({ type: 'chat', room: 'lounge:bl', text: 'marker' });
  await a.nextWithout((m) => m.type === 'chat' && m.text === 'marker', (m) => m.type === 'chat' && m.from.id === 'b-b', { from, what: 'the marker chat' });
  await a.ok({ type: 'unblock', user: 'b-b' });
  await a.fail({ type: 'unblock', user: 'b-b' }, 'not_found');
  await b.ok({ type: 'chat', room: 'lounge:bl', text: 'heard again' });
  assert.equal((await a.next((m) => m.type === 'chat' && m.from.id === 'b-b')).text, 'heard again');
  await closeAll([a, b, c]);
});

test('chat.delete removes a message from history and tells the room', async () => {
  const host = await connectUser(srv, { sub: 'd-h', role: 'host', event: 'del' });
  const a = await connectUser(srv, { sub: 'd-a', event: 'del' });
  await a.ok({ type: 'join', room: 'lounge:d' });
  await host.ok({ type: 'join', room: 'lounge:d' });
  for (const t of ['one', 'two', 'three']) await a.ok({ type: 'chat', room: 'lounge:d', text: t });
  await host.ok({ type: 'chat.delete', room: 'lounge:d', seq: 2 });
  const ev = await a.next('chat.delete');
  assert.equal(ev.room, 'lounge:d');
  assert.equal(ev.seq, 2);
  await host.fail({ type: 'chat.delete', room: 'lounge:d', seq: 2 }, 'not_found');
  await host.fail({ type: 'chat.delete', room: 'lounge:d', seq: 'two' }, 'bad_request');
  await host.fail({ type: 'chat.delete', room: 'nowhere', seq: 1 }, 'bad_request');
  const j = await a.ok({ type: 'join', room: 'lounge:d' });
  assert.deepEqual(j.history.map((m) => [m.seq, m.text]), [[1, 'one'], [3, 'three']]);
  await closeAll([host, a]);
});

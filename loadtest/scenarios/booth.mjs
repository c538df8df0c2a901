// Booth queue benchmark driver (issue 6): one booth, V visitors and two
// staff. Run against one node (--a PORT) or two nodes of one event (--a
// and --b: visitors alternate between them, one staff member on each).
//   queue:  every visitor sends booth.queue, 20 in flight; reply latency.
//   drain:  both staff send booth.next in a loop until not_found; reply
//           latency, visitors taken per second, and how long after the
//           last booth.next reply the last booth.position arrived.
// Prints one JSON object. Stops by itself (every wait has a deadline).
import WebSocket from 'ws';
import { sign } from '../../tests/integration/lib/jwt.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 ? acc : [...acc, [a[i].replace(/^--/, ''), a[i + 1]]]), []));
const V = Number(args.visitors || 400);
const EV = `boothbench${Date.now()}`;
const ports = [args.a, args.b].filter(Boolean).map(Number);
const DEADLINE_MS = 120000;
const t00 = performance.now();
const timer = setTimeout(() => {
  console.error('booth bench: deadline passed');
  process.exit(2);
}, DEADLINE_MS);

function quantiles(xs) {
  const s = [...xs].sort((p, q) => p - q);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  const r = (x) => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1]) };
}

async function client(port, claims) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'icebreaker.v1', { perMessageDeflate: false });
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });
  const waiting = new Map();
  const c = { positions: 0, lastPosition: 0 };
  let next = 1;
  ws.on('message', (d) => {
    const m = JSON.parse(d);
    if ((m.type === 'ok' || m.type === 'error') && waiting.has(m.re)) {
      waiting.get(m.re)(m);
      waiting.delete(m.re);
    } else if (m.type === 'booth.position') {
      c.positions++;
      c.lastPosition = performance.now();
    }
  });
  c.request = (type, body = {}) =>
    new Promise((res) => {
      const id = next++;
      waiting.set(id, res);
      ws.send(JSON.stringify({ type, id, ...body }));
    });
  c.close = () => ws.close();
  const tok = sign({ name: claims.sub, role: 'attendee', event: EV, exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, { secret: args.secret });
  const h = await c.request('hello', { token: tok });
  if (h.type !== 'ok') throw new Error(`hello: ${JSON.stringify(h)}`);
  return c;
}

const booth = 'benchco';
const visitors = [];
for (let i = 0; i < V; i++) visitors.push(await client(ports[i % ports.length], { sub: `v${i}` }));
const staff = [await client(ports[0], { sub: 's0', role: 'exhibitor', booth }), await client(ports[ports.length - 1], { sub: 's1', role: 'exhibitor', booth })];

// queue, 20 in flight, in visitor order
const queueLat = [];
let at = 0;
await Promise.all(
  Array.from({ length: 20 }, async () => {
    while (at < V) {
      const v = visitors[at++];
      const t0 = performance.now();
      const r = await v.request('booth.queue', { booth });
      if (r.type !== 'ok') throw new Error(`queue: ${JSON.stringify(r)}`);
      queueLat.push(performance.now() - t0);
    }
  }),
);

// drain with both staff at once
const nextLat = [];
const taken = new Set();
let dup = 0;
const d0 = performance.now();
let lastReply = d0;
await Promise.all(
  staff.map(async (s) => {
    for (;;) {
      const t0 = performance.now();
      const r = await s.request('booth.next', { booth });
      lastReply = performance.now();
      if (r.type === 'error') {
        if (r.code !== 'not_found') throw new Error(`next: ${JSON.stringify(r)}`);
        return;
      }
      nextLat.push(lastReply - t0);
      if (taken.has(r.with.id)) dup++;
      taken.add(r.with.id);
    }
  }),
);
const drainS = (lastReply - d0) / 1000;
// Positions still in flight: wait until none arrived for 500 ms.
let settled = 0;
for (;;) {
  const before = visitors.reduce((n, v) => n + v.positions, 0);
  await new Promise((r) => setTimeout(r, 500));
  if (visitors.reduce((n, v) => n + v.positions, 0) === before) break;
  if (++settled > 100) break;
}
const lastPos = Math.max(...visitors.map((v) => v.lastPosition));
for (const c of [...visitors, ...staff]) c.close();
clearTimeout(timer);
console.log(
  JSON.stringify({
    nodes: ports.length,
    visitors: V,
    queue_ms: quantiles(queueLat),
    next_ms: quantiles(nextLat),
    taken: taken.size,
    taken_twice: dup,
    drain_per_s: Math.round(taken.size / drainS),
    positions_received: visitors.reduce((n, v) => n + v.positions, 0),
    last_position_after_drain_ms: Math.round(Math.max(0, lastPos - lastReply)),
    total_s: Math.round((performance.now() - t00) / 100) / 10,
  }),
);
process.exit(0);

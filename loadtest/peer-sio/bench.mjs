#!/usr/bin/env node
// The cluster benchmark's driver: two nodes (A and B) sharing one Redis,
// clients on both, three measurements, JSON on stdout.
//   presence: a client on A joins (then leaves) a room; latency until an
//             observer on B hears `presence` joined (left). 200 of each.
//   chat:     a sender on A, a receiver on B; 1000 messages paced at 200/s;
//             latency from send to arrival on B.
//   throughput: 10 senders on A, each keeping 20 chats in flight for 5 s;
//             10 receivers on B. Chats numbered per second (each went
//             through Redis: Lua append + publish) and deliveries per
//             second on B.
// Latencies: Date.now() on one machine, sender and receiver in this one
// process (their own event loop adds to every figure, for both servers).
//
//   node bench.mjs --kind icebreaker|sio --a PORT --b PORT [--secret S]
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { sign } from '../../tests/integration/lib/jwt.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 ? acc : [...acc, [a[i].replace(/^--/, ''), a[i + 1]]]), []));
const kind = args.kind;
const EV = `bench${Date.now()}`;

function quantiles(xs) {
  const s = [...xs].sort((p, q) => p - q);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] };
}

// A client with the same small API for both servers: request(verb, body)
// resolves the reply; on(type, fn) hears events.
async function client(port, sub) {
  const handlers = new Map();
  const emit = (type, m) => handlers.get(type)?.(m);
  if (kind === 'icebreaker') {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'icebreaker.v1', { perMessageDeflate: false });
    await new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
    });
    const waiting = new Map();
    let next = 1;
    ws.on('message', (d) => {
      const m = JSON.parse(d);
      if ((m.type === 'ok' || m.type === 'error') && waiting.has(m.re)) {
        waiting.get(m.re)(m);
        waiting.delete(m.re);
      } else emit(m.type, m);
    });
    const request = (type, body = {}) =>
      new Promise((res) => {
        const id = next++;
        waiting.set(id, res);
        ws.send(JSON.stringify({ type, id, ...body }));
      });
    const tok = sign({ sub, name: sub, role: 'attendee', event: EV, exp: Math.floor(Date.now() / 1000) + 3600 }, { secret: args.secret });
    const h = await request('hello', { token: tok });
    if (h.type !== 'ok') throw new Error(`hello: ${JSON.stringify(h)}`);
    return { request, on: (t, fn) => handlers.set(t, fn), close: () => ws.close() };
  }
  const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], auth: { sub, name: sub }, forceNew: true });
  await new Promise((res, rej) => {
    s.once('connect', res);
    s.once('connect_error', rej);
  });
  s.onAny((type, m) => emit(type, m));
  return { request: (type, body = {}) => new Promise((res) => s.emit(type, body, res)), on: (t, fn) => handlers.set(t, fn), close: () => s.close() };
}

async function presence() {
  const room = 'lounge:p';
  const obs = await client(args.b, 'observer');
  await obs.request('join', { room });
  const j = await client(args.a, 'joiner');
  const joined = [], left = [];
  for (let i = 0; i < 200; i++) {
    for (const [state, arr, verb] of [['joined', joined, 'join'], ['left', left, 'leave']]) {
      const heard = new Promise((res) => obs.on('presence', (m) => m.user.id === 'joiner' && m.state === state && res()));
      const t0 = performance.now();
      j.request(verb, { room });
      await heard;
      arr.push(performance.now() - t0);
    }
  }
  obs.close();
  j.close();
  return { joined: quantiles(joined), left: quantiles(left) };
}

async function chat() {
  const room = 'lounge:c';
  const rx = await client(args.b, 'rx');
  const tx = await client(args.a, 'tx');
  await rx.request('join', { room });
  await tx.request('join', { room });
  const sent = new Map(), lat = [];
  let done;
  const all = new Promise((res) => (done = res));
  rx.on('chat', (m) => {
    const t = sent.get(m.text);
    if (t !== undefined) {
      lat.push(performance.now() - t);
      if (lat.length === 1000) done();
    }
  });
  for (let i = 0; i < 1000; i++) {
    sent.set(`c${i}`, performance.now());
    tx.request('chat', { room, text: `c${i}` });
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 10000))]);
  rx.close();
  tx.close();
  return quantiles(lat);
}

async function throughput() {
  const room = 'lounge:t';
  const rxs = await Promise.all(Array.from({ length: 10 }, (_, i) => client(args.b, `r${i}`)));
  const txs = await Promise.all(Array.from({ length: 10 }, (_, i) => client(args.a, `s${i}`)));
  for (const c of [...rxs, ...txs]) await c.request('join', { room });
  let delivered = 0, numbered = 0, refused = 0;
  for (const r of rxs) r.on('chat', () => delivered++);
  const until = performance.now() + 5000;
  const t0 = performance.now();
  await Promise.all(
    txs.map(async (tx, k) => {
      const lane = async () => {
        let i = 0;
        while (performance.now() < until) {
          const r = await tx.request('chat', { room, text: `t${k}-${i++}` });
          if (r && (r.seq !== undefined)) numbered++;
          else refused++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, lane));
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  for (const c of [...rxs, ...txs]) c.close();
  return { seconds: +secs.toFixed(2), numbered_per_s: Math.round(numbered / secs), delivered_per_s_on_b: Math.round(delivered / secs), refused };
}

const out = { kind, presence: await presence(), chat: await chat(), throughput: await throughput() };
console.log(JSON.stringify(out));
process.exit(0);

#!/usr/bin/env node
// A smoke test of a deployment from the outside, through its load balancer,
// used by docs/OPERATIONS.md ("Two nodes behind TLS on loopback"):
//
//   node deploy/smoke.mjs URL CA_FILE TOKEN_1 TOKEN_2
//
// URL is the public WebSocket address (wss://HOST:PORT/ws); CA_FILE the
// certificate to trust for it ('-' for the system's); the tokens are two
// users of one event (icebreaker token ...). Both say hello and join
// lounge:main; the first chats and the second must receive it; then it prints
//   ready: 2 users in lounge:main on N node(s), ...
// and stays connected. Like the web client, a user who gets close 1001 (its
// node drains) reconnects through the load balancer with its resume token and
// must get the same session back. On SIGINT or SIGTERM both chat once more
// (each must receive the other's: still in the lounge) and it prints a
// summary that does not depend on which user landed on which node:
//   drains: ..., resumed: ..., chats: ..., left events: 0
// exiting 0 only if every close was a 1001 followed by a resume and nobody
// was seen leaving the lounge. Every wait has a deadline (20 s); a failure
// prints why and exits 1.
import fs from 'node:fs';
import WebSocket from 'ws';

const [url, caFile, ...tokens] = process.argv.slice(2);
if (!url || !caFile || tokens.length !== 2) {
  console.error('usage: node deploy/smoke.mjs wss://HOST:PORT/ws CA_FILE|- TOKEN_1 TOKEN_2');
  process.exit(2);
}
const ca = caFile === '-' ? undefined : fs.readFileSync(caFile);
const ROOM = 'lounge:main';
const DEADLINE_MS = 20000;

function fail(why) {
  console.log(`FAILED: ${why}`);
  process.exit(1);
}

/** One user: a WebSocket that reconnects with its resume token on 1001. */
class User {
  constructor(token) {
    this.token = token;
    this.inbox = [];
    this.waiters = [];
    this.id = 0;
    this.hello = null;
  }

  /** Connect through the load balancer, retrying refusals (503 while a node drains). */
  async connect() {
    const until = Date.now() + DEADLINE_MS;
    for (;;) {
      try {
        this.ws = await new Promise((resolve, reject) => {
          const ws = new WebSocket(url, ['icebreaker.v1'], { ca, perMessageDeflate: false });
          ws.once('open', () => resolve(ws));
          ws.once('unexpected-response', (req, res) => {
            req.destroy();
            reject(new Error(`HTTP ${res.statusCode}`));
          });
          ws.once('error', reject);
        });
        break;
      } catch (e) {
        if (Date.now() > until) fail(`cannot connect to ${url}: ${e.message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    this.ws.on('message', (d) => {
      const m = JSON.parse(d);
      if (watchLeft && m.type === 'presence' && m.state === 'left') stats.left++;
      this.inbox.push(m);
      this.pump();
    });
    this.ws.on('close', (code) => this.onClose(code));
  }

  pump() {
    for (const w of [...this.waiters]) {
      const i = this.inbox.findIndex(w.pred);
      if (i < 0) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(this.inbox.splice(i, 1)[0]);
    }
  }

  next(pred, what) {
    return new Promise((resolve) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => fail(`${this.name ?? 'a user'}: no ${what} within ${DEADLINE_MS} ms`), DEADLINE_MS);
      this.waiters.push(w);
      this.pump();
    });
  }

  async request(msg) {
    const id = ++this.id;
    this.ws.send(JSON.stringify({ ...msg, id }));
    const r = await this.next((m) => m.re === id, `answer to ${msg.type}`);
    if (r.type !== 'ok') fail(`${msg.type}: ${JSON.stringify(r)}`);
    return r;
  }

  async sayHello() {
    const before = this.hello;
    this.hello = await this.request({ type: 'hello', token: this.token, ...(before ? { resume: before.resume } : {}) });
    this.name = this.hello.user.id;
    return before;
  }

  /** Closed by the server: a draining node's 1001 is followed by a resume. */
  onClose(code) {
    if (stopping) return;
    if (code !== 1001) fail(`${this.name}: closed with ${code}, expected 1001 (a draining node)`);
    const from = this.hello.node;
    stats.drains[from] = (stats.drains[from] ?? 0) + 1;
    this.busy = (async () => {
      await this.connect();
      const before = await this.sayHello();
      if (!this.hello.resumed || this.hello.session !== before.session) fail(`${this.name}: not resumed: ${JSON.stringify(this.hello)}`);
      stats.resumed++;
      if (this.hello.node !== from) stats.otherNode++;
    })();
  }
}

const users = tokens.map((t) => new User(t));
const [a, b] = users;
const stats = { drains: {}, resumed: 0, otherNode: 0, left: 0 };
let seq = 0;
let stopping = false;
let watchLeft = false;

/** `from` chats; `to` must receive it with the next sequence number. */
async function chat(from, to, text) {
  const ok = await from.request({ type: 'chat', room: ROOM, text });
  if (ok.seq !== seq + 1) fail(`chat seq ${ok.seq} after ${seq}: a message lost or reordered`);
  seq = ok.seq;
  await to.next((m) => m.type === 'chat' && m.seq === ok.seq && m.text === text, `chat ${ok.seq}`);
}

for (const u of users) {
  await u.connect();
  await u.sayHello();
}
if (a.hello.event !== b.hello.event) fail('the two tokens are of different events');
await a.request({ type: 'join', room: ROOM });
const joined = await b.request({ type: 'join', room: ROOM });
await a.next((m) => m.type === 'presence' && m.user.id === b.name && m.state === 'joined', `presence of ${b.name}`);
// From here on nobody may be seen leaving the lounge.
watchLeft = true;
seq = joined.history.length ? joined.history[joined.history.length - 1].seq : 0;
const firstSeq = seq + 1;
await chat(a, b, `hello from ${a.hello.node}`);
const nodes = new Set(users.map((u) => u.hello.node));
console.log(`ready: ${users.length} users in ${ROOM} on ${nodes.size} node(s), the second sees ${joined.members.length} members, chat delivered`);

async function summary() {
  if (stopping) return;
  stopping = true;
  await Promise.all(users.map((u) => u.busy));
  const total = Object.values(stats.drains).reduce((x, y) => x + y, 0);
  const drains = Object.entries(stats.drains)
    .sort()
    .map(([n, k]) => `${n}: ${k}`)
    .join(', ');
  // Both still in the lounge, wherever they are now: each one's chat reaches the other.
  await chat(a, b, 'after the restarts, from the first');
  await chat(b, a, 'after the restarts, from the second');
  console.log(`drains: ${total} closes with 1001 (${drains || 'none'})`);
  console.log(`resumed: ${stats.resumed} of ${total}, ${stats.otherNode} on another node, same session`);
  console.log(`chats: seq ${firstSeq} to ${seq} delivered in order, both still in ${ROOM}`);
  console.log(`left events: ${stats.left}`);
  for (const u of users) u.ws.close(1000);
  const ok = stats.resumed === total && stats.left === 0;
  setTimeout(() => process.exit(ok ? 0 : 1), 100);
}
process.on('SIGINT', summary);
process.on('SIGTERM', summary);

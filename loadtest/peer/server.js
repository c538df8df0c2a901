#!/usr/bin/env node
// The peer: the Icebreaker lounge subset (hello, join, leave, presence,
// chat broadcast, members, ping) written the way a typical Node.js team
// would write it, on the npm `ws` package and `jsonwebtoken`, so that the
// load generator can drive it and the C server with the same clients and
// compare the two in one run.
//
// It follows the contract for what it implements: sub-protocol
// icebreaker.v1 at /ws, HS256 tokens with the same secret and claims,
// replies with `re`, the crowd rule (above --crowd members, presence events
// become presence.count at most once a second), join answering with at
// most --crowd members and the last 50 messages, chat `seq` per room. It
// leaves out what a lounge benchmark does not exercise: speed networking,
// booths, moderation, resume and its grace period, rate limits and send
// queue bounds (all of which the C server does pay for).
//
//   node server.js --port 0 --host 127.0.0.1 --jwt-secret S [--crowd 200]
// prints "peer ready on HOST:PORT node ID" when listening; SIGTERM or
// SIGINT closes every client with 1001 and exits 0.

import http from 'node:http';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';
import jwt from 'jsonwebtoken';

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 8080,
    secret: process.env.ICEBREAKER_JWT_SECRET,
    crowd: 200,
    history: 50,
    heartbeatMs: 25000,
    maxMessage: 65536,
    chatMax: 2000,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--host': opts.host = v; i++; break;
      case '--port': opts.port = Number(v); i++; break;
      case '--jwt-secret': opts.secret = v; i++; break;
      case '--crowd': opts.crowd = Number(v); i++; break;
      case '--heartbeat-ms': opts.heartbeatMs = Number(v); i++; break;
      case '--help':
        console.log('usage: node server.js [--host A] [--port N] --jwt-secret S [--crowd N] [--heartbeat-ms MS]');
        process.exit(0);
        break;
      default:
        console.error(`unknown option ${a}`);
        process.exit(2);
    }
  }
  if (!opts.secret) {
    console.error('a secret is required: --jwt-secret');
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv);
const nodeId = 'peer-' + crypto.randomBytes(4).toString('hex');
const ROOM_RE = /^(lounge|booth):[A-Za-z0-9._-]{1,64}$/;
const ROLES = new Set(['attendee', 'host', 'exhibitor', 'admin']);

// rooms: `${event}\n${room}` -> { id, members: Map<userId, member>, seq, history, ... }
// A member is one user in one room, with the set of that user's sockets there.
const rooms = new Map();
const clients = new Set();

function send(ws, obj) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
}

function reply(ws, msg, fields) {
  const out = { type: 'ok' };
  if (msg.id !== undefined && msg.id !== null) out.re = msg.id;
  send(ws, Object.assign(out, fields));
}

function error(ws, msg, code, message) {
  const out = { type: 'error', code, message };
  if (msg && msg.id !== undefined && msg.id !== null) out.re = msg.id;
  send(ws, out);
}

function publicUser(m) {
  return { id: m.id, name: m.name, role: m.role, status: m.status };
}

// Sends one encoded message to every socket of every member but `except`.
function broadcast(room, obj, exceptUserId) {
  const data = JSON.stringify(obj);
  for (const m of room.members.values()) {
    if (m.id === exceptUserId) continue;
    for (const ws of m.sockets) {
      if (ws.readyState === ws.OPEN) ws.send(data);
    }
  }
}

// Presence in a crowded room: at most one presence.count a second.
function countChanged(room) {
  if (room.countTimer) return;
  const wait = Math.max(0, 1000 - (Date.now() - room.countSentAt));
  room.countTimer = setTimeout(() => {
    room.countTimer = null;
    room.countSentAt = Date.now();
    if (room.members.size > 0) {
      broadcast(room, { type: 'presence.count', room: room.id, count: room.members.size });
    }
  }, wait);
}

function presence(room, member, state, before) {
  const after = room.members.size;
  if (Math.max(before, after) > opts.crowd) {
    countChanged(room);
  } else {
    broadcast(room, { type: 'presence', room: room.id, user: publicUser(member), state }, member.id);
  }
}

function joinRoom(ws, msg) {
  const id = msg.room;
  if (typeof id !== 'string' || !ROOM_RE.test(id)) {
    return error(ws, msg, 'bad_request', 'bad room id');
  }
  const key = ws.user.event + '\n' + id;
  let room = rooms.get(key);
  if (!room) {
    room = { id, key, members: new Map(), seq: 0, history: [], countTimer: null, countSentAt: 0 };
    rooms.set(key, room);
  }
  const before = room.members.size;
  let member = room.members.get(ws.user.id);
  const fresh = !member;
  if (fresh) {
    member = { ...ws.user, status: 'available', sockets: new Set() };
    room.members.set(member.id, member);
  }
  member.sockets.add(ws);
  ws.rooms.add(room);
  const members = [];
  for (const m of room.members.values()) {
    if (members.length >= opts.crowd) break;
    members.push(publicUser(m));
  }
  reply(ws, msg, { room: id, count: room.members.size, members, history: room.history });
  if (fresh) presence(room, member, 'joined', before);
}

function leaveRoom(ws, room) {
  const member = room.members.get(ws.user.id);
  if (!member) return;
  member.sockets.delete(ws);
  ws.rooms.delete(room);
  if (member.sockets.size > 0) return;
  const before = room.members.size;
  room.members.delete(member.id);
  if (room.members.size === 0) {
    if (room.countTimer) clearTimeout(room.countTimer);
    rooms.delete(room.key);
    return;
  }
  presence(room, member, 'left', before);
}

function findRoom(ws, id) {
  if (typeof id !== 'string') return null;
  const room = rooms.get(ws.user.event + '\n' + id);
  return room && ws.rooms.has(room) ? room : null;
}

function hello(ws, msg) {
  let claims;
  try {
    claims = jwt.verify(String(msg.token || ''), opts.secret, {
      algorithms: ['HS256'],
      clockTolerance: 30,
    });
  } catch (e) {
    error(ws, msg, 'unauthorized', 'bad token: ' + e.message);
    return ws.close(4001, 'authentication failed');
  }
  const ok = ['sub', 'name', 'role', 'event'].every((k) => typeof claims[k] === 'string' && claims[k]) &&
    ROLES.has(claims.role) && typeof claims.exp === 'number';
  if (!ok) {
    error(ws, msg, 'unauthorized', 'missing or invalid token claim');
    return ws.close(4001, 'authentication failed');
  }
  ws.user = { id: claims.sub, name: claims.name, role: claims.role, event: claims.event };
  reply(ws, msg, {
    session: crypto.randomUUID(),
    resume: crypto.randomUUID(),
    resumed: false,
    user: { id: claims.sub, name: claims.name, role: claims.role },
    event: claims.event,
    node: nodeId,
    server_time: Date.now(),
    heartbeat_ms: opts.heartbeatMs,
  });
}

function onMessage(ws, data, isBinary) {
  let msg;
  try {
    msg = isBinary ? null : JSON.parse(data);
  } catch {
    msg = null;
  }
  if (!ws.user) {
    if (msg && typeof msg === 'object' && msg.type === 'hello') return hello(ws, msg);
    error(ws, msg && typeof msg === 'object' ? msg : null, 'unauthorized', 'hello first');
    return ws.close(4001, 'hello first');
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string') {
    return error(ws, null, 'bad_request', 'a message must be a JSON object with a type');
  }
  switch (msg.type) {
    case 'hello':
      return error(ws, msg, 'conflict', 'already said hello');
    case 'ping':
      return reply(ws, msg, { server_time: Date.now() });
    case 'join':
      return joinRoom(ws, msg);
    case 'leave': {
      const room = findRoom(ws, msg.room);
      if (!room) return error(ws, msg, 'not_found', 'not in that room');
      leaveRoom(ws, room);
      return reply(ws, msg, { room: msg.room });
    }
    case 'status': {
      if (!['available', 'busy', 'away'].includes(msg.status)) {
        return error(ws, msg, 'bad_request', 'bad status');
      }
      for (const room of ws.rooms) {
        const m = room.members.get(ws.user.id);
        m.status = msg.status;
        if (room.members.size <= opts.crowd) {
          broadcast(room, { type: 'presence', room: room.id, user: publicUser(m), state: 'updated' }, m.id);
        }
      }
      return reply(ws, msg, { status: msg.status });
    }
    case 'chat': {
      if (typeof msg.text !== 'string' || msg.text.length === 0) {
        return error(ws, msg, 'bad_request', 'text must be a non-empty string');
      }
      if ([...msg.text].length > opts.chatMax) return error(ws, msg, 'too_large', 'text too long');
      const room = findRoom(ws, msg.room);
      if (!room) return error(ws, msg, 'forbidden', 'not in that room');
      const seq = ++room.seq;
      const event = {
        type: 'chat',
        room: room.id,
        from: { id: ws.user.id, name: ws.user.name },
        text: msg.text,
        ts: Date.now(),
        seq,
      };
      room.history.push(event);
      if (room.history.length > opts.history) room.history.shift();
      broadcast(room, event);
      return reply(ws, msg, { seq });
    }
    case 'members': {
      const room = findRoom(ws, msg.room);
      if (!room) return error(ws, msg, 'forbidden', 'not in that room');
      const offset = msg.offset ?? 0;
      const limit = msg.limit ?? 100;
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 200) {
        return error(ws, msg, 'bad_request', 'bad offset or limit');
      }
      const members = [...room.members.values()].slice(offset, offset + limit).map(publicUser);
      return reply(ws, msg, { room: room.id, count: room.members.size, offset, members });
    }
    default:
      return error(ws, msg, 'bad_request', 'unknown type');
  }
}

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ status: 'ok', node: nodeId, connections: clients.size, redis: 'off' }));
  }
  res.writeHead(req.url === '/ws' ? 426 : 404);
  res.end();
});

const wss = new WebSocketServer({
  noServer: true,
  maxPayload: opts.maxMessage,
  handleProtocols: (protocols) => (protocols.has('icebreaker.v1') ? 'icebreaker.v1' : false),
});

server.on('upgrade', (req, socket, head) => {
  if (new URL(req.url, 'http://x').pathname !== '/ws') {
    socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.user = null;
  ws.rooms = new Set();
  clients.add(ws);
  ws.helloTimer = setTimeout(() => {
    if (!ws.user) ws.close(4002, 'no hello in time');
  }, 10000);
  ws.on('pong', () => {
    ws.isAlive = true;
  });
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('close', () => {
    clearTimeout(ws.helloTimer);
    clients.delete(ws);
    for (const room of [...ws.rooms]) leaveRoom(ws, room);
  });
  ws.on('error', () => {});
});

const heartbeat = setInterval(() => {
  for (const ws of clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, opts.heartbeatMs);

function shutdown() {
  clearInterval(heartbeat);
  for (const ws of clients) ws.close(1001, 'going away');
  server.close();
  setTimeout(() => process.exit(0), 2000).unref();
  wss.close(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(opts.port, opts.host, 511, () => {
  const { port } = server.address();
  console.log(`peer ready on ${opts.host}:${port} node ${nodeId}`);
});

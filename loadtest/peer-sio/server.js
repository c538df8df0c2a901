#!/usr/bin/env node
// The peer of the cluster benchmark: socket.io nodes sharing rooms through
// @socket.io/redis-adapter (the usual way to run socket.io on several
// nodes), doing the lounge work the benchmark measures the way a typical
// Node.js team would write it:
//   join {room}  -> socket.join, `presence` (joined) to the room's others
//   leave {room} -> socket.leave, `presence` (left) to the room's others
//   chat {room,text} -> one Lua script in Redis (INCR seq, RPUSH history,
//                       LTRIM to 50), then `chat` with seq to the whole room
// every request acknowledged (socket.io acks). It leaves out what the
// measurement does not exercise: tokens, a user on two nodes shown once
// (socket.io counts sockets, not users), crowd rule, resume, limits.
//
//   node server.js --port 0 --redis redis://127.0.0.1:6379 --node-id ID
// prints "peer ready on 127.0.0.1:PORT node ID"; SIGTERM/SIGINT exits 0.
import http from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const opts = { port: 0, redis: 'redis://127.0.0.1:6379', node: `sio-${process.pid}` };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === '--port') opts.port = Number(v);
  else if (k === '--redis') opts.redis = v;
  else if (k === '--node-id') opts.node = v;
  else {
    console.error(`unknown option ${k}`);
    process.exit(2);
  }
}

const APPEND = `local s = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], s .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -50, -1)
return s`;

const pub = createClient({ url: opts.redis });
const sub = pub.duplicate();
const cmd = pub.duplicate();
await Promise.all([pub.connect(), sub.connect(), cmd.connect()]);

const srv = http.createServer();
const io = new Server(srv, { adapter: createAdapter(pub, sub), transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  const user = { id: String(socket.handshake.auth?.sub ?? socket.id), name: String(socket.handshake.auth?.name ?? 'peer') };
  socket.on('join', ({ room }, ack) => {
    socket.join(room);
    socket.to(room).emit('presence', { room, user, state: 'joined' });
    ack?.({ room });
  });
  socket.on('leave', ({ room }, ack) => {
    socket.leave(room);
    socket.to(room).emit('presence', { room, user, state: 'left' });
    ack?.({ room });
  });
  socket.on('chat', async ({ room, text }, ack) => {
    const msg = { room, from: user, text, ts: Date.now() };
    try {
      const seq = await cmd.eval(APPEND, { keys: [`sio:{${room}}:seq`, `sio:{${room}}:chat`], arguments: [JSON.stringify(msg)] });
      io.to(room).emit('chat', { ...msg, seq });
      ack?.({ seq });
    } catch {
      ack?.({ error: 'unavailable' });
    }
  });
  socket.on('ping2', (_, ack) => ack?.({ server_time: Date.now() }));
});
srv.listen(opts.port, '127.0.0.1', () => {
  console.log(`peer ready on 127.0.0.1:${srv.address().port} node ${opts.node}`);
});
const stop = async () => {
  io.close();
  await Promise.allSettled([pub.quit(), sub.quit(), cmd.quit()]);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

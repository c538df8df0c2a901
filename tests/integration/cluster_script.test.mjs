// deploy/cluster.sh: a local cluster (redis-server, two nodes, haproxy on
// loopback) comes up on free ports, spreads WebSocket clients over its nodes
// through haproxy, shares presence between them, lets a client of a killed
// node resume on the survivor through haproxy, and stops everything it
// started on SIGTERM with exit code 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO, BIN, SECRET, ms, cleanEnv } from './lib/server.mjs';
import { connectUser, closeAll } from './lib/client.mjs';

const READY = /^cluster ready on 127\.0\.0\.1:(\d+) nodes (\d+) redis 127\.0\.0\.1:(\d+)$/m;

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('deploy/cluster.sh: two nodes behind haproxy, presence across them, clean stop on SIGTERM', async () => {
  const child = spawn(path.join(REPO, 'deploy', 'cluster.sh'), ['-n', '2', '--bin', BIN], {
    env: cleanEnv({ ICEBREAKER_JWT_SECRET: SECRET }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const clients = [];
  try {
    const deadline = Date.now() + ms(30000);
    while (!READY.test(out)) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`no ready line\nstdout: ${out}\nstderr: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const [, lbPort, n, redisPort] = READY.exec(out).map(Number);
    assert.equal(n, 2);
    const nodeLines = [...out.matchAll(/^node (node-\d) 127\.0\.0\.1:(\d+) pid (\d+)$/gm)];
    const nodePorts = nodeLines.map((m) => Number(m[2]));
    const pidOf = Object.fromEntries(nodeLines.map((m) => [m[1], Number(m[3])]));
    assert.equal(nodePorts.length, 2);
    const lb = { port: lbPort, clients: new Set(), describe: () => `cluster.sh stderr: ${err}` };
    const x = await connectUser(lb, { sub: 'lx', event: 'lb' });
    clients.push(x);
    const y = await connectUser(lb, { sub: 'ly', event: 'lb' });
    clients.push(y);
    // leastconn: the second client lands on the other node.
    assert.notEqual(x.helloReply.node, y.helloReply.node);
    await x.ok({ type: 'join', room: 'lounge:lb' });
    const j = await y.ok({ type: 'join', room: 'lounge:lb' });
    assert.deepEqual(j.members.map((m) => m.id), ['lx', 'ly']);
    await x.next((m) => m.type === 'presence' && m.user.id === 'ly' && m.state === 'joined', ms(5000));
    // x's node dies (SIGKILL, a process of the cluster this test started);
    // x comes back through haproxy, lands on the survivor and resumes.
    process.kill(pidOf[x.helloReply.node], 'SIGKILL');
    await x.closed(ms(5000));
    const x2 = await connectUser(lb, { sub: 'lx', event: 'lb' }, { helloExtra: { resume: x.helloReply.resume } });
    clients.push(x2);
    assert.equal(x2.helloReply.resumed, true);
    assert.equal(x2.helloReply.node, y.helloReply.node);
    await x2.ok({ type: 'chat', room: 'lounge:lb', text: 'after failover' });
    await y.next((m) => m.type === 'chat' && m.text === 'after failover', ms(5000));
    assert.deepEqual(y.log.filter((m) => m.type === 'presence' && m.user?.id === 'lx' && m.state === 'left'), []);
    child.kill('SIGTERM');
    const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), ms(30000)))]);
    assert.ok(r, `cluster.sh did not stop within 30 s\n${err}`);
    assert.deepEqual(r, { code: 0, signal: null }, err);
    for (const p of [lbPort, redisPort, ...nodePorts]) assert.equal(await portOpen(p), false, `port ${p} still open`);
  } finally {
    await closeAll(clients).catch(() => {});
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }
});

// Running a server: refusing to start without a secret (exit 2), secrets from
// the environment and from a file, limits from ICEBREAKER_* variables (the
// command line winning), usage errors, --help, --dev and `icebreaker token`.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { startServer, runBinary } from './lib/server.mjs';
import { connect, connectUser } from './lib/client.mjs';
import { token } from './lib/jwt.mjs';
import { uniq } from './lib/util.mjs';

/** hello with `tok` on `srv`: resolves 'ok' or the close code after an unauthorized. */
async function tryHello(srv, tok) {
  const c = await connect(srv);
  c.send({ type: 'hello', id: 1, token: tok });
  const r = await c.next((m) => m.re === 1);
  if (r.type === 'ok') {
    await c.close();
    return 'ok';
  }
  assert.equal(r.code, 'unauthorized');
  return (await c.expectClose(4001)).code;
}

describe('start-up', () => {
  test('no secret and no --dev: exit code 2 with a message on stderr, no ready line', async () => {
    const r = await runBinary(['serve', '--host', '127.0.0.1', '--port', '0']);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /secret/i);
    assert.doesNotMatch(r.stdout, /ready on/);
  });

  test('usage errors exit 2: an unknown option, a bad value, --heartbeat-ms under 1000', async () => {
    for (const args of [['--no-such-option'], ['--rate', 'lots'], ['--heartbeat-ms', '999'], ['--port', '70000']]) {
      const r = await runBinary(['serve', '--host', '127.0.0.1', '--port', '0', '--jwt-secret', 'x', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0, `${args.join(' ')}: a message on stderr`);
      assert.doesNotMatch(r.stdout, /ready on/);
    }
  });

  test('--help lists every option, limits included', async () => {
    const r = await runBinary(['serve', '--help']);
    assert.equal(r.code, 0);
    const opts = [
      '--host', '--port', '--jwt-secret', '--jwt-secret-file', '--redis', '--node-id', '--origin', '--tls-cert', '--tls-key',
      '--web-root', '--dev', '--max-message', '--rate', '--burst', '--abuse-refusals', '--abuse-window-ms', '--sendq-bytes',
      '--sendq-msgs', '--max-rooms', '--chat-max', '--signal-max', '--hello-timeout-ms', '--heartbeat-ms', '--grace-ms',
      '--crowd', '--history', '--kick-ms',
    ];
    for (const o of opts) assert.match(r.stdout + r.stderr, new RegExp(`${o}\\b`), `--help mentions ${o}`);
  });

  test('ICEBREAKER_JWT_SECRET and --jwt-secret-file provide the secret', async () => {
    const envSrv = await startServer({ secret: null, env: { ICEBREAKER_JWT_SECRET: 'env-secret' } });
    try {
      assert.equal(await tryHello(envSrv, token({}, { secret: 'env-secret' })), 'ok');
      assert.equal(await tryHello(envSrv, token({}, { secret: 'test-secret' })), 4001);
    } finally {
      await envSrv.stopClean();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-it-'));
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'file-secret\n');
    const fileSrv = await startServer({ secret: null, args: ['--jwt-secret-file', file] });
    try {
      assert.equal(await tryHello(fileSrv, token({}, { secret: 'file-secret' })), 'ok');
      assert.equal(await tryHello(fileSrv, token({}, { secret: 'file-secret\n' })), 4001);
    } finally {
      await fileSrv.stopClean();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('limits come from ICEBREAKER_* variables; the command line wins', async () => {
    const srv = await startServer({
      env: { ICEBREAKER_MAX_ROOMS: '2', ICEBREAKER_HEARTBEAT_MS: '7000', ICEBREAKER_NODE_ID: 'env-node' },
    });
    try {
      assert.equal(srv.node, 'env-node');
      const a = await connectUser(srv);
      assert.equal(a.helloReply.heartbeat_ms, 7000);
      assert.equal(a.helloReply.node, 'env-node');
      await a.ok({ type: 'join', room: `lounge:${uniq()}` });
      await a.ok({ type: 'join', room: `lounge:${uniq()}` });
      await a.fail({ type: 'join', room: `lounge:${uniq()}` }, 'conflict');
      await a.close();
    } finally {
      await srv.stopClean();
    }
    const both = await startServer({
      args: ['--max-rooms', '3', '--heartbeat-ms', '5000'],
      env: { ICEBREAKER_MAX_ROOMS: '1', ICEBREAKER_HEARTBEAT_MS: '9000' },
    });
    try {
      const a = await connectUser(both);
      assert.equal(a.helloReply.heartbeat_ms, 5000);
      for (let i = 0; i < 3; i++) await a.ok({ type: 'join', room: `lounge:${uniq()}` });
      await a.fail({ type: 'join', room: `lounge:${uniq()}` }, 'conflict');
      await a.close();
    } finally {
      await both.stopClean();
    }
  });
});

describe('limit options', () => {
  test('--chat-max and --history take effect', async () => {
    const srv = await startServer({ args: ['--chat-max', '10', '--history', '3'] });
    try {
      const room = `lounge:${uniq('lim')}`;
      const a = await connectUser(srv);
      await a.ok({ type: 'join', room });
      await a.fail({ type: 'chat', room, text: '12345678901' }, 'too_large');
      await a.fail({ type: 'chat', room, text: '😀'.repeat(11) }, 'too_large');
      await a.ok({ type: 'chat', room, text: '😀'.repeat(10) });
      for (let i = 2; i <= 5; i++) await a.ok({ type: 'chat', room, text: `m${i}` });
      const b = await connectUser(srv);
      const j = await b.ok({ type: 'join', room });
      assert.deepEqual(
        j.history.map((h) => [h.seq, h.text]),
        [
          [3, 'm3'],
          [4, 'm4'],
          [5, 'm5'],
        ],
      );
      await a.close();
      await b.close();
    } finally {
      await srv.stopClean();
    }
  });
});

function post(srv, p, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port: srv.port, path: p, method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve({ status: res.statusCode, body: b }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('--dev and icebreaker token', () => {
  test('--dev: the public development secret and POST /dev/token', async () => {
    const srv = await startServer({ secret: null, args: ['--dev'] });
    try {
      assert.equal(await tryHello(srv, token({}, { secret: 'icebreaker-dev-secret' })), 'ok');
      const r = await post(srv, '/dev/token', { name: 'Dev User', role: 'attendee', event: 'devev', sub: 'devuser' });
      assert.equal(r.status, 200, r.body);
      const tok = JSON.parse(r.body).token;
      const c = await connect(srv);
      const h = await c.hello(tok);
      assert.deepEqual(h.user, { id: 'devuser', name: 'Dev User', role: 'attendee' });
      assert.equal(h.event, 'devev');
      await c.close();
    } finally {
      await srv.stopClean();
    }
  });

  test('without --dev, POST /dev/token is not served and the dev secret is refused', async () => {
    const srv = await startServer();
    try {
      const r = await post(srv, '/dev/token', { name: 'X', role: 'admin', event: 'e' });
      assert.notEqual(r.status, 200);
      let parsed = null;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        /* not JSON: fine, no token either */
      }
      assert.equal(parsed?.token, undefined, `no token minted: ${r.body}`);
      assert.equal(await tryHello(srv, token({}, { secret: 'icebreaker-dev-secret' })), 4001);
    } finally {
      await srv.stopClean();
    }
  });

  test('icebreaker token prints a token the server accepts', async () => {
    const r = await runBinary(['token', '--jwt-secret', 'test-secret', '--sub', 'cli-user', '--name', 'Cli User', '--role', 'host', '--event', 'cliev']);
    assert.equal(r.code, 0, r.stderr);
    const tok = r.stdout.trim();
    assert.match(tok, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const srv = await startServer();
    try {
      const c = await connect(srv);
      const h = await c.hello(tok);
      assert.deepEqual(h.user, { id: 'cli-user', name: 'Cli User', role: 'host' });
      assert.equal(h.event, 'cliev');
      await c.close();
    } finally {
      await srv.stopClean();
    }
  });
});

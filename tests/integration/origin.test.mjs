// The Origin allow-list: with --origin set, a handshake whose Origin is not
// one of them exactly gets HTTP 403; no Origin (not a browser) is allowed;
// without --origin any Origin is allowed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, assertServes } from './lib/client.mjs';
import { rawHandshake } from './lib/raw.mjs';

describe('origin allow-list (--origin https://good.example)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--origin', 'https://good.example'] });
  });
  after(async () => {
    await srv?.stopClean();
  });

  const wrong = [
    'https://evil.example',
    'http://good.example',
    'https://good.example:8443',
    'https://good.example.evil',
    'https://sub.good.example',
    'https://GOOD.example',
    'https://good.example/',
    'null',
  ];
  for (const origin of wrong) {
    test(`Origin ${JSON.stringify(origin)} -> HTTP 403 on the handshake`, async () => {
      const h = await rawHandshake(srv, { origin });
      assert.equal(h.status, 403);
      await assert.rejects(connect(srv, { origin }), (e) => e.status === 403);
      await assertServes(srv);
    });
  }

  test('no Origin -> allowed', async () => {
    const c = await connect(srv);
    await c.hello({});
    await c.ok({ type: 'ping' });
    await c.close();
  });

  test('the right Origin -> allowed', async () => {
    const c = await connect(srv, { origin: 'https://good.example' });
    await c.hello({});
    await c.ok({ type: 'ping' });
    await c.close();
  });
});

describe('several origins (--origin twice, and ICEBREAKER_ORIGIN comma-separated)', () => {
  let cli;
  let env;
  before(async () => {
    cli = await startServer({ args: ['--origin', 'https://a.example', '--origin', 'https://b.example'] });
    env = await startServer({ env: { ICEBREAKER_ORIGIN: 'https://a.example,https://b.example' } });
  });
  after(async () => {
    await cli?.stopClean();
    await env?.stopClean();
  });

  test('each listed origin is allowed, others get 403', async () => {
    for (const srv of [cli, env]) {
      for (const origin of ['https://a.example', 'https://b.example']) {
        const c = await connect(srv, { origin });
        await c.hello({});
        await c.close();
      }
      assert.equal((await rawHandshake(srv, { origin: 'https://c.example' })).status, 403);
      assert.equal((await rawHandshake(srv, { origin: 'https://a.example,https://b.example' })).status, 403);
    }
  });
});

describe('no --origin', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stopClean();
  });

  test('any Origin is allowed', async () => {
    for (const origin of ['https://anything.example', 'http://localhost:3000', 'null']) {
      const c = await connect(srv, { origin });
      await c.hello({});
      await c.close();
    }
  });
});

// The deploy/ files, checked with the tools that read them (issue 10):
// `systemd-analyze verify` on the unit, `haproxy -c` and `nginx -t` on the
// proxy configs (with a self-signed certificate made here), every YAML file
// parsed (PyYAML of Debian's /usr/bin/python3), the Kubernetes and compose
// files checked for what the node needs (probes on /healthz, a grace period
// covering the drain), the metrics named in docs/OPERATIONS.md, the Grafana
// dashboard and the Prometheus file compared with a live /metrics; then the
// real thing on loopback: nodes behind nginx and behind haproxy, both
// terminating TLS, reached with wss:// (hello, join, chat), and a node drained
// behind each proxy: its client gets close 1001 through the proxy and
// reconnects to the other node.
//
// The tools come from deploy/install-deps.sh test (scripts/test.sh runs it);
// a missing tool fails the test, nothing is skipped. Every process started
// here is stopped by its pid. What cannot run here (containers, Kubernetes,
// systemd as PID 1) is listed in docs/OPERATIONS.md.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { REPO, BIN, SECRET, startServer, runBinary, ms } from './lib/server.mjs';
import { Client, PROTOCOL, DEFAULT_TIMEOUT } from './lib/client.mjs';
import { httpGet, httpsGet, parseProm } from './lib/raw.mjs';
import { token } from './lib/jwt.mjs';
import { waitFor, uniq, isChat } from './lib/util.mjs';
import { freePort } from './lib/redis.mjs';
import { run, startProc } from './lib/proc.mjs';

const DEPLOY = path.join(REPO, 'deploy');
const read = (p) => fs.readFileSync(path.join(REPO, p), 'utf8');

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ib-deploy-'));
fs.chmodSync(TMP, 0o755); // nginx workers run as nobody
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

// ---------------------------------------------------------------- TLS

/** A self-signed certificate for 127.0.0.1 and localhost, made once. */
let certCache;
async function cert() {
  if (certCache) return certCache;
  const dir = path.join(TMP, 'tls');
  fs.mkdirSync(dir);
  const key = path.join(dir, 'privkey.pem');
  const crt = path.join(dir, 'fullchain.pem');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', crt,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const pem = path.join(dir, 'icebreaker.pem'); // haproxy: chain and key in one file
  fs.writeFileSync(pem, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  certCache = { key, crt, pem, ca: fs.readFileSync(crt) };
  return certCache;
}

/** A wss:// client through a proxy, verifying the proxy's certificate. */
function connectWss(port, ca, label) {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, [PROTOCOL], {
    ca,
    perMessageDeflate: false,
    handshakeTimeout: DEFAULT_TIMEOUT,
  });
  const c = new Client(ws, null, label);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (req, res) => reject(new Error(`${label}: handshake refused: HTTP ${res.statusCode}`)));
    ws.once('error', (e) => {
      if (ws.readyState !== WebSocket.OPEN) reject(e);
    });
  });
}

// ---------------------------------------------------------------- configs made local

/** deploy/nginx/icebreaker.conf with loopback ports, the test certificate and `nodes` as upstreams. */
async function nginxLocal(name, { http, https: tls, nodes }) {
  const { crt, key } = await cert();
  const dir = path.join(TMP, name);
  fs.mkdirSync(dir, { recursive: true });
  let site = read('deploy/nginx/icebreaker.conf');
  const servers = nodes.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join('\n');
  site = site
    .replace(/^\s*server \d+\.\d+\.\d+\.\d+:\d+ .*;\n/gm, '')
    .replace(/least_conn;\n/, `least_conn;\n${servers}\n`)
    .replace(/^\s*listen \[::\]:\d+.*\n/gm, '')
    .replace(/listen 80;/, `listen 127.0.0.1:${http};`)
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${tls} ssl;`)
    .replaceAll('/etc/icebreaker/tls/fullchain.pem', crt)
    .replaceAll('/etc/icebreaker/tls/privkey.pem', key);
  assert.match(site, new RegExp(`server 127\\.0\\.0\\.1:${nodes[0]} `), 'upstream rewritten');
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  const conf = path.join(dir, 'nginx.conf');
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/${t};`)
    .join('\n');
  fs.writeFileSync(
    conf,
    `# made by tests/integration/deploy.test.mjs around deploy/nginx/icebreaker.conf
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
${temps}
  include ${dir}/site.conf;
}
`,
  );
  return { dir, conf };
}

/** deploy/haproxy/icebreaker.cfg with loopback ports, the test certificate and `nodes` as servers. */
async function haproxyLocal(name, { http, https: tls, nodes }) {
  const { pem } = await cert();
  const dir = path.join(TMP, name);
  fs.mkdirSync(dir, { recursive: true });
  let cfg = read('deploy/haproxy/icebreaker.cfg');
  cfg = cfg
    .replace(/^\s*server node-\S+ \S+ check\n/gm, '')
    .replace(/^(\s*)bind :80$/m, `$1bind 127.0.0.1:${http}`)
    .replace(/^(\s*)bind :443 ssl crt \S+/m, `$1bind 127.0.0.1:${tls} ssl crt ${pem}`)
    // the production maxconn needs more open files than the 20000 these machines allow
    .replace(/^(\s*)maxconn \d+$/m, '$1maxconn 4000')
    .replace(/maxconn 100000$/m, 'maxconn 1000');
  cfg = cfg.trimEnd() + '\n' + nodes.map((p, i) => `    server node-${i} 127.0.0.1:${p} check`).join('\n') + '\n';
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, cfg);
  return { dir, file };
}

// ---------------------------------------------------------------- static checks

test('systemd unit: systemd-analyze verify reports nothing; secret comes as a credential', async () => {
  const unit = read('deploy/systemd/icebreaker.service');
  // verify checks that ExecStart's binary exists: point it at the build
  const dir = path.join(TMP, 'systemd');
  fs.mkdirSync(dir);
  const local = unit.replaceAll('/usr/local/bin/icebreaker', BIN);
  assert.notEqual(local, unit, 'ExecStart names /usr/local/bin/icebreaker');
  fs.writeFileSync(path.join(dir, 'icebreaker.service'), local);
  const r = await run('systemd-analyze', ['verify', path.join(dir, 'icebreaker.service')]);
  // unknown keys and bad values are only warnings (exit 0): any output fails
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal((r.stderr + r.stdout).trim(), '', 'systemd-analyze verify is silent');

  const key = (k) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
  assert.deepEqual(key('LoadCredential'), ['jwt-secret:/etc/icebreaker/jwt-secret']);
  const exec = key('ExecStart')[0];
  assert.match(exec, /--jwt-secret-file %d\/jwt-secret/);
  assert.doesNotMatch(exec, /--jwt-secret(?!-file)/, 'no secret on the command line');
  assert.doesNotMatch(unit, /ICEBREAKER_JWT_SECRET=/);
  for (const [k, v] of [
    ['DynamicUser', 'yes'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['KillSignal', 'SIGTERM'],
  ]) {
    assert.deepEqual(key(k), [v], k);
  }
  const nofile = Number(key('LimitNOFILE')[0]);
  const env = envExample();
  assert.ok(nofile > Number(env.ICEBREAKER_MAX_CONNECTIONS), 'LimitNOFILE above --max-connections');
  const stopS = Number(/^(\d+)s$/.exec(key('TimeoutStopSec')[0])[1]);
  assert.ok(stopS * 1000 > Number(env.ICEBREAKER_DRAIN_MS) + 5000, 'TimeoutStopSec covers the drain');
});

function envExample() {
  const vars = {};
  for (const line of read('deploy/systemd/icebreaker.env.example').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

test('env example: every variable is an option of serve --help, and a node runs with it and a secret file', async () => {
  const help = await runBinary(['serve', '--help']);
  const known = new Set([...(help.stdout + help.stderr).matchAll(/ICEBREAKER_[A-Z_]+/g)].map((m) => m[0]));
  const vars = envExample();
  assert.ok(Object.keys(vars).length >= 5);
  for (const k of Object.keys(vars)) assert.ok(known.has(k), `${k} is listed by serve --help`);
  // what the unit does: the secret in a file (%d/jwt-secret), settings from the env file
  const secretFile = path.join(TMP, 'jwt-secret');
  const secret = 'ops-' + uniq('s');
  fs.writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
  const srv = await startServer({ secret: null, env: vars, args: ['--jwt-secret-file', secretFile] });
  try {
    const h = await httpGet(srv, '/healthz');
    assert.equal(h.json.node, vars.ICEBREAKER_NODE_ID);
    const ws = new WebSocket(srv.wsUrl, [PROTOCOL], { perMessageDeflate: false, origin: vars.ICEBREAKER_ORIGIN.split(',')[0] });
    const c = new Client(ws, srv, 'env');
    await new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
    });
    await c.hello(token({ sub: 'ops' }, { secret }));
    await c.close();
  } finally {
    await srv.stopClean();
  }
});

test('haproxy -c accepts every deploy/haproxy/*.cfg (TLS with a generated certificate; cluster.cfg with its port from the environment)', async () => {
  const { pem } = await cert();
  const files = fs.readdirSync(path.join(DEPLOY, 'haproxy')).filter((f) => f.endsWith('.cfg'));
  assert.ok(files.includes('icebreaker.cfg'));
  for (const f of files) {
    const cfg = read(`deploy/haproxy/${f}`);
    assert.match(cfg, /option httpchk/);
    assert.match(cfg, /uri \/healthz/);
    const tunnel = /timeout tunnel (\d+)(s|m|h)/.exec(cfg);
    const tunnelMs = Number(tunnel[1]) * { s: 1000, m: 60000, h: 3600000 }[tunnel[2]];
    assert.ok(tunnelMs > 2 * Number(envExample().ICEBREAKER_HEARTBEAT_MS), 'timeout tunnel > 2 x heartbeat');
    const local = path.join(TMP, `check-${f}`);
    fs.writeFileSync(local, cfg.replaceAll('/etc/icebreaker/tls/icebreaker.pem', pem));
    // cluster.cfg takes its listening port from deploy/cluster.sh's environment
    const r = await run('haproxy', ['-c', '-f', local], { env: { IB_LB_PORT: '18080' } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // compose.cfg names its servers by compose service: unresolvable here, and said so
    const out = (r.stdout + r.stderr)
      .split('\n')
      .filter((l) => !(f === 'compose.cfg' && /could not resolve address 'node-[ab]'/.test(l)))
      .join('\n');
    assert.doesNotMatch(out, /\[(WARNING|ALERT)\]/, `${f}: ${out}`);
  }
});

test('nginx -t accepts deploy/nginx/icebreaker.conf (TLS, with a generated certificate)', async () => {
  const conf = read('deploy/nginx/icebreaker.conf');
  assert.match(conf, /proxy_set_header Upgrade \$http_upgrade/);
  const rt = Number(/proxy_read_timeout (\d+)s/.exec(conf)[1]);
  assert.ok(rt * 1000 > 2 * Number(envExample().ICEBREAKER_HEARTBEAT_MS), 'proxy_read_timeout > 2 x heartbeat');
  const { dir, conf: file } = await nginxLocal('nginx-t', { http: 1, https: 2, nodes: [3, 4] });
  const r = await run('nginx', ['-t', '-p', dir + '/', '-c', file, '-e', path.join(dir, 'error.log')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /test is successful/);
  assert.doesNotMatch(r.stderr, /\[(warn|emerg|alert)\]/, r.stderr);
});

/** Every YAML document under deploy/, parsed by PyYAML into plain JSON. */
async function yamlDocs() {
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) found.push(p);
    }
  };
  walk(DEPLOY);
  const py =
    'import json, sys, yaml\n' +
    'out = {}\n' +
    'for f in sys.argv[1:]:\n' +
    '    with open(f) as fh:\n' +
    '        out[f] = [d for d in yaml.safe_load_all(fh) if d is not None]\n' +
    'print(json.dumps(out, default=str))\n';
  const r = await run('/usr/bin/python3', ['-c', py, ...found]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('YAML: every file under deploy/ parses; k8s, compose and Prometheus files hold what the node needs', async () => {
  const docs = await yamlDocs();
  const rel = (f) => path.relative(REPO, f);
  const byFile = Object.fromEntries(Object.entries(docs).map(([f, d]) => [rel(f), d]));
  assert.ok(Object.keys(byFile).length >= 3, `YAML files: ${Object.keys(byFile)}`);

  // Kubernetes
  const k8sAll = Object.entries(byFile).filter(([f]) => f.startsWith('deploy/k8s/')).flatMap(([, d]) => d);
  const k8s = k8sAll.filter((d) => d.kind !== 'Kustomization');
  const kust = k8sAll.find((d) => d.kind === 'Kustomization');
  assert.deepEqual(new Set(kust.resources), new Set(Object.keys(byFile).filter((f) => f.startsWith('deploy/k8s/') && !f.endsWith('kustomization.yaml')).map((f) => path.basename(f))), 'kustomization lists every manifest');
  const kinds = (k) => k8s.filter((d) => d.kind === k);
  for (const k of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget']) assert.equal(kinds(k).length, 1, `one ${k}`);
  for (const d of k8s) {
    assert.ok(d.apiVersion && d.metadata?.name, `apiVersion and name: ${JSON.stringify(d).slice(0, 200)}`);
  }
  const dep = kinds('Deployment')[0];
  const pod = dep.spec.template.spec;
  const ctr = pod.containers.find((c) => c.name === 'icebreaker');
  assert.ok(ctr, 'container icebreaker');
  for (const probe of ['readinessProbe', 'livenessProbe']) assert.equal(ctr[probe].httpGet.path, '/healthz', probe);
  assert.ok(pod.securityContext?.runAsNonRoot || ctr.securityContext?.runAsNonRoot, 'runs as non-root');
  const env = Object.fromEntries((ctr.env || []).map((e) => [e.name, e]));
  const cmName = kinds('ConfigMap')[0].metadata.name;
  assert.ok(ctr.envFrom?.some((e) => e.configMapRef?.name === cmName), 'settings from the ConfigMap');
  const cm = kinds('ConfigMap')[0].data;
  const drainMs = Number(cm.ICEBREAKER_DRAIN_MS);
  const heartbeat = Number(cm.ICEBREAKER_HEARTBEAT_MS ?? 25000);
  assert.ok(drainMs > 0, 'ConfigMap sets ICEBREAKER_DRAIN_MS');
  // the secret: a Secret reference, mounted as a file, never a literal
  assert.equal(kinds('Secret').length, 0, 'no Secret with a value in the repository');
  const vol = pod.volumes.find((v) => v.secret);
  assert.ok(vol, 'a Secret volume');
  const mount = ctr.volumeMounts.find((m) => m.name === vol.name);
  const args = (ctr.command || []).concat(ctr.args || []).join(' ');
  assert.match(args + JSON.stringify(env), new RegExp(`${mount.mountPath}/`), 'the secret file is given to the node');
  assert.equal(env.ICEBREAKER_JWT_SECRET, undefined, 'the secret is not in the environment');
  // draining: preStop waits for the load balancer, then SIGTERM drains within --drain-ms
  const pre = ctr.lifecycle.preStop;
  const preS = pre.sleep ? pre.sleep.seconds : Number(/sleep (\d+)/.exec(pre.exec.command.join(' '))[1]);
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > preS * 1000 + drainMs, 'grace period covers preStop + drain');
  const rp = ctr.readinessProbe;
  assert.ok(preS >= rp.periodSeconds * rp.failureThreshold, 'preStop lasts until readiness fails');
  const pdb = kinds('PodDisruptionBudget')[0];
  assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  const svc = kinds('Service')[0];
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  const ann = svc.metadata.annotations || {};
  for (const [k, v] of Object.entries(ann)) {
    if (/timeout/i.test(k) && /^\d+$/.test(String(v))) assert.ok(Number(v) * 1000 > 2 * heartbeat, `${k} > 2 x heartbeat`);
  }

  // compose: Redis, two nodes, haproxy
  const compose = byFile['deploy/compose.yaml']?.[0];
  assert.ok(compose, 'deploy/compose.yaml');
  const services = compose.services;
  assert.ok(services.redis, 'redis service');
  const nodes = Object.entries(services).filter(([, s]) => s.build || /icebreaker/.test(s.image || ''));
  assert.equal(nodes.length, 2, 'two nodes');
  for (const [, s] of nodes) {
    const e = Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((x) => x.split('='))) : s.environment;
    assert.match(e.ICEBREAKER_REDIS, /^redis:\/\/redis:6379\//);
    assert.equal(e.ICEBREAKER_JWT_SECRET, undefined, 'secret from a file');
    assert.ok(s.secrets.some((x) => x.target === '/run/secrets/jwt-secret'), 'the secret file the image reads');
  }
  const hap = Object.values(services).find((s) => /haproxy/.test(s.image || ''));
  assert.ok(hap, 'haproxy service');
  assert.ok(hap.volumes.some((v) => v.startsWith('./haproxy/compose.cfg:')), 'haproxy uses deploy/haproxy/compose.cfg');

  // Prometheus
  const prom = byFile['deploy/prometheus/scrape.yml']?.[0];
  assert.ok(prom?.scrape_configs?.length, 'scrape_configs');
  assert.ok(prom.scrape_configs.every((s) => (s.metrics_path ?? '/metrics') === '/metrics'));
});

test('Containerfile: Debian 12 stages, non-root, /healthz healthcheck, runtime packages that exist in bookworm', async () => {
  const cf = read('deploy/container/Containerfile');
  const froms = [...cf.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) assert.match(f, /^debian:(12|bookworm)/, f);
  assert.match(cf, /^USER (?!root|0\b)\S+/m, 'non-root user');
  assert.match(cf.replace(/\\\n\s*/g, ' '), /^HEALTHCHECK .*curl .*\/healthz/m);
  const runtime = cf.slice(cf.lastIndexOf('\nFROM ')).replace(/\\\n\s*/g, ' ');
  const inst = /apt-get install ([^&\n]*)/.exec(runtime);
  assert.ok(inst, 'the runtime stage installs packages');
  const pkgs = inst[1].split(/\s+/).filter((w) => w && !w.startsWith('-'));
  for (const need of ['libwebsockets17', 'libwebsockets-evlib-uv', 'libuv1', 'libjansson4', 'libhiredis0.14', 'libssl3', 'ca-certificates', 'curl']) {
    assert.ok(pkgs.includes(need), `runtime installs ${need}: ${pkgs}`);
  }
  // the names are checked against this machine's Debian 12 package lists
  const r = await run('apt-cache', ['policy', ...pkgs]);
  for (const p of pkgs) assert.match(r.stdout, new RegExp(`^${p.replace(/[.+]/g, '\\$&')}:\\n\\s+Installed: .*\\n\\s+Candidate: (?!\\(none\\))`, 'm'), `${p} exists`);
});

test('metrics: docs/OPERATIONS.md, the Grafana dashboard and a live /metrics name the same metrics', async () => {
  const srv = await startServer();
  let live;
  try {
    live = parseProm((await httpGet(srv, '/metrics')).body).types;
  } finally {
    await srv.stopClean();
  }
  const ops = read('docs/OPERATIONS.md');
  const documented = {};
  for (const m of ops.matchAll(/^\| `(icebreaker_[a-z_]+)`[^|]*\| (gauge|counter|histogram) \|/gm)) documented[m[1]] = m[2];
  assert.deepEqual(documented, live, 'docs/OPERATIONS.md metrics table = GET /metrics (names and types)');
  const dash = JSON.parse(read('deploy/grafana/icebreaker.json'));
  assert.ok(dash.panels.length >= 5);
  const used = new Set();
  for (const p of dash.panels) for (const t of p.targets || []) for (const m of t.expr.matchAll(/icebreaker_[a-z_]+/g)) used.add(m[0]);
  // A histogram's series are its name plus _bucket, _sum or _count.
  const base = (m) => (live[m.replace(/_(bucket|sum|count)$/, '')] === 'histogram' ? m.replace(/_(bucket|sum|count)$/, '') : m);
  for (const m of used) assert.ok(base(m) in live, `dashboard metric ${m} exists`);
  // connections, messages, rounds, Redis health, queue drops (issue 10)
  for (const m of ['icebreaker_connections', 'icebreaker_messages_in_total', 'icebreaker_sn_rounds_total', 'icebreaker_sn_sessions', 'icebreaker_redis_up', 'icebreaker_sendq_drops_total']) {
    assert.ok(used.has(m), `dashboard shows ${m}`);
  }
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});

// ---------------------------------------------------------------- live, on loopback

/**
 * hello, join, chat through a proxy: two clients on the same node (three
 * connect, so two share one of the two nodes; live delivery between nodes
 * waits for issue 5), the second sees the first's chat.
 */
async function converse(port, ca, room) {
  const cs = [];
  try {
    for (const l of ['a', 'b', 'c']) {
      const c = await connectWss(port, ca, l);
      cs.push(c);
      await c.hello({ sub: uniq(l) });
    }
    const [a, b] = cs.filter((c) => cs.some((o) => o !== c && o.helloReply.node === c.helloReply.node));
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const ok = await a.ok({ type: 'chat', room, text: 'through the proxy' });
    assert.equal(typeof ok.seq, 'number');
    await b.next(isChat(room, 'through the proxy'), DEFAULT_TIMEOUT, 'the chat through the proxy');
  } finally {
    await Promise.all(cs.map((c) => c.close()));
  }
}

/**
 * Rolling-restart building block, one proxy, two nodes sharing nothing: the
 * node a client is on gets SIGTERM; the close 1001 reaches the client through
 * the proxy as a close frame, the node exits 0, and the client's reconnection
 * through the proxy lands on the other node.
 */
async function drainBehind(port, ca, nodes) {
  const c = await connectWss(port, ca, 'drained');
  const hello = await c.hello({ sub: uniq('d') });
  const from = nodes.find((n) => n.node === hello.node);
  const other = nodes.find((n) => n !== from);
  assert.ok(from, `hello names one of our nodes: ${hello.node}`);
  from.signal('SIGTERM');
  await c.expectClose(1001, ms(8000));
  const again = await connectWss(port, ca, 'reconnected');
  try {
    const h = await again.hello({ sub: uniq('d') });
    assert.equal(h.node, other.node, 'the reconnection lands on the node still running');
  } finally {
    await again.close();
  }
  const exit = await from.waitExit(ms(10000));
  assert.deepEqual(exit, { code: 0, signal: null }, from.describe());
}

test('nginx terminates TLS in front of the nodes: wss:// hello, join, chat; a drained node\'s client moves to the other', async () => {
  const { ca } = await cert();
  const nodes = [await startServer(), await startServer()];
  const [http, tls] = [await freePort(), await freePort()];
  const { dir, conf } = await nginxLocal('nginx-live', { http, https: tls, nodes: nodes.map((n) => n.port) });
  const nginx = startProc('nginx', ['-p', dir + '/', '-c', conf, '-e', path.join(dir, 'error.log')]);
  try {
    const h = await waitFor(
      async () => {
        if (nginx.exit) throw new Error(`nginx exited ${JSON.stringify(nginx.exit)}: ${nginx.out}`);
        return httpsGet(tls, '/healthz', ca).catch(() => null);
      },
      { timeoutMs: ms(10000), what: 'nginx answering /healthz over TLS' },
    );
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'ok');
    const plain = await httpGet({ port: http }, '/ws');
    assert.equal(plain.status, 301, 'plain HTTP redirects');
    assert.match(plain.headers.location, /^https:/);
    const m = await httpsGet(tls, '/metrics', ca);
    assert.equal(m.status, 200, '/metrics from 127.0.0.1');
    assert.ok(parseProm(m.body).types.icebreaker_connections);
    await converse(tls, ca, `lounge:${uniq('n')}`);
    await drainBehind(tls, ca, nodes);
  } finally {
    await nginx.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('haproxy terminates TLS in front of the nodes: wss:// hello, join, chat; a drained node\'s client moves to the other', async () => {
  const { ca } = await cert();
  const nodes = [await startServer(), await startServer()];
  const [http, tls] = [await freePort(), await freePort()];
  const { file } = await haproxyLocal('haproxy-live', { http, https: tls, nodes: nodes.map((n) => n.port) });
  const haproxy = startProc('haproxy', ['-db', '-f', file]);
  try {
    const h = await waitFor(
      async () => {
        if (haproxy.exit) throw new Error(`haproxy exited ${JSON.stringify(haproxy.exit)}: ${haproxy.out}`);
        return httpsGet(tls, '/healthz', ca).catch(() => null);
      },
      { timeoutMs: ms(10000), what: 'haproxy answering /healthz over TLS' },
    );
    assert.equal(h.status, 200);
    const plain = await httpGet({ port: http }, '/ws');
    assert.equal(plain.status, 301, 'plain HTTP redirects');
    await converse(tls, ca, `lounge:${uniq('h')}`);
    await drainBehind(tls, ca, nodes);
    assert.doesNotMatch(haproxy.out, /\[ALERT\]/, haproxy.out);
  } finally {
    await haproxy.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('docs/OPERATIONS.md: the one-node-behind-TLS walkthrough runs as written (ports and folder substituted)', async () => {
  const doc = read('docs/OPERATIONS.md');
  const sec = doc.slice(doc.indexOf('## One node behind TLS'), doc.indexOf('### What the proxies must do'));
  const blocks = [...sec.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 5, 'shell blocks in the walkthrough');
  // the first block installs packages and builds: scripts/test.sh has done both
  assert.match(blocks[0], /install-deps\.sh run/);
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const dir = path.join(TMP, 'walk');
  let script = blocks.slice(1).join('\n');
  script = script
    .replaceAll('/tmp/ib-walk', dir)
    .replaceAll('18080', String(p1))
    .replaceAll('18000', String(p2))
    .replaceAll('18443', String(p3))
    .replaceAll('build/icebreaker', BIN);
  // on failure, stop what the walkthrough started (its node job, its nginx) by pid
  const prologue = `set -euo pipefail\ncleanup() { for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done; if [ -f ${dir}/nginx.pid ]; then kill -QUIT "$(cat ${dir}/nginx.pid)" 2>/dev/null || true; fi; }\ntrap cleanup EXIT\n`;
  const r = await run('bash', ['-c', prologue + script + '\nwait\n'], { timeoutMs: ms(30000) });
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, out);
  assert.match(out, new RegExp(`icebreaker ready on 127\\.0\\.0\\.1:${p1} node node-a`));
  // /healthz on the node, then through nginx over TLS
  assert.equal(r.stdout.match(/^\{"status":"ok","node":"node-a","connections":0,"redis":"off"\}$/gm)?.length, 2, out);
  assert.match(r.stderr, /nginx\.conf test is successful/);
  assert.match(out, /HTTP\/1\.1 301 Moved Permanently/);
  assert.match(out, /< \{"type":"chat","room":"lounge:main","from":\{"id":"alice","name":"Alice"\},"text":"hello over TLS"/);
  assert.match(out, /< \{"type":"ok","re":3,"seq":1\}/);
  assert.match(out, /icebreaker_chat_messages_total 1\n/);
  assert.match(out, /signal 15: draining/);
  await waitFor(() => !fs.existsSync(path.join(dir, 'nginx.pid')), { what: 'the walkthrough\'s nginx to stop' });
});

/**
 * The shell blocks of a section of docs/OPERATIONS.md, each with the output
 * block shown right after it (null when none): [{cmd, out}].
 */
function docSteps(title, nextTitle) {
  const doc = read('docs/OPERATIONS.md');
  const from = doc.indexOf(title);
  const to = doc.indexOf(nextTitle, from);
  assert.ok(from >= 0 && to > from, `docs/OPERATIONS.md has "${title}" before "${nextTitle}"`);
  const sec = doc.slice(from, to);
  const fences = [...sec.matchAll(/^```(\w*)\n([\s\S]*?)^```\n/gm)].map((m) => ({ lang: m[1], body: m[2], start: m.index, end: m.index + m[0].length }));
  const steps = [];
  fences.forEach((f, i) => {
    if (f.lang === 'sh') steps.push({ cmd: f.body, out: null });
    else if (f.lang === '') {
      const prev = fences[i - 1];
      assert.ok(prev?.lang === 'sh' && sec.slice(prev.end, f.start).trim() === '', `an output block right after its commands: ${f.body.slice(0, 80)}`);
      steps.at(-1).out = f.body;
    }
  });
  return steps;
}

test('deploy/install-deps.sh cluster: the packages the two-node walkthrough needs, all installed here', async () => {
  const r = await run(path.join(DEPLOY, 'install-deps.sh'), ['cluster', '--list']);
  assert.equal(r.code, 0, r.stderr);
  const pkgs = r.stdout.trim().split('\n');
  const runPkgs = (await run(path.join(DEPLOY, 'install-deps.sh'), ['run', '--list'])).stdout.trim().split('\n');
  for (const p of runPkgs) assert.ok(pkgs.includes(p), `cluster includes run's ${p}`);
  for (const p of ['redis-server', 'haproxy', 'openssl', 'curl', 'nodejs', 'npm']) assert.ok(pkgs.includes(p), `cluster installs ${p}`);
  const q = await run('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...pkgs]);
  for (const p of pkgs) {
    // node and npm may come from elsewhere than Debian (the script keeps them)
    if ((p === 'nodejs' || p === 'npm') && (await run('sh', ['-c', `command -v ${p === 'nodejs' ? 'node' : 'npm'}`])).code === 0) continue;
    assert.match(q.stdout, new RegExp(`^${p.replace(/[.+]/g, '\\$&')} install ok installed$`, 'm'), `${p} is installed`);
  }
  const bad = await run(path.join(DEPLOY, 'install-deps.sh'), ['cluster-typo', '--list']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /run, cluster or test/);
});

test('docs/OPERATIONS.md: the two-node walkthrough (Redis, two nodes, haproxy with TLS, a rolling restart) runs as written and prints what it shows', async () => {
  const steps = docSteps('## Two nodes behind TLS on loopback', '## Upgrades without losing a round');
  assert.ok(steps.length >= 8, `shell blocks in the walkthrough: ${steps.length}`);
  // the first block installs packages and builds: scripts/test.sh has done both
  assert.match(steps[0].cmd, /^deploy\/install-deps\.sh cluster$/m);
  assert.match(steps[0].cmd, /^npm ci$/m);
  assert.match(steps[0].cmd, /cmake --build --preset default/);
  assert.equal(steps[0].out, null);
  const dir = path.join(TMP, 'cluster-walk');
  const ports = { 16379: await freePort(), 18081: await freePort(), 18082: await freePort(), 18000: await freePort(), 18443: await freePort() };
  const local = (text) => {
    let t = text.replaceAll('/tmp/ib-cluster', dir).replaceAll('build/icebreaker', BIN);
    for (const [doc, real] of Object.entries(ports)) t = t.replaceAll(doc, String(real));
    return t;
  };
  const back = (text) => {
    // (HTTP header lines end in CR LF; a terminal shows them as plain lines)
    let t = text.replaceAll('\r\n', '\n').replaceAll(dir, '/tmp/ib-cluster');
    for (const [doc, real] of Object.entries(ports)) t = t.replaceAll(String(real), doc);
    return t;
  };
  for (const st of steps.slice(1)) for (const doc of Object.keys(ports)) assert.doesNotMatch(local(st.cmd), new RegExp(`\\b${doc}\\b`), 'every port substituted');
  // One bash runs every block in order (as a reader's terminal would), its
  // stderr with its stdout, a marker between blocks. On any failure the trap
  // stops what the walkthrough started, by pid.
  const prologue = [
    'set -eu',
    'exec 2>&1',
    `cleanup() { for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done; if [ -f ${dir}/redis.pid ]; then kill "$(cat ${dir}/redis.pid)" 2>/dev/null || true; fi; }`,
    'trap cleanup EXIT',
    '',
  ].join('\n');
  const body = steps
    .slice(1)
    .map((st, i) => `echo '@@@ step ${i + 1}'\n${local(st.cmd)}`)
    .join('\n');
  const r = await run('bash', ['-c', prologue + body + "\necho '@@@ end'\n"], { timeoutMs: ms(90000), env: { PATH: process.env.PATH } });
  const logs = () =>
    ['node-a.log', 'node-b.log', 'haproxy.log', 'smoke.log', 'redis.log']
      .map((f) => `--- ${f}\n${fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8').slice(-3000) : '(none)'}`)
      .join('\n');
  assert.equal(r.code, 0, `walkthrough exit ${r.code}\n${r.stdout}${r.stderr}\n${logs()}`);
  const parts = r.stdout.split(/^@@@ (?:step \d+|end)\n/m);
  assert.equal(parts.length, steps.length + 1, r.stdout);
  steps.slice(1).forEach((st, i) => {
    const got = back(parts[i + 1]);
    assert.equal(got, st.out ?? '', `block ${i + 2} of the walkthrough prints what the doc shows:\n${st.cmd}\n${logs()}`);
  });
  // The nodes said nothing alarming (sanitizer builds report in their logs).
  for (const f of ['node-a.log', 'node-b.log']) {
    assert.doesNotMatch(fs.readFileSync(path.join(dir, f), 'utf8'), /ERROR: (Address|Leak)Sanitizer|runtime error:|icebreaker error/, `${f}\n${logs()}`);
  }
  // Redis shut down, haproxy and both nodes gone: nothing listens any more.
  for (const p of Object.values(ports)) {
    const open = await new Promise((res) => {
      const sock = net.connect(p, '127.0.0.1', () => (sock.end(), res(true)));
      sock.on('error', () => res(false));
    });
    assert.equal(open, false, `port ${p} still open after the walkthrough`);
  }
});

// The secret the lib's tokens are signed with is the one startServer() gives.
assert.equal(typeof SECRET, 'string');

// Other programs the tests drive (openssl, haproxy, nginx, bash ...): run one
// to completion, or start a long-running one and stop it by its pid. Any
// started process still running when the test process exits is killed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, ms } from './server.mjs';
import { httpGet } from './raw.mjs';
import { waitFor } from './util.mjs';

const procs = new Set();
process.on('exit', () => {
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** Run a command to completion: {code, signal, stdout, stderr}. */
export function run(cmd, args, { timeoutMs = ms(20000), input, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd} (deploy/install-deps.sh test installs it): ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Start a long-running process (a proxy); stop() ends it by its pid. */
export function startProc(cmd, args, { env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  const p = { child, pid: child.pid, out: '', exit: null };
  child.stdout.setEncoding('utf8').on('data', (d) => (p.out = (p.out + d).slice(-20000)));
  child.stderr.setEncoding('utf8').on('data', (d) => (p.out = (p.out + d).slice(-20000)));
  p.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((p.exit = { code, signal }))));
  child.on('error', (e) => (p.out += `\ncannot start ${cmd}: ${e.message}`));
  procs.add(p);
  p.stop = async () => {
    if (!p.exit) {
      process.kill(p.pid, 'SIGTERM');
      let timer;
      const r = await Promise.race([p.exited, new Promise((res) => (timer = setTimeout(res, ms(5000))))]);
      clearTimeout(timer);
      if (!r) {
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      }
    }
    procs.delete(p);
  };
  return p;
}

/**
 * haproxy as deploy/cluster.sh runs it: deploy/haproxy/cluster.cfg plus one
 * `server` line per node port, listening on lbPort; resolves once /healthz
 * answers through it. Returns the startProc handle with `port`.
 */
export async function startClusterLb(dir, lbPort, nodePorts) {
  const cfg =
    fs.readFileSync(path.join(REPO, 'deploy', 'haproxy', 'cluster.cfg'), 'utf8') +
    nodePorts.map((p, i) => `    server node-${i} 127.0.0.1:${p} check\n`).join('');
  const file = path.join(dir, 'haproxy-cluster.cfg');
  fs.writeFileSync(file, cfg);
  const lb = startProc('haproxy', ['-db', '-f', file], { env: { IB_LB_PORT: String(lbPort) } });
  lb.port = lbPort;
  await waitFor(
    async () => {
      if (lb.exit) throw new Error(`haproxy exited ${JSON.stringify(lb.exit)}: ${lb.out}`);
      return (await httpGet({ port: lbPort }, '/healthz').catch(() => null))?.status === 200;
    },
    { timeoutMs: ms(10000), what: 'haproxy answering /healthz' },
  );
  return lb;
}

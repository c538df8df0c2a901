#!/usr/bin/env node
// The goals of issue 8 (and issue 4's round start storm) against one run's
// reports: for each goal, our figure, the peer's figure from the same run,
// the ratio, the goal and whether it is met, as the Markdown table that
// loadtest/RESULTS.md records.
//
//   node goals.mjs DIR...      (directories holding the scenarios' *.json)
//
// Missing reports are shown as "not run".

import fs from 'node:fs';
import path from 'node:path';

const runs = [];
for (const dir of process.argv.slice(2)) {
  for (const f of fs.readdirSync(dir)) {
    // storm-crowd10-*: the --crowd 10 diagnostic pass, not the scenario
    if (f.endsWith('.json') && !f.includes('crowd')) runs.push(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  }
}
const find = (scenario, label, n) =>
  runs.find((r) => r.scenario === scenario && r.label === label && r.conns === n);

const num = (v, d = 2) => (v == null || Number.isNaN(v) || v < 0 ? null : Number(v.toFixed(d)));
const show = (v, unit = '') => (v == null ? 'not run' : `${v}${unit}`);

const rows = [];
function goal(what, ours, peer, ratio, goalText, met, unit = '') {
  rows.push([what, show(ours, unit), show(peer, unit), ratio == null ? 'n/a' : `${ratio.toFixed(2)}x`, goalText,
    met == null ? 'n/a' : met ? '**met**' : 'not met']);
}

// 1. idle memory at 10k
{
  const o = find('idle', 'icebreaker', 10000)?.idle?.rss_per_conn_kib;
  const p = find('idle', 'peer', 10000)?.idle?.rss_per_conn_kib;
  goal('idle: server RSS per connection at 10k', num(o), num(p), o && p ? p / o : null,
    '<= 3.5 KiB', o == null ? null : o <= 3.5, ' KiB');
}
// 2. fan-out at 10k: p99 and deliveries per CPU second
{
  const o = find('fanout', 'icebreaker', 10000)?.fanout;
  const p = find('fanout', 'peer', 10000)?.fanout;
  const op = o?.latency?.p99_ms;
  const pp = p?.latency?.p99_ms;
  goal('fan-out: delivery p99 at 10k members', num(op, 1), num(pp, 1), op && pp ? pp / op : null,
    '< 25 ms', op == null ? null : op < 25, ' ms');
  for (const n of [1000, 5000, 10000]) {
    const a = find('fanout', 'icebreaker', n)?.fanout?.delivered_per_server_cpu_s;
    const b = find('fanout', 'peer', n)?.fanout?.delivered_per_server_cpu_s;
    goal(`fan-out: deliveries per server CPU second at ${n / 1000}k`, num(a, 0), num(b, 0),
      a && b ? a / b : null, '>= 5x the peer', a && b ? a / b >= 5 : null);
  }
}
// 3. connect storm at 10k
{
  const o = find('storm', 'icebreaker', 10000)?.ramp?.conn_per_s;
  const p = find('storm', 'peer', 10000)?.ramp?.conn_per_s;
  goal('connect storm: connections per second at 10k (hello + join)', num(o, 0), num(p, 0),
    o && p ? o / p : null, '>= 3x the peer', o && p ? o / p >= 3 : null);
  const oc = find('storm', 'icebreaker', 10000)?.server?.cpu_us_per_conn;
  const pc = find('storm', 'peer', 10000)?.server?.cpu_us_per_conn;
  goal('connect storm: server CPU per connection at 10k', num(oc, 0), num(pc, 0), oc && pc ? pc / oc : null,
    '(diagnostic)', null, ' us');
}
// 4. round start storm at 10k (issue 4; no peer)
{
  const o = find('sn', 'icebreaker', 10000)?.sn?.ms_to_last_match;
  goal('round start: time to the last sn.match at 10k', num(o, 1), null, null, '< 100 ms',
    o == null ? null : o < 100, ' ms');
}

const head = ['goal', 'icebreaker', 'peer (Node ws), same run', 'ours vs peer (times better)', 'goal', 'met?'];
const out = ['| ' + head.join(' | ') + ' |', '|' + head.map(() => '---').join('|') + '|'];
for (const r of rows) out.push('| ' + r.join(' | ') + ' |');
process.stdout.write(out.join('\n') + '\n');

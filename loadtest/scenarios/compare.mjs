#!/usr/bin/env node
// Puts the generator's JSON reports of one scenario side by side: for each
// client count, icebreaker's figure, the peer's, and their ratio, as a
// Markdown table (the form loadtest/RESULTS.md records). For fanout it also
// writes the gnuplot data file of latency against lounge size.
//
//   node compare.mjs SCENARIO REPORT.json... [--dat FILE]
//
// A report's label says which server it measured ("icebreaker" or "peer").

import fs from 'node:fs';

const args = process.argv.slice(2);
const scenario = args.shift();
let datPath = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dat') datPath = args[++i];
  else files.push(args[i]);
}

const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const sizes = [...new Set(runs.map((r) => r.conns))].sort((a, b) => a - b);
const find = (label, n) => runs.find((r) => r.label === label && r.conns === n);

const fmt = (v, d = 2) => (v === null || v === undefined || v < 0 || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
// Ratio "x times better" where better is smaller (memory, latency) or larger (rates).
const better = (ours, peer, largerIsBetter) => {
  if (ours == null || peer == null || ours <= 0 || peer <= 0) return 'n/a';
  return (largerIsBetter ? ours / peer : peer / ours).toFixed(2) + 'x';
};

function table(head, rows) {
  const out = ['| ' + head.join(' | ') + ' |', '|' + head.map(() => '---').join('|') + '|'];
  for (const r of rows) out.push('| ' + r.join(' | ') + ' |');
  return out.join('\n');
}

function notes() {
  const lines = [];
  for (const r of runs) {
    const bad = [];
    if (r.stopped) bad.push(`stopped early: ${r.stopped}`);
    if (r.ramp.failed) bad.push(`${r.ramp.failed} connections failed`);
    if (r.ramp.closed_later) bad.push(`${r.ramp.closed_later} closed by the server later`);
    if (r.fanout && r.fanout.delivered < r.fanout.expected) {
      bad.push(`${r.fanout.expected - r.fanout.delivered} of ${r.fanout.expected} deliveries missing`);
    }
    if (r.ramp.generator_core_share > 0.8) {
      bad.push(`generator at ${(r.ramp.generator_core_share * 100).toFixed(0)}% of its core during the ramp`);
    }
    if (r.fanout && r.fanout.generator_core_share > 0.8) {
      bad.push(`generator at ${(r.fanout.generator_core_share * 100).toFixed(0)}% of its core`);
    }
    if (bad.length) lines.push(`- ${r.label} at ${r.conns}: ${bad.join('; ')}`);
    for (const n of r.notes || []) lines.push(`  - ${r.label} at ${r.conns}: ${n}`);
    if (r.load) {
      const q = r.load.quiet ? 'quiet' : `still busy after a ${r.load.quiet_wait_s} s wait`;
      lines.push(`- ${r.label} at ${r.conns}: load average ${r.load.loadavg_before} before, ${r.load.loadavg_after} after (${q})`);
    }
  }
  return lines.length ? '\n\n' + lines.join('\n') : '';
}

let md = '';
if (scenario === 'idle') {
  const rows = sizes.map((n) => {
    const o = find('icebreaker', n)?.idle;
    const p = find('peer', n)?.idle;
    return [
      n,
      fmt(o?.rss_per_conn_kib), fmt(p?.rss_per_conn_kib), better(o?.rss_per_conn_kib, p?.rss_per_conn_kib, false),
      fmt(o?.slab_per_conn_kib_both_ends), fmt(p?.slab_per_conn_kib_both_ends),
      fmt(o?.ss_skmem_per_server_socket_kib), fmt(p?.ss_skmem_per_server_socket_kib),
      fmt(o ? o.rss_kib / 1024 : null, 1), fmt(p ? p.rss_kib / 1024 : null, 1),
    ];
  });
  md = table(
    ['clients', 'RSS/conn KiB (ours)', 'RSS/conn KiB (peer)', 'peer/ours',
      'kernel slab/conn KiB, both ends (ours)', '(peer)', 'ss -m KiB/server socket (ours)', '(peer)',
      'RSS MiB (ours)', 'RSS MiB (peer)'],
    rows,
  );
} else if (scenario === 'fanout') {
  const rows = sizes.map((n) => {
    const o = find('icebreaker', n)?.fanout;
    const p = find('peer', n)?.fanout;
    const l = (x, k) => fmt(x?.latency?.[k]);
    return [
      n,
      l(o, 'p50_ms'), l(o, 'p90_ms'), l(o, 'p99_ms'), l(o, 'max_ms'),
      l(p, 'p50_ms'), l(p, 'p90_ms'), l(p, 'p99_ms'), l(p, 'max_ms'),
      better(o?.latency?.p99_ms, p?.latency?.p99_ms, false),
      fmt(o?.delivered_per_server_cpu_s, 0), fmt(p?.delivered_per_server_cpu_s, 0),
      better(o?.delivered_per_server_cpu_s, p?.delivered_per_server_cpu_s, true),
      fmt(o?.server_us_per_delivered), fmt(p?.server_us_per_delivered),
    ];
  });
  md = table(
    ['members', 'p50 ms (ours)', 'p90', 'p99', 'max', 'p50 ms (peer)', 'p90', 'p99', 'max',
      'p99 peer/ours', 'deliveries per CPU s (ours)', '(peer)', 'ours/peer', 'CPU us/delivery (ours)', '(peer)'],
    rows,
  );
  if (datPath) {
    const lines = ['# members ours_p50 ours_p99 peer_p50 peer_p99 (ms)'];
    for (const n of sizes) {
      const o = find('icebreaker', n)?.fanout?.latency;
      const p = find('peer', n)?.fanout?.latency;
      const v = (x, k) => (x && x[k] != null ? x[k].toFixed(3) : 'NaN');
      lines.push([n, v(o, 'p50_ms'), v(o, 'p99_ms'), v(p, 'p50_ms'), v(p, 'p99_ms')].join(' '));
    }
    fs.writeFileSync(datPath, lines.join('\n') + '\n');
  }
} else if (scenario === 'storm') {
  const rows = sizes.map((n) => {
    const o = find('icebreaker', n);
    const p = find('peer', n);
    const h = (r, k, q) => fmt(r?.ramp?.[k]?.[q]);
    return [
      n,
      fmt(o?.ramp.conn_per_s, 0), fmt(p?.ramp.conn_per_s, 0), better(o?.ramp.conn_per_s, p?.ramp.conn_per_s, true),
      h(o, 'hello', 'p50_ms'), h(o, 'hello', 'p99_ms'), h(o, 'join', 'p50_ms'), h(o, 'join', 'p99_ms'),
      h(p, 'hello', 'p50_ms'), h(p, 'hello', 'p99_ms'), h(p, 'join', 'p50_ms'), h(p, 'join', 'p99_ms'),
      fmt(o?.server.cpu_us_per_conn, 0), fmt(p?.server.cpu_us_per_conn, 0),
    ];
  });
  md = table(
    ['clients', 'conn/s (ours)', 'conn/s (peer)', 'ours/peer',
      'hello ok p50 ms (ours)', 'p99', 'join ok p50 ms (ours)', 'p99',
      'hello ok p50 ms (peer)', 'p99', 'join ok p50 ms (peer)', 'p99',
      'server CPU us/conn (ours)', '(peer)'],
    rows,
  );
} else if (scenario === 'sn') {
  const rows = runs.map((r) => [
    r.label, r.conns, r.sn?.participants ?? 'n/a', r.sn?.matched ?? 'n/a', fmt(r.sn?.ms_to_last_match, 1),
    fmt(r.sn?.match?.p50_ms), fmt(r.sn?.match?.p99_ms), fmt(r.sn?.server_cpu_ms, 1), fmt(r.sn?.server_cpu_all_ms, 1),
    fmt(r.sn?.server_round_start_ms, 1), r.sn?.refused ?? '',
  ]);
  md = table(['server', 'clients', 'participants', 'matched', 'ms to last sn.match', 'p50 ms', 'p99 ms',
    'server CPU ms (sn.start to all matched)', 'server CPU ms (all of the round start)',
    'server ms to the last sn.match written', 'refused'], rows);
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
process.stdout.write(md + notes() + '\n');

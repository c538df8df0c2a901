// The host console: create a speed-networking session (strategy, rounds,
// lengths, group size, what happens to an odd one out), run it (start,
// pause, resume, extend, stop) while watching live participant and round
// counts, read its report, and make announcements to the whole event.
//
// The participant count comes from sn.state: the server tells the host who
// created a session of every opt-in and opt-out (at most once a second),
// while the lounge hears it only on phase changes.

import { h, fill, $, say, describeError } from './dom.js';
import { formatSeconds } from './clock.js';

const PHASE_TEXT = { lobby: 'Lobby: waiting to start', round: 'Round running', break: 'Break', paused: 'Paused', ended: 'Ended' };

export class HostConsole {
  constructor(ctx) {
    this.ctx = ctx;
    this.conn = ctx.conn;
    this.sessions = new Map(); // id -> {id, lounge, params, state}
    this.active = null;
    this.root = $('#host');
    this.root.hidden = false;
    this.form = $('#host-create');
    this.formNote = $('#host-create-note');
    this.panel = $('#host-session');
    this.report = $('#host-report');
    this.lastTimer = '';
    $('#host-lounge').value = ctx.lounge;

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.create();
    });
    $('#host-announce').addEventListener('submit', (e) => {
      e.preventDefault();
      this.announce();
    });
    this.conn.addEventListener('sn.state', (e) => this.onState(e.detail));
    this.bindControls();
    setInterval(() => this.tick(), 250);
  }

  async create() {
    const f = new FormData(this.form);
    const params = {
      lounge: String(f.get('lounge')).trim(),
      strategy: f.get('strategy'),
      rounds: Number(f.get('rounds')),
      round_s: Number(f.get('round_s')),
      break_s: Number(f.get('break_s')),
      group_size: Number(f.get('group_size')),
      odd: f.get('odd'),
    };
    if (!/^lounge:/.test(params.lounge)) params.lounge = `lounge:${params.lounge}`;
    const button = this.form.querySelector('button[type=submit]');
    button.disabled = true;
    this.formNote.textContent = '';
    try {
      const ok = await this.conn.request('sn.create', params);
      const s = this.sessions.get(ok.session) || { id: ok.session, state: null };
      s.params = params;
      s.lounge = params.lounge;
      this.sessions.set(ok.session, s);
      this.active = ok.session;
      this.formNote.textContent = `Session ${ok.session} created. Attendees in ${params.lounge} can now join it.`;
      this.renderPanel();
      $('#host-start').focus();
    } catch (err) {
      this.formNote.textContent = `Not created: ${describeError(err)}`;
    } finally {
      button.disabled = false;
    }
  }

  onState(st) {
    // Only sessions made from this console are run from here.
    const s = this.sessions.get(st.session);
    if (!s) return;
    s.state = st;
    if (st.phase === 'paused') {
      const prev = s.lastTimed;
      s.frozenLeft = prev ? Math.max(0, prev.ends_at - st.server_time) : null;
    } else if (typeof st.ends_at === 'number') {
      s.lastTimed = st;
    }
    if (st.session === this.active) this.renderPanel();
  }

  renderPanel() {
    const s = this.sessions.get(this.active);
    if (!s) {
      this.panel.hidden = true;
      return;
    }
    this.panel.hidden = false;
    const st = s.state || { phase: 'lobby', round: 0, rounds: s.params.rounds, participants: 0 };
    this.panel.dataset.phase = st.phase;
    this.panel.dataset.session = s.id;
    $('#host-session-id').textContent = s.id;
    $('#host-phase').textContent = PHASE_TEXT[st.phase] || st.phase;
    $('#host-round').textContent = `${st.round} of ${st.rounds}`;
    $('#host-participants').textContent = String(st.participants);
    $('#host-settings').textContent = `${s.params.strategy}, ${s.params.rounds} × ${formatSeconds(s.params.round_s)} with ${formatSeconds(s.params.break_s)} breaks, groups of ${s.params.group_size}, odd one out: ${s.params.odd === 'bye' ? 'sits out' : 'joins a group'}`;
    const can = {
      start: st.phase === 'lobby',
      pause: st.phase === 'round' || st.phase === 'break',
      resume: st.phase === 'paused',
      extend: st.phase === 'round',
      stop: st.phase !== 'ended',
    };
    for (const [verb, ok] of Object.entries(can)) $(`#host-${verb}`).disabled = !ok;
    $('#host-extend-s').disabled = !can.extend;
    const link = $('#host-report-link');
    link.href = `/api/sessions/${encodeURIComponent(s.id)}/report`;
    this.tick();
  }

  tick() {
    const s = this.sessions.get(this.active);
    if (!s || !s.state) return;
    const st = s.state;
    let text = '—';
    if ((st.phase === 'round' || st.phase === 'break') && typeof st.ends_at === 'number') text = formatSeconds(this.ctx.clock.secondsUntil(st.ends_at));
    else if (st.phase === 'paused' && s.frozenLeft !== null && s.frozenLeft !== undefined) text = `${formatSeconds(Math.ceil(s.frozenLeft / 1000))} (paused)`;
    if (text !== this.lastTimer) {
      $('#host-left').textContent = text;
      this.lastTimer = text;
    }
  }

  /** Run a host verb on the active session. */
  async control(verb, extra = {}) {
    const s = this.sessions.get(this.active);
    if (!s) return;
    const note = $('#host-control-note');
    note.textContent = '';
    try {
      await this.conn.request(`sn.${verb}`, { session: s.id, ...extra });
      const done = { start: 'Started: round 1 is running.', pause: 'Paused.', resume: 'Resumed.', extend: `Extended by ${extra.seconds} seconds.`, stop: 'Stopped.' };
      note.textContent = done[verb];
    } catch (err) {
      note.textContent = `${verb}: ${describeError(err)}`;
    }
  }

  bindControls() {
    $('#host-start').addEventListener('click', () => this.control('start'));
    $('#host-pause').addEventListener('click', () => this.control('pause'));
    $('#host-resume').addEventListener('click', () => this.control('resume'));
    $('#host-stop').addEventListener('click', () => this.control('stop'));
    $('#host-extend').addEventListener('click', () => {
      const seconds = Number($('#host-extend-s').value);
      this.control('extend', { seconds });
    });
    $('#host-report-link').addEventListener('click', (e) => {
      e.preventDefault();
      this.loadReport();
    });
  }

  async loadReport() {
    const s = this.sessions.get(this.active);
    if (!s) return;
    fill(this.report, h('p', {}, 'Loading the report…'));
    this.report.hidden = false;
    try {
      const res = await fetch(`/api/sessions/${encodeURIComponent(s.id)}/report`, {
        headers: { Authorization: `Bearer ${this.ctx.token}` },
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
      this.renderReport(body);
    } catch (err) {
      fill(this.report, h('p', { role: 'alert' }, `The report could not be loaded: ${describeError(err)}`));
    }
  }

  renderReport(r) {
    const names = new Map(r.participants.map((p) => [p.id, p.name]));
    const name = (id) => names.get(id) || id;
    const blob = new Blob([JSON.stringify(r, null, 2)], { type: 'application/json' });
    if (this.reportUrl) URL.revokeObjectURL(this.reportUrl);
    this.reportUrl = URL.createObjectURL(blob);
    const hist = r.ratings.histogram;
    fill(
      this.report,
      h('h4', { id: 'host-report-h', tabindex: '-1' }, `Report for ${r.session}`),
      h(
        'dl',
        { class: 'stats' },
        h('div', {}, h('dt', {}, 'Phase'), h('dd', {}, PHASE_TEXT[r.phase] || r.phase)),
        h('div', {}, h('dt', {}, 'Rounds run'), h('dd', { dataset: { field: 'rounds_run' } }, `${r.rounds_run} of ${r.rounds}`)),
        h('div', {}, h('dt', {}, 'Participants'), h('dd', {}, String(r.participants.length))),
        h('div', {}, h('dt', {}, 'Ratings'), h('dd', {}, r.ratings.count ? `${r.ratings.count}, mean ${r.ratings.mean.toFixed(1)} (${[1, 2, 3, 4, 5].map((n) => `${n}★ ${hist[n]}`).join(', ')})` : 'none yet')),
        h('div', {}, h('dt', {}, 'Mutual connections'), h('dd', { dataset: { field: 'connections' } }, String(r.connections.length))),
      ),
      r.connections.length ? h('ul', { class: 'report-list' }, r.connections.map((c) => h('li', {}, `${name(c.a)} and ${name(c.b)} (round ${c.round})`))) : null,
      h('h5', {}, 'Rounds'),
      h(
        'ol',
        { class: 'report-list' },
        r.history.map((round) =>
          h(
            'li',
            {},
            round.groups.map((g) => g.map(name).join(' + ')).join('; ') || 'no groups',
            round.byes.length ? ` · sat out: ${round.byes.map(name).join(', ')}` : '',
          ),
        ),
      ),
      h('p', {}, h('a', { href: this.reportUrl, download: `${r.session}-report.json` }, 'Download the report (JSON)')),
    );
    $('#host-report-h').focus();
  }

  async announce() {
    const input = $('#host-announce-text');
    const note = $('#host-announce-note');
    const text = input.value.trim();
    if (!text) return;
    try {
      const ok = await this.conn.request('announce', { text });
      input.value = '';
      note.textContent = `Sent to ${ok.users} connected ${ok.users === 1 ? 'person' : 'people'}.`;
    } catch (err) {
      note.textContent = `Not sent: ${describeError(err)}`;
    }
    say(note.textContent);
  }
}

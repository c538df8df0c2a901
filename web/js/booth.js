// Booths. Visitors queue at an exhibitor's booth and see their place and the
// estimated wait; staff take the next visitor; the two talk over video in a
// meet: room; the visitor may share their contact details as a lead.
//
// Visitor: booth.queue -> position and wait_s (null until the booth has
// finished a meeting), then booth.position events as the queue moves;
// booth.meet when staff take them; booth.end when either side leaves.
// Staff (an exhibitor whose token names the booth): booth.next, booth.meet,
// booth.lead events, and the HTTP API for stats and the lead export.

import { h, fill, $, say, describeError, initials, ordinal } from './dom.js';
import { Call } from './rtc.js';

function waitText(wait_s) {
  if (wait_s === null || wait_s === undefined) return 'No wait estimate yet: this booth has not finished a conversation.';
  if (wait_s <= 0) return 'Any moment now.';
  if (wait_s < 60) return `About ${wait_s} second${wait_s === 1 ? '' : 's'} to wait.`;
  const m = Math.round(wait_s / 60);
  return `About ${m} minute${m === 1 ? '' : 's'} to wait.`;
}

export class BoothView {
  constructor(ctx) {
    this.ctx = ctx;
    this.conn = ctx.conn;
    this.staffOf = ctx.me.role === 'exhibitor' && ctx.me.booth ? ctx.me.booth : null;
    this.queued = null; // {booth, position, wait_s}
    this.meeting = null; // {booth, room, with}
    this.call = null;
    this.leads = new Map();
    this.root = $('#booth');
    this.heading = $('#booth-h');
    this.body = $('#booth-body');
    this.conn.addEventListener('booth.position', (e) => this.onPosition(e.detail));
    this.conn.addEventListener('booth.meet', (e) => this.onMeet(e.detail));
    this.conn.addEventListener('booth.end', (e) => this.onEnd(e.detail));
    this.conn.addEventListener('booth.lead', (e) => this.onLead(e.detail));
    if (this.staffOf) {
      this.heading.textContent = `Your booth: ${this.staffOf}`;
      this.conn.addEventListener('ready', () => {
        this.refreshStats();
        this.loadLeads();
      });
      setInterval(() => {
        if (document.visibilityState === 'visible' && this.conn.state === 'open') this.refreshStats();
      }, 10000);
    }
    const fromUrl = new URLSearchParams(location.search).get('booth');
    this.suggested = fromUrl && /^[A-Za-z0-9._-]{1,64}$/.test(fromUrl) ? fromUrl : '';
    this.render();
  }

  // ---- rendering ------------------------------------------------------

  render() {
    if (this.call && (!this.meeting || this.meeting.ended)) {
      this.call.close();
      this.call = null;
    }
    // Re-rendering replaces the buttons: keep the keyboard focus where it was.
    const focused = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.id : null;
    if (this.staffOf) this.renderStaff();
    else this.renderVisitor();
    if (focused && document.activeElement === document.body) {
      const again = document.getElementById(focused);
      if (again) again.focus();
      else this.heading.focus();
    }
    // The video lives in a container that is never re-rendered: moving a
    // playing <video> around the DOM would pause it.
    const live = Boolean(this.meeting && !this.meeting.ended);
    $('#booth-media').hidden = !live;
    if (live && !this.call) {
      $('#booth-call-status').textContent = '';
      this.call = new Call({
        conn: this.conn,
        room: this.meeting.room,
        me: this.ctx.me,
        partners: [this.meeting.with],
        iceServers: this.ctx.config.iceServers,
        container: $('#booth-call'),
        onStatus: (t) => {
          $('#booth-call-status').textContent = t;
        },
      });
    }
  }

  meetingBlock(asStaff) {
    const m = this.meeting;
    if (!m) return null;
    const w = m.with;
    const title = asStaff ? `Talking with ${w.name}` : `Talking with ${w.name} of ${m.booth}`;
    if (m.ended) {
      return h(
        'div',
        { class: 'card meeting', dataset: { state: 'ended', room: m.room } },
        h('p', {}, `Your conversation with ${w.name} has ended.`),
        asStaff ? null : this.leadBlock(m.booth),
      );
    }
    return h(
      'div',
      { class: 'card meeting', dataset: { state: 'live', room: m.room } },
      h('h3', {}, title),
      h(
        'div',
        { class: 'partner' },
        h('span', { class: 'avatar avatar-lg', 'aria-hidden': 'true' }, initials(w.name)),
        h('div', {}, h('p', { class: 'partner-name' }, w.name), w.headline ? h('p', { class: 'partner-headline' }, w.headline) : null),
      ),
      asStaff ? null : this.leadBlock(m.booth),
      h('button', { id: 'booth-end', type: 'button', class: 'danger', onclick: () => this.endMeeting() }, 'End the conversation'),
    );
  }

  leadBlock(booth) {
    const shared = this.leads.get(`mine:${booth}`) === true;
    return h(
      'div',
      { class: 'lead' },
      h(
        'p',
        { class: 'hint' },
        shared ? `${booth} has your contact details.` : `Want ${booth} to follow up? Your contact details go to them only if you say so.`,
      ),
      h(
        'button',
        { id: 'booth-lead-button', type: 'button', class: shared ? '' : 'primary', onclick: () => this.consent(booth, !shared) },
        shared ? `Withdraw my details from ${booth}` : `Share my contact details with ${booth}`,
      ),
    );
  }

  renderVisitor() {
    const q = this.queued;
    const form = h(
      'form',
      { id: 'booth-queue-form', class: 'inline-form', onsubmit: (e) => this.queue(e) },
      h('label', { for: 'booth-id' }, 'Booth to visit'),
      h('input', { id: 'booth-id', name: 'booth', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', autocomplete: 'off', value: q ? q.booth : this.suggested, placeholder: 'e.g. acme' }),
      h('button', { id: 'booth-join', type: 'submit', class: 'primary' }, 'Join the queue'),
    );
    const parts = [];
    if (this.meeting) parts.push(this.meetingBlock(false));
    if (q) {
      parts.push(
        h(
          'div',
          { class: 'card queue', dataset: { booth: q.booth, position: q.position } },
          h('p', { id: 'booth-position', class: 'big' }, q.position === 1 ? `You are next at ${q.booth}.` : `You are ${ordinal(q.position)} in line at ${q.booth}.`),
          h('p', {}, waitText(q.wait_s)),
          h('button', { id: 'booth-unqueue', type: 'button', onclick: () => this.unqueue() }, 'Leave the queue'),
        ),
      );
    } else if (!this.meeting || this.meeting.ended) {
      parts.push(h('p', { class: 'hint', id: 'booth-hint' }, 'Exhibitors talk with visitors one at a time. Queue here and keep this page open: the conversation starts by itself when it is your turn.'), form);
    }
    parts.push(h('p', { id: 'booth-note', role: 'status', class: 'note' }));
    fill(this.body, parts);
  }

  renderStaff() {
    const stats = this.stats;
    const leads = [...this.leads.entries()].filter(([k]) => !k.startsWith('mine:')).map(([, v]) => v);
    fill(
      this.body,
      h(
        'div',
        { class: 'staff-bar' },
        h('button', { id: 'booth-next', type: 'button', class: 'primary', disabled: this.meeting && !this.meeting.ended ? true : null, onclick: () => this.next() }, 'Next visitor'),
        h('p', { id: 'booth-stats' }, this.statsText()),
      ),
      h('p', { id: 'booth-note', role: 'status', class: 'note' }),
      this.meetingBlock(true),
    );
    fill(
      $('#booth-extra'),
      h('h3', {}, 'Leads'),
      leads.length
        ? h(
            'ul',
            { class: 'leads' },
            leads.map((l) => h('li', { dataset: { user: l.id } }, h('strong', {}, l.name), l.headline ? ` · ${l.headline}` : '', l.email ? ` · ${l.email}` : '', l.company ? ` · ${l.company}` : '')),
          )
        : h('p', { class: 'hint' }, 'Visitors who share their details appear here.'),
      h('button', { id: 'booth-export-button', type: 'button', onclick: () => this.exportCsv() }, 'Download leads (CSV)'),
      h('span', { id: 'booth-export' }),
    );
  }

  note(text) {
    const el = $('#booth-note');
    if (el) el.textContent = text;
  }

  // ---- visitor --------------------------------------------------------

  async queue(e) {
    e.preventDefault();
    const booth = $('#booth-id').value.trim();
    try {
      const ok = await this.conn.request('booth.queue', { booth });
      this.queued = { booth: ok.booth, position: ok.position, wait_s: ok.wait_s };
      this.render();
      say(`You are in the queue at ${booth}, ${ordinal(ok.position)} in line.`);
    } catch (err) {
      this.note(err.code === 'conflict' ? `You cannot queue at ${booth} now: ${err.message}` : describeError(err));
    }
  }

  async unqueue() {
    const q = this.queued;
    if (!q) return;
    try {
      await this.conn.request('booth.unqueue', { booth: q.booth });
    } catch (err) {
      if (err.code !== 'not_found') {
        this.note(describeError(err));
        return;
      }
    }
    this.queued = null;
    this.render();
    say(`You left the queue at ${q.booth}.`);
  }

  onPosition(p) {
    if (this.staffOf) return;
    this.queued = { booth: p.booth, position: p.position, wait_s: p.wait_s };
    this.render();
    if (p.position === 1) say(`You are next at ${p.booth}.`);
  }

  async consent(booth, yes) {
    try {
      await this.conn.request('booth.lead', { booth, consent: yes });
      this.leads.set(`mine:${booth}`, yes);
      say(yes ? `Your details were shared with ${booth}.` : `Your details were withdrawn from ${booth}.`);
    } catch (err) {
      say(`Not done: ${describeError(err)}`, { assertive: true });
    }
    this.render();
  }

  // ---- both -----------------------------------------------------------

  onMeet(m) {
    if (this.meeting && this.meeting.room === m.room && !this.meeting.ended) return;
    if (this.call) this.call.close();
    this.call = null;
    this.meeting = { booth: m.booth, room: m.room, with: m.with, ended: false };
    if (this.queued && this.queued.booth === m.booth) this.queued = null;
    this.render();
    say(`Your conversation with ${m.with.name} is starting.`, { assertive: true });
  }

  onEnd(e) {
    if (!this.meeting || this.meeting.room !== e.room) return;
    this.meeting.ended = true;
    this.render();
    say(`The conversation with ${this.meeting.with.name} has ended.`);
    if (this.staffOf) this.refreshStats();
  }

  async endMeeting() {
    const m = this.meeting;
    if (!m) return;
    try {
      await this.conn.request('leave', { room: m.room });
    } catch (err) {
      if (err.code !== 'not_found') {
        this.note(describeError(err));
        return;
      }
    }
    m.ended = true;
    this.render();
  }

  // ---- staff ----------------------------------------------------------

  async next() {
    try {
      await this.conn.request('booth.next', { booth: this.staffOf });
    } catch (err) {
      this.note(err.code === 'not_found' ? 'No one is waiting right now.' : describeError(err));
    }
    this.refreshStats();
  }

  onLead(e) {
    if (!this.staffOf) return;
    this.leads.set(e.lead.id, e.lead);
    this.render();
    this.refreshStats();
    say(`New lead: ${e.lead.name}.`);
  }

  async api(path, accept = 'application/json') {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${this.ctx.token}`, Accept: accept } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return accept === 'application/json' ? res.json() : res.text();
  }

  statsText() {
    const s = this.stats;
    if (!s) return '';
    const wait = s.median_wait_s !== null && s.median_wait_s !== undefined ? ` · median wait ${Math.round(s.median_wait_s)} s` : '';
    return `${s.queued} waiting · ${s.meetings} conversations · ${s.leads} leads${wait}`;
  }

  async refreshStats() {
    try {
      this.stats = await this.api(`/api/booths/${encodeURIComponent(this.staffOf)}/stats`);
      const el = $('#booth-stats');
      if (el) el.textContent = this.statsText();
    } catch {
      /* stats are a convenience; the next refresh will try again */
    }
  }

  async loadLeads() {
    try {
      const body = await this.api(`/api/booths/${encodeURIComponent(this.staffOf)}/leads`);
      for (const l of body.leads) this.leads.set(l.id, l);
      this.render();
    } catch {
      /* as above */
    }
  }

  async exportCsv() {
    const out = $('#booth-export');
    try {
      const csv = await this.api(`/api/booths/${encodeURIComponent(this.staffOf)}/leads`, 'text/csv');
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      fill(out, ' ', h('a', { href: url, download: `${this.staffOf}-leads.csv` }, 'Save the CSV file'));
      out.querySelector('a').click();
    } catch (err) {
      fill(out, ` Export failed: ${describeError(err)}`);
    }
  }
}

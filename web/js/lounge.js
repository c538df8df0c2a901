// The lounge: who is here (presence and status) and the chat, with history.
//
// After every accepted hello the lounge is joined again: on a fresh session
// that enters the room, on a resumed one it is a harmless re-join whose
// answer (members and the last messages) fills in whatever was missed while
// the link was down, since the server does not replay missed events.
// Messages are kept by `seq`, so history and live messages never repeat.
//
// Hosts and admins get a Delete button on messages (chat.delete) and Kick in
// each person's actions; everyone can block someone (they are never paired
// with them again and their chat stops reaching you).

import { h, fill, $, say, timeOfDay, describeError, initials } from './dom.js';

const STATUS_TEXT = { available: 'Available', busy: 'Busy', away: 'Away' };

export class LoungeView {
  constructor(ctx) {
    this.ctx = ctx;
    this.room = ctx.lounge;
    this.members = new Map();
    this.count = 0;
    this.messages = new Map(); // seq -> li
    this.blocked = new Set();
    this.list = $('#people-list');
    this.countEl = $('#people-count');
    this.log = $('#chat-log');
    this.form = $('#chat-form');
    this.input = $('#chat-text');
    this.note = $('#chat-note');
    this.more = $('#people-more');
    this.isHost = ctx.me.role === 'host' || ctx.me.role === 'admin';
    $('#lounge-name').textContent = this.room.replace(/^lounge:/, '');

    const { conn } = ctx;
    conn.addEventListener('ready', () => this.enter());
    conn.addEventListener('presence', (e) => this.onPresence(e.detail));
    conn.addEventListener('presence.count', (e) => {
      if (e.detail.room === this.room) this.setCount(e.detail.count);
    });
    conn.addEventListener('chat', (e) => {
      if (e.detail.room === this.room) this.addMessage(e.detail, true);
    });
    conn.addEventListener('chat.delete', (e) => {
      if (e.detail.room === this.room) this.removeMessage(e.detail.seq, e.detail.by);
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.more.addEventListener('click', () => this.loadMore());
  }

  async enter() {
    try {
      const ok = await this.ctx.conn.request('join', { room: this.room });
      this.members.clear();
      for (const m of ok.members) this.members.set(m.id, m);
      this.setCount(ok.count);
      this.renderPeople();
      for (const m of ok.history) this.addMessage(m, false);
      this.log.setAttribute('aria-live', 'polite');
      this.scrollChat();
      this.ctx.emit('lounge-joined', ok);
    } catch (err) {
      this.note.textContent = `Could not enter the lounge: ${describeError(err)}`;
    }
  }

  setCount(n) {
    this.count = n;
    this.countEl.textContent = `(${n})`;
    this.more.hidden = this.members.size >= n;
  }

  async loadMore() {
    try {
      const ok = await this.ctx.conn.request('members', { room: this.room, offset: this.members.size, limit: 100 });
      for (const m of ok.members) this.members.set(m.id, m);
      this.setCount(ok.count);
      this.renderPeople();
    } catch (err) {
      say(`Could not load more people: ${describeError(err)}`);
    }
  }

  onPresence(p) {
    if (p.room !== this.room) return;
    if (p.state === 'left') {
      this.members.delete(p.user.id);
      this.setCount(Math.max(0, this.count - 1));
    } else {
      const arrived = !this.members.has(p.user.id);
      this.members.set(p.user.id, p.user);
      if (arrived) this.setCount(this.count + 1);
    }
    this.renderPeople();
  }

  /** My own status changed (presence events go to the others only). */
  setMyStatus(status) {
    const me = this.members.get(this.ctx.me.id);
    if (me) {
      me.status = status;
      this.renderPeople();
    }
  }

  renderPeople() {
    const people = [...this.members.values()];
    const items = people.map((m) => {
      const mine = m.id === this.ctx.me.id;
      const status = m.status || 'available';
      return h(
        'li',
        { class: 'person', dataset: { user: m.id, status } },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(m.name)),
        h(
          'span',
          { class: 'person-main' },
          h('span', { class: 'person-name' }, m.name, mine ? ' (you)' : ''),
          h(
            'span',
            { class: 'person-meta' },
            h('span', { class: `dot dot-${status}`, 'aria-hidden': 'true' }),
            STATUS_TEXT[status] || status,
            m.role !== 'attendee' ? ` · ${m.role}` : '',
          ),
        ),
        mine ? null : this.actions(m),
      );
    });
    fill(this.list, items);
  }

  actions(m) {
    const blocked = this.blocked.has(m.id);
    const buttons = [
      h(
        'button',
        { type: 'button', class: 'small', onclick: () => this.toggleBlock(m) },
        blocked ? `Unblock ${m.name}` : `Block ${m.name}`,
      ),
    ];
    if (this.isHost && m.role !== 'admin') {
      buttons.push(h('button', { type: 'button', class: 'small danger', onclick: () => this.kick(m) }, `Remove ${m.name} from the event`));
    }
    return h(
      'details',
      { class: 'person-actions' },
      h('summary', { 'aria-label': `Actions for ${m.name}` }, '⋯'),
      h('div', { class: 'menu' }, buttons),
    );
  }

  async toggleBlock(m) {
    const verb = this.blocked.has(m.id) ? 'unblock' : 'block';
    try {
      await this.ctx.conn.request(verb, { user: m.id });
      if (verb === 'block') this.blocked.add(m.id);
      else this.blocked.delete(m.id);
      say(verb === 'block' ? `${m.name} is blocked: you will not be paired and will not see their messages.` : `${m.name} is unblocked.`);
      this.renderPeople();
    } catch (err) {
      say(`Could not ${verb} ${m.name}: ${describeError(err)}`, { assertive: true });
    }
  }

  async kick(m) {
    try {
      await this.ctx.conn.request('kick', { user: m.id, reason: 'Removed by the host' });
      say(`${m.name} was removed from the event.`);
    } catch (err) {
      say(`Could not remove ${m.name}: ${describeError(err)}`, { assertive: true });
    }
  }

  addMessage(m, live) {
    if (this.messages.has(m.seq)) return;
    const mine = m.from.id === this.ctx.me.id;
    const li = h(
      'li',
      { class: `msg${mine ? ' msg-mine' : ''}`, dataset: { seq: m.seq, from: m.from.id } },
      h(
        'p',
        { class: 'msg-head' },
        h('span', { class: 'msg-from' }, mine ? 'You' : m.from.name),
        ' ',
        h('time', { datetime: new Date(m.ts).toISOString() }, timeOfDay(m.ts)),
      ),
      h('p', { class: 'msg-text' }, m.text),
      this.isHost
        ? h(
            'button',
            { type: 'button', class: 'small link msg-delete', onclick: () => this.deleteMessage(m) },
            'Delete',
            h('span', { class: 'visually-hidden' }, ` message from ${m.from.name}`),
          )
        : null,
    );
    // Keep the log in seq order even when history and live messages interleave.
    let before = null;
    for (const [seq, el] of this.messages) {
      if (seq > m.seq && (!before || seq < Number(before.dataset.seq))) before = el;
    }
    this.messages.set(m.seq, li);
    this.log.insertBefore(li, before);
    if (this.messages.size > 200) {
      const oldest = Math.min(...this.messages.keys());
      this.messages.get(oldest).remove();
      this.messages.delete(oldest);
    }
    if (live) this.scrollChat();
  }

  removeMessage(seq, by) {
    const li = this.messages.get(seq);
    if (!li) return;
    li.classList.add('msg-deleted');
    fill(li, h('p', { class: 'msg-text' }, `Message removed by ${by && by.name ? by.name : 'a host'}.`));
  }

  async deleteMessage(m) {
    try {
      await this.ctx.conn.request('chat.delete', { room: this.room, seq: m.seq });
    } catch (err) {
      say(`Could not delete the message: ${describeError(err)}`, { assertive: true });
    }
  }

  scrollChat() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    this.note.textContent = '';
    const button = this.form.querySelector('button');
    button.disabled = true;
    try {
      await this.ctx.conn.request('chat', { room: this.room, text });
      this.input.value = '';
    } catch (err) {
      this.note.textContent = `Not sent: ${describeError(err)}`;
    } finally {
      button.disabled = false;
      this.input.focus();
    }
  }
}

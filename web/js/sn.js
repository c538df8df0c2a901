// Speed networking, the attendee's side: opt in, the round clock, the
// partner's card with why you were matched, the video call, feedback and
// "stay in touch" after each conversation, and the mutual connections.
//
// The server drives everything: sn.state (phase, round, ends_at,
// server_time) for the clock, sn.match for the partners and the pair: room,
// sn.warning for the 30-second warning, connection when both sides said yes.
// For a new round sn.state comes before the sn.match messages, so a state
// with a higher round than the match on screen clears it.

import { h, fill, $, say, describeError, initials } from './dom.js';
import { formatSeconds, spokenSeconds } from './clock.js';
import { Call, setMicEnabled, setCameraEnabled } from './rtc.js';

const TICK_MS = 250;

/** One `shared` entry from sn.match as a sentence. */
function reason(tag) {
  let m = /^you offer: (.*)$/.exec(tag);
  if (m) return `You offer ${m[1]}; they are looking for it`;
  m = /^they offer: (.*)$/.exec(tag);
  if (m) return `They offer ${m[1]}; you are looking for it`;
  return `You both like ${tag}`;
}

export class SpeedNetworkingView {
  constructor(ctx) {
    this.ctx = ctx;
    this.conn = ctx.conn;
    this.sessions = new Map(); // id -> last sn.state (+ frozenLeft while paused)
    this.current = null;
    this.joined = new Set();
    this.match = null;
    this.call = null;
    this.feedback = new Map(); // "session/round/partner" -> entry
    this.connections = new Map();
    this.micOn = true;
    this.camOn = true;
    this.lastTimerText = '';

    this.root = $('#sn');
    this.summary = $('#sn-summary');
    this.timer = $('#sn-timer');
    this.optin = $('#sn-optin');
    this.optinNote = $('#sn-optin-note');
    this.warning = $('#sn-warning');
    this.matchEl = $('#sn-match');
    this.fbList = $('#sn-feedback-list');
    this.fbSection = $('#sn-feedback');
    this.connList = $('#sn-connections-list');
    this.connSection = $('#sn-connections');

    this.optin.addEventListener('click', () => this.toggleOptIn());
    this.conn.addEventListener('sn.state', (e) => this.onState(e.detail));
    this.conn.addEventListener('sn.match', (e) => this.onMatch(e.detail));
    this.conn.addEventListener('sn.warning', (e) => this.onWarning(e.detail));
    this.conn.addEventListener('connection', (e) => this.onConnection(e.detail));
    setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  get state() {
    return this.current ? this.sessions.get(this.current) : null;
  }

  onState(st) {
    const prev = this.sessions.get(st.session);
    if (st.phase === 'paused') {
      // ends_at is null while paused: keep showing the time that was left.
      const before = prev && typeof prev.ends_at === 'number' ? prev.ends_at - prev.server_time : null;
      const passed = prev ? st.server_time - prev.server_time : 0;
      st.frozenLeft = prev && prev.phase === 'paused' ? prev.frozenLeft : before === null ? null : Math.max(0, before - passed);
    }
    this.sessions.set(st.session, st);
    const shown = this.state;
    if (!shown || shown.session === st.session || shown.phase === 'ended' || st.phase !== 'ended') {
      this.current = st.session;
    }
    if (st.session !== this.current) return;

    const m = this.match;
    if (m && m.session === st.session) {
      const over = st.phase === 'break' || st.phase === 'ended' || st.phase === 'lobby' || (st.phase === 'round' && st.round > m.round);
      if (over) this.endMatch(st);
    }
    if (!prev || prev.phase !== st.phase || prev.round !== st.round) this.announcePhase(st);
    if (st.phase !== 'round') this.warning.hidden = true;
    this.render();
  }

  announcePhase(st) {
    if (st.phase === 'lobby') say('A speed networking session is open. Join it to be paired when it starts.');
    else if (st.phase === 'break') say(`Round ${st.round} is over. Short break: the next round starts in ${spokenSeconds(this.ctx.clock.secondsUntil(st.ends_at))}.`);
    else if (st.phase === 'paused') say('The host paused speed networking.');
    else if (st.phase === 'ended') say('Speed networking is over. You can still rate your conversations.');
    else if (st.phase === 'round' && !this.joined.has(st.session)) say(`Speed networking round ${st.round} of ${st.rounds} has started.`);
  }

  onMatch(m) {
    this.joined.add(m.session);
    if (!this.sessions.has(m.session)) {
      this.sessions.set(m.session, { session: m.session, phase: 'round', round: m.round, rounds: m.round, participants: null, ends_at: m.ends_at, server_time: this.ctx.clock.now() });
    }
    this.current = m.session;
    const st = this.sessions.get(m.session);
    if (st.phase === 'round' && typeof m.ends_at === 'number') st.ends_at = m.ends_at;

    const same = this.match && this.match.session === m.session && this.match.round === m.round && this.call && this.call.sameAs(m.room, m.partners);
    this.match = m;
    for (const p of m.partners) this.addFeedback(m.session, m.round, p);
    if (!same) {
      if (this.call) this.call.close();
      this.call = null;
      this.renderMatch();
      if (m.room && m.partners.length) {
        this.call = new Call({
          conn: this.conn,
          room: m.room,
          me: this.ctx.me,
          partners: m.partners,
          iceServers: this.ctx.config.iceServers,
          container: $('#sn-call'),
          onStatus: (text) => {
            const el = $('#sn-call-status');
            if (el) el.textContent = text;
          },
        });
        const names = m.partners.map((p) => p.name).join(' and ');
        say(`Round ${m.round} has started. You are meeting ${names}.`, { assertive: true });
      } else {
        say(`Round ${m.round}: you sit this round out.`, { assertive: true });
      }
    }
    this.render();
  }

  endMatch() {
    if (this.call) this.call.close();
    this.call = null;
    this.match = null;
    this.renderMatch();
  }

  onWarning(w) {
    if (w.session !== this.current) return;
    this.warning.hidden = false;
    this.warning.textContent = `${w.seconds_left} seconds left in this round: time to wrap up and swap details if you want to stay in touch.`;
  }

  async toggleOptIn() {
    const st = this.state;
    if (!st) return;
    const leaving = this.joined.has(st.session);
    this.optin.disabled = true;
    try {
      const ok = await this.conn.request(leaving ? 'sn.leave' : 'sn.join', { session: st.session });
      if (leaving) {
        this.joined.delete(st.session);
        if (this.match && this.match.session === st.session) this.endMatch();
        say('You left speed networking.');
      } else {
        this.joined.add(st.session);
        say(ok.phase === 'round' ? 'You are in. You will be paired from the next round.' : 'You are in. You will be paired when the round starts.');
      }
    } catch (err) {
      if (!leaving && err.code === 'forbidden') this.optinNote.textContent = 'Join the lounge first.';
      else this.optinNote.textContent = describeError(err);
    } finally {
      this.optin.disabled = false;
      this.render();
    }
  }

  render() {
    const st = this.state;
    this.root.dataset.phase = st ? st.phase : 'none';
    this.root.dataset.round = st ? st.round : 0;
    if (!st) {
      this.summary.textContent = 'No speed networking session is open right now. When the host opens one, you can join it here.';
      this.optin.hidden = true;
      this.timer.hidden = true;
      this.optinNote.textContent = '';
      return;
    }
    const inIt = this.joined.has(st.session);
    const count = typeof st.participants === 'number' ? ` · ${st.participants} taking part` : '';
    const sentences = {
      lobby: `A session of ${st.rounds} round${st.rounds === 1 ? '' : 's'} is about to start${count}.`,
      round: `Round ${st.round} of ${st.rounds}${count}.`,
      break: `Break after round ${st.round} of ${st.rounds}.`,
      paused: `Paused by the host (round ${st.round} of ${st.rounds}).`,
      ended: `The session is over: ${st.round} round${st.round === 1 ? '' : 's'} ran. Thank you!`,
    };
    this.summary.textContent = sentences[st.phase] || st.phase;
    this.optin.hidden = st.phase === 'ended';
    this.optin.textContent = inIt ? 'Leave speed networking' : 'Join speed networking';
    this.optin.classList.toggle('primary', !inIt);
    this.optin.setAttribute('aria-describedby', 'sn-optin-note');
    this.root.dataset.joined = inIt ? 'yes' : 'no';
    if (inIt && !this.match) {
      this.optinNote.textContent =
        st.phase === 'lobby' ? 'You are in: you will be paired when the host starts the first round.'
        : st.phase === 'round' ? 'You are in: you will be paired from the next round.'
        : st.phase === 'break' ? 'You are in: the next round starts soon.'
        : '';
    } else if (!inIt) {
      this.optinNote.textContent = st.phase === 'ended' ? '' : 'Short video conversations with people picked for you, one after another.';
    } else {
      this.optinNote.textContent = '';
    }
    this.tick();
  }

  tick() {
    const st = this.state;
    let text = '';
    if (st) {
      const clock = this.ctx.clock;
      if (st.phase === 'round' && typeof st.ends_at === 'number') text = `${formatSeconds(clock.secondsUntil(st.ends_at))} left in round ${st.round}`;
      else if (st.phase === 'break' && typeof st.ends_at === 'number') text = `Next round in ${formatSeconds(clock.secondsUntil(st.ends_at))}`;
      else if (st.phase === 'paused') text = st.frozenLeft === null || st.frozenLeft === undefined ? 'Paused' : `Paused · ${formatSeconds(Math.ceil(st.frozenLeft / 1000))} left`;
    }
    this.timer.hidden = !text;
    // The server's deadline, for anyone (or any test) checking the clock.
    const endsAt = st && (st.phase === 'round' || st.phase === 'break') && typeof st.ends_at === 'number' ? String(st.ends_at) : '';
    if (this.timer.dataset.endsAt !== endsAt) this.timer.dataset.endsAt = endsAt;
    if (text !== this.lastTimerText) {
      this.timer.textContent = text;
      this.lastTimerText = text;
    }
  }

  renderMatch() {
    const m = this.match;
    if (!m) {
      fill(this.matchEl);
      this.matchEl.hidden = true;
      return;
    }
    this.matchEl.hidden = false;
    this.matchEl.dataset.round = m.round;
    if (!m.room || !m.partners.length) {
      this.matchEl.dataset.kind = 'bye';
      fill(
        this.matchEl,
        h('h3', {}, `Round ${m.round}: you sit this one out`),
        h(
          'p',
          { class: 'bye' },
          m.reason === 'bye'
            ? 'There is an odd number of people this round, so one person takes a break. You will not sit out twice while others have not: you will be paired next round. The lounge chat is open meanwhile.'
            : 'No partner is available this round.',
        ),
      );
      return;
    }
    this.matchEl.dataset.kind = m.partners.length > 1 ? 'group' : 'pair';
    const heading = m.partners.length > 1 ? `Round ${m.round}: you are in a group of ${m.partners.length + 1}` : `Round ${m.round}: meet ${m.partners[0].name}`;
    const cards = m.partners.map((p) =>
      h(
        'li',
        { class: 'card partner', dataset: { partner: p.id } },
        h('span', { class: 'avatar avatar-lg', 'aria-hidden': 'true' }, initials(p.name)),
        h(
          'div',
          {},
          h('p', { class: 'partner-name' }, p.name),
          p.headline ? h('p', { class: 'partner-headline' }, p.headline) : null,
          h('p', { class: 'why-label' }, 'Why you were matched'),
          p.shared && p.shared.length
            ? h('ul', { class: 'chips' }, p.shared.map((t) => h('li', { class: 'chip' }, reason(t))))
            : h('p', { class: 'why-none' }, 'Someone new to meet: no shared tags this time.'),
        ),
      ),
    );
    const micBtn = h('button', { type: 'button', 'aria-pressed': String(!this.micOn), onclick: (e) => this.toggleMic(e.currentTarget) }, this.micOn ? 'Mute microphone' : 'Unmute microphone');
    const camBtn = h('button', { type: 'button', 'aria-pressed': String(!this.camOn), onclick: (e) => this.toggleCam(e.currentTarget) }, this.camOn ? 'Turn camera off' : 'Turn camera on');
    fill(
      this.matchEl,
      h('h3', {}, heading),
      h('ul', { class: 'partners' }, cards),
      h('div', { id: 'sn-call', class: 'call', role: 'group', 'aria-label': 'Video call' }),
      h('div', { class: 'call-controls' }, micBtn, camBtn),
      h('p', { id: 'sn-call-status', class: 'call-status', role: 'status' }),
    );
  }

  toggleMic(btn) {
    this.micOn = !this.micOn;
    setMicEnabled(this.micOn);
    btn.textContent = this.micOn ? 'Mute microphone' : 'Unmute microphone';
    btn.setAttribute('aria-pressed', String(!this.micOn));
  }

  toggleCam(btn) {
    this.camOn = !this.camOn;
    setCameraEnabled(this.camOn);
    btn.textContent = this.camOn ? 'Turn camera off' : 'Turn camera on';
    btn.setAttribute('aria-pressed', String(!this.camOn));
  }

  addFeedback(session, round, partner) {
    const key = `${session}/${round}/${partner.id}`;
    if (this.feedback.has(key)) return;
    const base = `fb-${this.feedback.size + 1}`;
    // After the first session of the page, say which session a round was in.
    const nth = [...this.sessions.keys()].indexOf(session) + 1;
    const when = nth > 1 ? `session ${nth}, round ${round}` : `round ${round}`;
    const status = h('p', { class: 'fb-status', role: 'status' });
    const radios = [1, 2, 3, 4, 5].map((n) =>
      h(
        'label',
        { class: 'star' },
        h('input', { type: 'radio', name: `${base}-rating`, value: n, required: true }),
        h('span', { 'aria-hidden': 'true' }, '★'),
        h('span', { class: 'visually-hidden' }, `${n} out of 5`),
      ),
    );
    const connectBox = h('input', { type: 'checkbox', name: 'connect', id: `${base}-connect` });
    const submit = h('button', { type: 'submit' }, 'Send feedback');
    const form = h(
      'form',
      { class: 'fb card', dataset: { session, round, partner: partner.id } },
      h(
        'fieldset',
        { class: 'stars' },
        h('legend', {}, `How was your conversation with ${partner.name}?`, h('span', { class: 'fb-round' }, ` (${when})`)),
        radios,
      ),
      h('p', { class: 'fb-connect' }, connectBox, ' ', h('label', { for: `${base}-connect` }, `Stay in touch with ${partner.name}`)),
      h('p', { class: 'hint' }, `${partner.name} sees your details only if they say yes too; a one-sided wish stays private.`),
      submit,
      status,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const rating = Number(new FormData(form).get(`${base}-rating`));
      if (!rating) {
        status.textContent = 'Pick a rating from 1 to 5 first.';
        return;
      }
      submit.disabled = true;
      try {
        await this.conn.request('sn.feedback', { session, round, partner: partner.id, rating, connect: connectBox.checked });
        status.textContent = connectBox.checked ? `Saved. If ${partner.name} says yes too, you will see each other's details below.` : 'Saved. Thank you!';
        form.dataset.sent = 'yes';
        submit.textContent = 'Update feedback';
      } catch (err) {
        status.textContent = `Not saved: ${describeError(err)}`;
      } finally {
        submit.disabled = false;
      }
    });
    this.feedback.set(key, form);
    this.fbSection.hidden = false;
    this.fbList.prepend(h('li', {}, form));
  }

  onConnection(c) {
    const u = c.user;
    if (this.connections.has(u.id)) return;
    this.connections.set(u.id, u);
    const details = [];
    if (u.title || u.company) details.push(h('p', {}, [u.title, u.company].filter(Boolean).join(', ')));
    if (u.email) details.push(h('p', {}, h('a', { href: `mailto:${u.email}` }, u.email)));
    if (u.url && /^https?:\/\//i.test(u.url)) details.push(h('p', {}, h('a', { href: u.url, rel: 'noopener noreferrer', target: '_blank' }, u.url)));
    this.connList.append(
      h(
        'li',
        { class: 'card connection', dataset: { user: u.id } },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(u.name)),
        h('div', {}, h('p', { class: 'partner-name' }, u.name), u.headline ? h('p', { class: 'partner-headline' }, u.headline) : null, details),
      ),
    );
    this.connSection.hidden = false;
    say(`New connection: you and ${u.name} both want to stay in touch.`, { assertive: true });
  }
}

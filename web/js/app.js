// Icebreaker's web client: sign-in, then the lounge, speed networking,
// booths and (for hosts) the host console, all over one WebSocket.
//
// Sign-in: an embedding platform passes a token in the URL fragment
// (#token=<JWT>; the fragment never reaches a server log); a development
// server (`icebreaker serve --dev`) also offers the form, which gets a token
// from POST /dev/token. The token and the last resume token are kept in
// sessionStorage, so a reload of the tab resumes the same session.

import { Connection } from './connection.js';
import { LoungeView } from './lounge.js';
import { SpeedNetworkingView } from './sn.js';
import { HostConsole } from './host.js';
import { BoothView } from './booth.js';
import { h, $, say, describeError } from './dom.js';

const KEY_TOKEN = 'icebreaker.token';
const KEY_RESUME = 'icebreaker.resume';

/** The claims of a JWT, without checking it (the server does). */
function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      [...atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))]
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
        .join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function usable(token) {
  const c = token && claimsOf(token);
  return Boolean(c && c.sub && (!c.exp || c.exp * 1000 > Date.now()));
}

async function loadConfig() {
  const defaults = { iceServers: [], lounge: 'lounge:main' };
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (res.ok) return { ...defaults, ...(await res.json()) };
  } catch {
    /* defaults */
  }
  return defaults;
}

/** A token handed over in the fragment, taken out of the address bar. */
function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return token;
}

function show(id) {
  for (const s of ['signin', 'stopped', 'app']) $(`#${s}`).hidden = s !== id;
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

// ---- sign-in ---------------------------------------------------------------

function showSignIn(config, message = '') {
  show('signin');
  $('#signin-error').textContent = message;
  const form = $('#signin-form');
  const role = $('#f-role');
  const boothField = $('#f-booth-field');
  const syncRole = () => {
    boothField.hidden = role.value !== 'exhibitor';
    $('#f-booth').required = role.value === 'exhibitor';
  };
  role.addEventListener('change', syncRole);
  syncRole();
  const eventFromUrl = new URLSearchParams(location.search).get('event');
  if (eventFromUrl) $('#f-event').value = eventFromUrl;
  $('#f-name').focus();
  form.onsubmit = async (e) => {
    e.preventDefault();
    const error = $('#signin-error');
    error.textContent = '';
    const bad = [...form.elements].find((el) => el.willValidate && !el.checkValidity());
    if (bad) {
      const label = form.querySelector(`label[for="${bad.id}"]`);
      error.textContent = `${label ? label.textContent : bad.name}: ${bad.validationMessage}`;
      bad.setAttribute('aria-invalid', 'true');
      bad.focus();
      return;
    }
    for (const el of form.elements) el.removeAttribute && el.removeAttribute('aria-invalid');
    const f = new FormData(form);
    const body = {};
    for (const k of ['name', 'role', 'event', 'headline', 'interests', 'offers', 'seeks', 'email', 'company']) {
      const v = String(f.get(k) || '').trim();
      if (v) body[k] = v;
    }
    if (body.role === 'exhibitor') body.booth = String(f.get('booth') || '').trim();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const res = await fetch('/dev/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (res.status === 404) {
        error.textContent = 'This server does not offer sign-in with a form (it is not a development server). Open the link your event platform gave you.';
        return;
      }
      if (!res.ok || !answer.token) {
        error.textContent = `Sign-in refused: ${answer.message || `HTTP ${res.status}`}`;
        return;
      }
      sessionStorage.setItem(KEY_TOKEN, answer.token);
      sessionStorage.removeItem(KEY_RESUME);
      startApp(answer.token, config);
    } catch (err) {
      error.textContent = `The server cannot be reached: ${describeError(err)}`;
    } finally {
      button.disabled = false;
    }
  };
}

function signOut() {
  sessionStorage.removeItem(KEY_TOKEN);
  sessionStorage.removeItem(KEY_RESUME);
  location.replace(location.pathname + location.search);
}

// ---- the app ---------------------------------------------------------------

const CONN_TEXT = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Connection lost: reconnecting…',
  closed: 'Disconnected',
};

function startApp(token, config) {
  const claims = claimsOf(token) || {};
  const params = new URLSearchParams(location.search);
  const loungeName = params.get('lounge');
  const lounge = loungeName && /^[A-Za-z0-9._-]{1,64}$/.test(loungeName) ? `lounge:${loungeName}` : config.lounge;
  const conn = new Connection({
    url: wsUrl(),
    token,
    resume: sessionStorage.getItem(KEY_RESUME),
    onResumeToken: (r) => sessionStorage.setItem(KEY_RESUME, r),
  });
  const bus = new EventTarget();
  const ctx = {
    conn,
    clock: conn.clock,
    token,
    config,
    lounge,
    me: { id: claims.sub, name: claims.name, role: claims.role, booth: claims.booth || null, event: claims.event },
    emit: (type, detail) => bus.dispatchEvent(new CustomEvent(type, { detail })),
    on: (type, fn) => bus.addEventListener(type, (e) => fn(e.detail)),
  };

  document.title = `Icebreaker · ${claims.event || ''}`;
  document.body.dataset.role = claims.role || 'attendee';
  $('#event-name').textContent = claims.event ? `· ${claims.event}` : '';
  $('#me').hidden = false;
  $('#me-name').textContent = `${claims.name || ''}${claims.role && claims.role !== 'attendee' ? ` (${claims.role})` : ''}`;
  $('#sign-out').onclick = async () => {
    // Leave the lounge first: a plain close would keep this person listed
    // there for the server's grace period, as if they might come back.
    await conn.request('leave', { room: lounge }, { deadline: 2000 }).catch(() => {});
    conn.stop();
    signOut();
  };

  const lounge_ = new LoungeView(ctx);
  new SpeedNetworkingView(ctx);
  new BoothView(ctx);
  if (ctx.me.role === 'host' || ctx.me.role === 'admin') new HostConsole(ctx);

  $('#my-status').onchange = async (e) => {
    const status = e.target.value;
    try {
      await conn.request('status', { status });
      lounge_.setMyStatus(status);
      say(`Your status is now ${status}.`);
    } catch (err) {
      say(`Status not changed: ${describeError(err)}`, { assertive: true });
    }
  };

  wireConnectionStatus(conn, config);
  wireAnnouncements(conn);

  let first = true;
  conn.addEventListener('ready', (e) => {
    ctx.me.id = e.detail.hello.user.id;
    ctx.me.name = e.detail.hello.user.name;
    ctx.me.role = e.detail.hello.user.role;
    if (first) {
      first = false;
      show('app');
      $('#main').focus();
    }
  });
  conn.start();
}

function wireConnectionStatus(conn, config) {
  const box = $('#conn');
  const text = $('#conn-text');
  const retry = $('#conn-retry');
  let countdown = null;
  retry.onclick = () => conn.reconnectNow();
  conn.addEventListener('status', (e) => {
    const d = e.detail;
    box.dataset.state = d.state;
    clearInterval(countdown);
    retry.hidden = true;
    if (d.state === 'open') {
      box.dataset.resumed = d.resumed ? 'yes' : 'no';
      if (d.reconnected || d.resumed) {
        text.textContent = d.resumed ? 'Reconnected: you kept your place' : 'Reconnected (a new session)';
        const shown = text.textContent;
        setTimeout(() => {
          if (conn.state === 'open' && text.textContent === shown) text.textContent = CONN_TEXT.open;
        }, 8000);
      } else {
        text.textContent = CONN_TEXT.open;
      }
    } else if (d.state === 'reconnecting' && d.offline) {
      retry.hidden = false;
      text.textContent = 'Connection lost: you are offline. Reconnecting when the network is back…';
    } else if (d.state === 'reconnecting' && d.until) {
      retry.hidden = false;
      const show_ = () => {
        const s = Math.max(0, Math.ceil((d.until - Date.now()) / 1000));
        text.textContent = `Connection lost. Reconnecting${s ? ` in ${s} s` : '…'}${d.attempt > 1 ? ` (attempt ${d.attempt})` : ''}`;
      };
      show_();
      countdown = setInterval(show_, 500);
    } else if (d.state === 'closed') {
      text.textContent = CONN_TEXT.closed;
      stopped(d, config);
    } else {
      text.textContent = CONN_TEXT[d.state] || d.state;
    }
  });
  conn.addEventListener('server-error', (e) => {
    say(`Server: ${e.detail.message || e.detail.code}`, { assertive: true });
  });
}

function stopped(d, config) {
  if (d.reason === 'signed-out') return;
  if (d.reason === 'unauthorized') {
    sessionStorage.removeItem(KEY_TOKEN);
    sessionStorage.removeItem(KEY_RESUME);
    $('#me').hidden = true;
    showSignIn(config, 'Your sign-in was refused or has expired. Please sign in again.');
    return;
  }
  const texts = {
    kicked: `A host removed you from this event${d.message ? `: ${d.message}` : '.'}`,
    policy: 'The server closed the connection because this page sent too many messages too fast.',
    elsewhere: 'Your session continued in another window or tab.',
  };
  $('#stopped-text').textContent = texts[d.reason] || 'The connection was closed.';
  const action = $('#stopped-action');
  if (d.reason === 'kicked') {
    sessionStorage.removeItem(KEY_TOKEN);
    sessionStorage.removeItem(KEY_RESUME);
    action.textContent = 'Back to the start';
    action.onclick = signOut;
  } else {
    action.textContent = 'Reconnect here';
    action.onclick = () => location.reload();
  }
  show('stopped');
  action.focus();
}

function wireAnnouncements(conn) {
  const box = $('#announcements');
  conn.addEventListener('announcement', (e) => {
    const a = e.detail;
    const item = h(
      'div',
      { class: 'announcement', role: 'alert' },
      h('p', {}, h('strong', {}, `${a.from && a.from.name ? a.from.name : 'Host'}: `), a.text),
      h('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss the announcement', onclick: () => item.remove() }, '✕'),
    );
    box.append(item);
    while (box.children.length > 3) box.firstChild.remove();
  });
}

// ---- start -----------------------------------------------------------------

(async function main() {
  const config = await loadConfig();
  const handed = tokenFromFragment();
  if (handed) {
    sessionStorage.setItem(KEY_TOKEN, handed);
    sessionStorage.removeItem(KEY_RESUME);
  }
  const token = handed || sessionStorage.getItem(KEY_TOKEN);
  if (usable(token)) startApp(token, config);
  else showSignIn(config);
})();

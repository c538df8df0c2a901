// A few DOM helpers. Text from the network only ever goes into the page as
// text nodes (never innerHTML), so names and chat cannot inject markup.

/**
 * h('button', {class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', child)
 * Attributes: `class`, `dataset` (object), `on<event>` (listener), booleans
 * (true sets an empty attribute, false/null/undefined leaves it out).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace all children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Tell screen-reader users something through a polite live region. */
export function say(text, { assertive = false } = {}) {
  const region = document.getElementById(assertive ? 'sr-alert' : 'sr-status');
  if (!region) return;
  // Clearing first makes the same sentence be read again.
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Local time of day, "14:05". */
export function timeOfDay(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A short human sentence for an ApiError or any failure. */
export function describeError(err) {
  if (!err) return 'Something went wrong.';
  const byCode = {
    unavailable: 'The server cannot be reached right now; try again in a moment.',
    rate_limited: 'Too many actions at once; wait a second and try again.',
    forbidden: 'You are not allowed to do that.',
    not_found: 'Not found.',
    conflict: 'That does not fit right now.',
    too_large: 'That is too long.',
    bad_request: 'The server did not accept that.',
    unauthorized: 'Your sign-in is not valid any more.',
    internal: 'The server had a problem.',
  };
  const base = byCode[err.code];
  if (base && err.message && err.message !== err.code) return `${base} (${err.message})`;
  return base || err.message || String(err);
}

/** Initials for an avatar: "Ada Lovelace" -> "AL". */
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => [...p][0].toUpperCase()).join('') || '?';
}

/** "1st", "2nd", "3rd", "4th" ... */
export function ordinal(n) {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

// The server's clock, as seen from the page. Countdowns must agree between
// attendees whatever their computers' clocks say, so every `ends_at` is
// compared with an estimate of the server's time, never with Date.now().
//
// Samples come from answers with `server_time` (hello, ping: their round
// trip is known, so the estimate is server_time + rtt/2) and from sn.state
// (one way, rtt unknown: used until a timed sample exists, and always as a
// floor, since the server's clock has passed any time it stamped). The
// estimate runs on performance.now(), which does not jump when the local
// clock is changed.

export class Clock {
  constructor() {
    this.base = null; // server ms at perf time `at`
    this.at = 0;
    this.rtt = Infinity;
    this.taken = 0;
  }

  /**
   * @param {number} serverTime ms since the epoch, from the server
   * @param {number|null} rtt round trip in ms, or null when unknown
   */
  sample(serverTime, rtt) {
    if (typeof serverTime !== 'number') return;
    const now = performance.now();
    const est = rtt === null ? Infinity : rtt;
    // Prefer tighter round trips; refresh anyway once a sample is a minute old.
    const stale = now - this.taken > 60000;
    if (this.base === null || stale || est <= this.rtt) {
      this.base = serverTime + (rtt === null ? 0 : rtt / 2);
      this.at = now;
      this.rtt = est;
      this.taken = now;
    } else if (this.now() < serverTime) {
      // Whatever its round trip, a message cannot arrive before the server
      // stamped it: an estimate behind `server_time` is known to be behind
      // (a reply that waited in a busy page looks younger than it is).
      this.base = serverTime;
      this.at = now;
    }
  }

  /** The server's time now, in ms since the epoch. */
  now() {
    if (this.base === null) return Date.now();
    return this.base + (performance.now() - this.at);
  }

  /** Whole seconds from now until `endsAt` (server ms), never negative. */
  secondsUntil(endsAt) {
    return Math.max(0, Math.ceil((endsAt - this.now()) / 1000));
  }
}

/** 75 -> "1:15", 3725 -> "1:02:05" */
export function formatSeconds(total) {
  const s = Math.max(0, Math.floor(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** 75 -> "1 minute 15 seconds", for screen readers. */
export function spokenSeconds(total) {
  const s = Math.max(0, Math.floor(total));
  const m = Math.floor(s / 60);
  const r = s % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (r || !m) parts.push(`${r} second${r === 1 ? '' : 's'}`);
  return parts.join(' ');
}

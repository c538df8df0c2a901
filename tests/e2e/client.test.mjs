// The web client end to end, in Debian's Chromium driven by playwright-core:
// a host and three attendees, each in a browser context of their own.
//
// - Sign-in: the host and two attendees with the development form; the
//   third arrives with a token in the URL fragment (#token=...), minted by
//   `icebreaker token` as an embedding platform would. Two attendees'
//   computers have clocks minutes off, which the countdowns must not show.
// - The lounge: everyone sees everyone, status, chat, an announcement.
// - Network loss, said on screen and resumed: one page goes offline, one
//   has its socket dropped; nobody else sees them leave.
// - Session 1 (by interests, 2 rounds, odd one out sits out): opt in (one
//   by keyboard), partner cards with why they were matched, one countdown
//   on every screen matching the server's deadline, pause (the checks and
//   the calls run while the round's clock stands still, so a slow machine
//   cannot run a round out under the test), resume and extend from the
//   host console, partners' RTCPeerConnections reach `connected` over
//   loopback with the fake camera, feedback (one form by keyboard), mutual
//   "stay in touch" shows the connection and a one-sided wish shows
//   nothing, the one who sat out is paired next, the report.
// - Session 2 (rotate, 1 round of 61 s, odd one out joins a group): a
//   group of three whose three calls connect, the screenshots of a round
//   in progress, the 30-second warning, stop.
// - Accessibility: every control labelled, text contrast at WCAG AA, focus
//   rings, no sideways scrolling on a 375 px phone screen.
// Screenshots go to docs/screenshots/. Any console error or uncaught
// exception in any page fails the test.
//
// Run: node --test tests/e2e/   (ICEBREAKER_BIN: the server binary; default
// build/icebreaker. CHROMIUM_BIN overrides the chromium found on PATH.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  startServer,
  launchBrowser,
  newPerson,
  ensureScreenshotDir,
  until,
  mintToken,
  signedInAs,
  unlabelled,
  lowContrast,
  overflowsSideways,
  tabTo,
  skewClock,
  recordSockets,
} from './lib/harness.mjs';

const ROUND_S = 10;
const BREAK_S = 2;
// The 30-second warning comes only in rounds longer than a minute.
const LONG_ROUND_S = 61;
const SHOTS = ensureScreenshotDir();

let srv;
let browser;
const everyone = [];

before(async () => {
  srv = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const p of everyone) await p.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (srv) {
    const code = await srv.stop();
    assert.equal(code, 0, `server exit code (stderr: ${srv.stderr()})`);
  }
});

async function signIn(person, fields) {
  const { page } = person;
  await page.goto('/');
  await page.getByLabel('Your name').fill(fields.name);
  await page.getByLabel('Your role').selectOption(fields.role);
  if (fields.headline) await page.getByLabel('Headline').fill(fields.headline);
  if (fields.interests) await page.getByLabel('Interests').fill(fields.interests);
  if (fields.offers) await page.getByLabel('I can offer').fill(fields.offers);
  if (fields.seeks) await page.getByLabel('I am looking for').fill(fields.seeks);
  if (fields.email) await page.getByLabel('Email').fill(fields.email);
  if (fields.company) await page.getByLabel('Company').fill(fields.company);
  await page.getByRole('button', { name: 'Enter the lounge' }).click();
  await page.locator('#app').waitFor({ state: 'visible', timeout: 10000 });
  await page.locator('#conn[data-state=open]').waitFor({ timeout: 10000 });
  person.name = fields.name;
  person.id = await signedInAs(page);
}

/** Sign in the way an embedding platform hands a person over: #token=... */
async function signInWithLink(person, claims) {
  const { page } = person;
  const token = await mintToken(claims);
  await page.goto(`/#token=${token}`);
  await page.locator('#conn[data-state=open]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#signin').isHidden(), true, 'no sign-in form with a token in the link');
  assert.equal(await page.evaluate(() => location.href.includes('token')), false, 'the token left the address bar');
  assert.equal(await page.locator('#me-name').textContent(), claims.name);
  person.name = claims.name;
  person.id = await signedInAs(page);
  assert.equal(person.id, claims.sub);
}

/** A screenshot of the whole page, or on a phone of the screen's worth a person sees. */
async function shot(person, file, { fullPage = true } = {}) {
  await person.page.evaluate(() => window.scrollTo(0, 0));
  await person.page.screenshot({ path: join(SHOTS, file), fullPage });
}

/** What an attendee's page shows for `round`: {kind, partners:[ids]}. */
async function matchOf(person, round, ms = 8000) {
  const el = person.page.locator(`#sn-match[data-round="${round}"]`);
  await el.waitFor({ state: 'visible', timeout: ms });
  const kind = await el.getAttribute('data-kind');
  const partners = await el.locator('.partner[data-partner]').evaluateAll((els) => els.map((e) => e.dataset.partner));
  return { kind, partners: partners.sort() };
}

/**
 * The countdown on this page, read together with the server deadline it
 * counts to and this machine's clock (the server's clock too: same host).
 */
async function countdown(person) {
  return person.page.evaluate(() => {
    const el = document.querySelector('#sn-timer');
    const m = /(\d+):(\d\d)/.exec(el.textContent || '');
    return { seconds: m ? Number(m[1]) * 60 + Number(m[2]) : NaN, endsAt: Number(el.dataset.endsAt), text: el.textContent };
  }).then((c) => ({ ...c, trueSeconds: (c.endsAt - Date.now()) / 1000 }));
}

/** The call on this page reaches `connected` and shows the partner's video. */
async function callConnected(person, partner, ms = 20000) {
  const { page } = person;
  try {
    await page.locator(`#sn-call .tile[data-peer="${partner.id}"][data-state=connected]`).waitFor({ timeout: ms });
  } catch (err) {
    const seen = await page.evaluate(() => ({
      tiles: [...document.querySelectorAll('#sn-call .tile')].map((t) => ({ ...t.dataset })),
      status: document.querySelector('#sn-call-status')?.textContent,
      match: { ...document.querySelector('#sn-match')?.dataset },
    }));
    err.message += `\n${person.label} -> ${partner.label}: ${JSON.stringify(seen)}`;
    throw err;
  }
  await page.waitForFunction(
    (id) => {
      const v = document.querySelector(`#sn-call .tile[data-peer="${id}"] video`);
      return v && v.readyState >= 2 && v.videoWidth > 0;
    },
    partner.id,
    { timeout: ms },
  );
  assert.match(await page.locator(`#sn-call .tile[data-peer="${partner.id}"] figcaption`).textContent(), /Connected/);
}

async function feedbackForm(person, round, partner) {
  const form = person.page.locator(`form.fb[data-round="${round}"][data-partner="${partner.id}"]`);
  await form.waitFor({ timeout: 5000 });
  return form;
}

async function sent(person, form) {
  await form.locator('.fb-status').filter({ hasText: 'Saved' }).waitFor({ timeout: 5000 });
  assert.equal(await form.getAttribute('data-sent'), 'yes');
}

/** Feedback with the mouse. */
async function giveFeedback(person, round, partner, { rating, connect }) {
  const form = await feedbackForm(person, round, partner);
  await form.locator('label.star').nth(rating - 1).click();
  if (connect) await form.getByLabel(`Stay in touch with ${partner.name}`).check();
  await form.getByRole('button', { name: 'Send feedback' }).click();
  await sent(person, form);
}

/** Feedback with the keyboard only: arrows pick the stars, Space ticks, Enter sends. */
async function giveFeedbackByKeyboard(person, round, partner, { rating, connect }) {
  const { page } = person;
  const form = await feedbackForm(person, round, partner);
  await form.getByLabel('1 out of 5').focus();
  await page.keyboard.press('Space');
  for (let i = 1; i < rating; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await form.getByLabel(`${rating} out of 5`).isChecked(), true, 'arrow keys pick the rating');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.name), 'connect', 'Tab goes from the stars to "stay in touch"');
  if (connect) await page.keyboard.press('Space');
  assert.equal(await form.getByLabel(`Stay in touch with ${partner.name}`).isChecked(), connect);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Send feedback');
  await page.keyboard.press('Enter');
  await sent(person, form);
}

/**
 * Everything the server sent this page before now has arrived: the page's
 * own chat message makes a round trip through the server, behind them.
 */
async function barrier(person, text) {
  await person.page.getByLabel('Message to the lounge').fill(text);
  await person.page.getByLabel('Message to the lounge').press('Enter');
  await person.page.locator('#chat-log li.msg', { hasText: text }).waitFor({ timeout: 5000 });
}

async function accessible(p) {
  assert.deepEqual(await unlabelled(p.page), [], `${p.label}: every control has a label or a name`);
  assert.deepEqual(await lowContrast(p.page), [], `${p.label}: all text at WCAG AA contrast`);
  assert.equal(await overflowsSideways(p.page), false, `${p.label}: the page fits its screen's width`);
}

test('lounge, speed networking with video, feedback and the host console in Chromium', { timeout: 170000 }, async () => {
  const host = await newPerson(browser, srv.url, 'host');
  // Ada's computer clock is 2 minutes fast and Ben's 3 minutes slow; Ada's
  // sockets are kept so that one can be dropped.
  const ada = await newPerson(browser, srv.url, 'ada', { init: [[skewClock, 120000], [recordSockets]] });
  const ben = await newPerson(browser, srv.url, 'ben', { init: [[skewClock, -180000]] });
  // A phone-sized screen: the layout must work at 375 px.
  const chen = await newPerson(browser, srv.url, 'chen', { phone: true });
  everyone.push(host, ada, ben, chen);
  const attendees = [ada, ben, chen];

  const t0 = Date.now();
  const mark = (what) => process.env.E2E_TIMING && console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);

  // ---- sign in ----
  await Promise.all([
    signIn(host, { name: 'Hana Host', role: 'host', headline: 'Community lead' }),
    signIn(ada, { name: 'Ada Lovelace', role: 'attendee', headline: 'Engineer, Analytical Engines', interests: 'ai, mathematics', offers: 'mentoring', seeks: 'funding', email: 'ada@example.org', company: 'Analytical Engines' }),
    signIn(ben, { name: 'Ben Okri', role: 'attendee', headline: 'Angel investor', interests: 'ai, writing', offers: 'funding', seeks: 'mentoring', email: 'ben@example.org', company: 'Okri Ventures' }),
    signInWithLink(chen, { sub: 'chen', name: 'Chen Wei', role: 'attendee', event: 'demo', headline: 'Robotics student', interests: 'robotics,ai', seeks: 'internship', email: 'chen@example.org' }),
  ]);

  mark('the lounge');
  // ---- the lounge: everyone sees everyone ----
  for (const p of everyone) {
    await p.page.waitForFunction((n) => document.querySelectorAll('#people-list li.person').length === n, 4, { timeout: 10000 });
    const names = await p.page.locator('#people-list .person-name').allTextContents();
    for (const q of everyone) assert.ok(names.some((n) => n.startsWith(q.name)), `${p.label} sees ${q.name}`);
    assert.equal(await p.page.locator('#people-count').textContent(), '(4)');
  }
  // Status: Ben is busy, and the others see it.
  await ben.page.getByLabel('Your status').selectOption('busy');
  for (const p of [host, ada, chen]) await p.page.locator(`#people-list li.person[data-user="${ben.id}"][data-status=busy]`).getByText('Busy').waitFor({ timeout: 5000 });
  await ben.page.getByLabel('Your status').selectOption('available');

  mark('chat');
  // ---- chat ----
  await ada.page.getByLabel('Message to the lounge').fill('Hello everyone, Ada here!');
  await ada.page.getByRole('button', { name: 'Send' }).click();
  await host.page.getByLabel('Message to the lounge').fill('Welcome! Speed networking starts in a minute.');
  await host.page.getByLabel('Message to the lounge').press('Enter');
  for (const p of everyone) {
    await p.page.locator('#chat-log li.msg', { hasText: 'Hello everyone, Ada here!' }).waitFor({ timeout: 5000 });
    await p.page.locator('#chat-log li.msg', { hasText: 'Welcome! Speed networking starts' }).waitFor({ timeout: 5000 });
  }
  await ben.page.getByLabel('Message to the lounge').fill('Hi Ada! Looking forward to it.');
  await ben.page.getByLabel('Message to the lounge').press('Enter');
  await ada.page.locator('#chat-log li.msg', { hasText: 'Looking forward' }).waitFor({ timeout: 5000 });
  // An announcement from the host reaches everyone.
  await host.page.getByLabel('Announcement to everyone').fill('Speed networking starts in one minute: join from the panel.');
  await host.page.getByRole('button', { name: 'Announce' }).click();
  for (const p of attendees) await p.page.locator('.announcement', { hasText: 'Speed networking starts in one minute' }).waitFor({ timeout: 5000 });
  await shot(ada, 'lounge.png');
  await accessible(ada);
  await accessible(chen);

  mark('network loss');
  // ---- network loss, said on screen, and resume ----
  // The host's page records every people count it shows: a leave would
  // show as (3).
  await host.page.evaluate(() => {
    window.__counts = [];
    new MutationObserver(() => window.__counts.push(document.querySelector('#people-count').textContent)).observe(document.querySelector('#people-count'), { childList: true, characterData: true, subtree: true });
  });
  // Ben's browser goes offline: the page notices, says so, waits for the
  // network, then resumes its session.
  await ben.context.setOffline(true);
  await ben.page.locator('#conn[data-state=reconnecting]').waitFor({ timeout: 15000 });
  assert.match(await ben.page.locator('#conn-text').textContent(), /Connection lost: you are offline/);
  await ben.page.getByRole('button', { name: 'Retry now' }).waitFor();
  await ben.context.setOffline(false);
  await ben.page.locator('#conn[data-state=open][data-resumed=yes]').waitFor({ timeout: 15000 });
  await ben.page.locator('#conn-text', { hasText: 'Reconnected: you kept your place' }).waitFor({ timeout: 1000 });
  // Ada's connection drops (the socket closes under the page): it says so,
  // reconnects by itself and resumes.
  await ada.page.evaluate(() => {
    window.__connTexts = [];
    new MutationObserver(() => window.__connTexts.push(document.querySelector('#conn-text').textContent)).observe(document.querySelector('#conn-text'), { childList: true, characterData: true, subtree: true });
    window.__sockets.at(-1).close(4000, 'test: the connection drops');
  });
  await ada.page.waitForFunction(() => window.__sockets.length >= 2 && window.__sockets.at(-1).readyState === WebSocket.OPEN, null, { timeout: 10000 });
  await ada.page.locator('#conn[data-state=open][data-resumed=yes]').waitFor({ timeout: 10000 });
  await ada.page.locator('#conn-text', { hasText: 'Reconnected: you kept your place' }).waitFor({ timeout: 1000 });
  assert.ok((await ada.page.evaluate(() => window.__connTexts)).some((t) => /^Connection lost/.test(t)), 'the page said the connection was lost');
  // Both are still in the lounge: they chat, and nobody saw them leave.
  await ada.page.getByLabel('Message to the lounge').fill('Back again after a hiccup.');
  await ada.page.getByLabel('Message to the lounge').press('Enter');
  await ben.page.getByLabel('Message to the lounge').fill('Me too.');
  await ben.page.getByLabel('Message to the lounge').press('Enter');
  await host.page.locator('#chat-log li.msg', { hasText: 'Back again after a hiccup.' }).waitFor({ timeout: 5000 });
  await host.page.locator('#chat-log li.msg', { hasText: 'Me too.' }).waitFor({ timeout: 5000 });
  assert.deepEqual((await host.page.evaluate(() => window.__counts)).filter((c) => c !== '(4)'), [], 'nobody was seen leaving');
  assert.equal(await host.page.locator('#people-list li.person').count(), 4);

  mark('the host creates session 1');
  // ---- the host creates a session; attendees opt in ----
  const hp = host.page;
  await hp.getByLabel('Pairing').selectOption('interests');
  await hp.getByLabel('Rounds').fill('2');
  await hp.getByLabel('Round (seconds)').fill(String(ROUND_S));
  await hp.getByLabel('Break (seconds)').fill(String(BREAK_S));
  await hp.getByLabel('People per group').selectOption('2');
  await hp.getByLabel('They sit the round out').check();
  await hp.getByRole('button', { name: 'Create session' }).click();
  await hp.locator('#host-session[data-phase=lobby]').waitFor({ timeout: 5000 });
  assert.equal(await hp.locator('#host-settings').textContent(), `interests, 2 × 0:${ROUND_S} with 0:0${BREAK_S} breaks, groups of 2, odd one out: sits out`);
  assert.equal(await hp.locator('#host-participants').textContent(), '0');
  assert.equal(await hp.locator('#host-round').textContent(), '0 of 2');
  const session1 = await hp.locator('#host-session').getAttribute('data-session');
  assert.equal(await hp.getByRole('link', { name: 'Session report' }).getAttribute('href'), `/api/sessions/${session1}/report`);
  // Ada opts in with the mouse; Ben reaches the button with Tab (it shows
  // its focus) and presses Space; Chen taps it on the phone.
  const joinButton = (p) => p.page.getByRole('button', { name: 'Join speed networking' });
  await joinButton(ada).click();
  await joinButton(ben).waitFor({ timeout: 5000 });
  await ben.page.locator('#main').focus();
  await tabTo(ben.page, 'the opt-in button', () => document.activeElement.id === 'sn-optin');
  await ben.page.keyboard.press('Space');
  await joinButton(chen).tap();
  for (const p of attendees) await p.page.getByRole('button', { name: 'Leave speed networking' }).waitFor({ timeout: 5000 });
  // Live participant count on the console.
  await hp.locator('#host-participants', { hasText: /^3$/ }).waitFor({ timeout: 5000 });

  mark('round 1');
  // ---- round 1 ----
  await hp.getByRole('button', { name: 'Start' }).click();
  const r1 = new Map();
  for (const p of attendees) r1.set(p, await matchOf(p, 1));
  // Pause at once: what follows is checked with the round's clock stopped,
  // so that a slow machine cannot run the round out under the test.
  await hp.getByRole('button', { name: 'Pause' }).click();
  const frozen = [];
  for (const p of attendees) {
    await p.page.locator('#sn[data-phase=paused]').waitFor({ timeout: 5000 });
    frozen.push(await p.page.locator('#sn-timer').textContent());
    assert.match(frozen.at(-1), /^Paused · 0:\d\d left$/);
  }
  await hp.locator('#host-phase', { hasText: 'Paused' }).waitFor({ timeout: 3000 });
  assert.match(await hp.locator('#host-left').textContent(), /\(paused\)/);
  assert.equal(await hp.getByRole('button', { name: 'Pause' }).isDisabled(), true);
  assert.equal(await hp.getByRole('button', { name: 'Extend' }).isDisabled(), true);
  assert.equal(await hp.getByRole('button', { name: 'Resume' }).isDisabled(), false);

  const byId = new Map(attendees.map((p) => [p.id, p]));
  const pairs1 = attendees.filter((p) => r1.get(p).kind === 'pair');
  const byes1 = attendees.filter((p) => r1.get(p).kind === 'bye');
  assert.equal(pairs1.length, 2, 'two people paired in round 1');
  assert.equal(byes1.length, 1, 'the odd one out sits round 1 out');
  const [x, y] = pairs1;
  assert.deepEqual(r1.get(x).partners, [y.id]);
  assert.deepEqual(r1.get(y).partners, [x.id]);
  for (const p of pairs1) {
    const other = byId.get(r1.get(p).partners[0]);
    const card = p.page.locator(`#sn-match .partner[data-partner="${other.id}"]`);
    assert.equal(await card.locator('.partner-name').textContent(), other.name);
    assert.ok((await card.locator('.partner-headline').textContent()).length > 0);
    await card.getByText('Why you were matched').waitFor();
    // Everyone likes "ai": whoever is paired sees it as a reason.
    assert.ok((await card.locator('.chip').allTextContents()).includes('You both like ai'));
  }
  await byes1[0].page.locator('#sn-match').getByText('you sit this one out').waitFor();
  // Video: both sides of the pair connected, each seeing the other.
  await callConnected(x, y);
  await callConnected(y, x);
  for (const [i, p] of attendees.entries()) assert.equal(await p.page.locator('#sn-timer').textContent(), frozen[i], `${p.label}'s clock stood still while paused`);

  // ---- resume: one countdown on every screen, whatever the computers'
  // clocks say: to the server's deadline, agreeing with this machine's
  // clock within a second, and running down ----
  await hp.getByRole('button', { name: 'Resume' }).click();
  const c1 = [];
  for (const p of attendees) {
    await p.page.locator('#sn[data-phase=round]').waitFor({ timeout: 5000 });
    await p.page.waitForFunction(() => document.querySelector('#sn-timer').dataset.endsAt !== '', null, { timeout: 5000 });
    const c = await countdown(p);
    c1.push(c);
    assert.match(c.text, /left in round 1/);
    assert.ok(c.seconds >= 1 && c.seconds <= ROUND_S, `${p.label}'s countdown shows ${c.text}`);
    assert.ok(Math.abs(c.seconds - c.trueSeconds) <= 1.2, `${p.label} shows ${c.seconds} s, the server's deadline is ${c.trueSeconds.toFixed(1)} s away`);
  }
  assert.equal(new Set(c1.map((c) => c.endsAt)).size, 1, 'every attendee counts to the same deadline');
  // The call went on through the pause.
  for (const p of pairs1) assert.equal(await p.page.locator('#sn-call .tile[data-state=connected]').count(), 1, `${p.label}'s call survived the pause`);
  await until('the countdown to tick', async () => (await countdown(x)).seconds < c1[0].seconds, 3000);
  await hp.locator('#host-phase', { hasText: 'Round running' }).waitFor({ timeout: 3000 });
  assert.equal(await hp.locator('#host-round').textContent(), '1 of 2');

  // ---- extend by 3 seconds: every deadline moves by exactly that ----
  await hp.getByLabel('Extend this round by (seconds)').fill('3');
  await hp.getByRole('button', { name: 'Extend' }).click();
  for (const p of attendees) {
    await p.page.waitForFunction((want) => document.querySelector('#sn-timer').dataset.endsAt === String(want), c1[0].endsAt + 3000, { timeout: 5000 });
  }
  await hp.locator('#host-control-note', { hasText: 'Extended by 3 seconds.' }).waitFor();
  await accessible(x);
  await accessible(host);

  mark('round 1 ends');
  // ---- round 1 ends: feedback, mutual connect ----
  for (const p of attendees) await p.page.locator('#sn[data-phase=break], #sn[data-phase=round][data-round="2"]').waitFor({ timeout: (ROUND_S + 5) * 1000 });
  assert.equal(await x.page.locator('#sn-call .tile').count(), 0, 'the call closed with the round');
  await giveFeedback(x, 1, y, { rating: 5, connect: true });
  await giveFeedbackByKeyboard(y, 1, x, { rating: 4, connect: true });
  for (const [p, other] of [[x, y], [y, x]]) {
    const card = p.page.locator(`#sn-connections-list li[data-user="${other.id}"]`);
    await card.waitFor({ timeout: 5000 });
    assert.match(await card.textContent(), new RegExp(other.name));
    assert.match(await card.textContent(), /@example\.org/);
  }
  assert.equal(await byes1[0].page.locator('#sn-connections-list li').count(), 0);

  mark('round 2');
  // ---- round 2: the one who sat out is paired now ----
  const r2 = new Map();
  for (const p of attendees) r2.set(p, await matchOf(p, 2, (BREAK_S + 8) * 1000));
  const pairs2 = attendees.filter((p) => r2.get(p).kind === 'pair');
  const byes2 = attendees.filter((p) => r2.get(p).kind === 'bye');
  assert.equal(pairs2.length, 2);
  assert.equal(byes2.length, 1);
  assert.notEqual(byes2[0], byes1[0], 'nobody sits out twice while others have not');
  assert.ok(pairs2.includes(byes1[0]));
  const [u, v] = pairs2;
  // Paused again while the new pair's call connects (not timed by the round).
  await hp.getByRole('button', { name: 'Pause' }).click();
  for (const p of attendees) await p.page.locator('#sn[data-phase=paused]').waitFor({ timeout: 5000 });
  await callConnected(u, v);
  await callConnected(v, u);
  await hp.getByRole('button', { name: 'Resume' }).click();
  for (const p of attendees) await p.page.locator('#sn[data-phase=round][data-round="2"]').waitFor({ timeout: 5000 });
  await byes2[0].page.locator('#sn-match').getByText('you sit this one out').waitFor();
  await accessible(byes2[0]);

  // A one-sided wish is never revealed: u says yes, v says no.
  await giveFeedback(u, 2, v, { rating: 3, connect: true });
  await giveFeedback(v, 2, u, { rating: 3, connect: false });
  // Whatever the server sent them after both answers has arrived by now.
  await barrier(u, 'Thanks for the chat!');
  await barrier(v, 'Nice to meet you.');
  assert.equal(await u.page.locator(`#sn-connections-list li[data-user="${v.id}"]`).count(), 0);
  assert.equal(await v.page.locator(`#sn-connections-list li[data-user="${u.id}"]`).count(), 0);

  mark('the end of session 1');
  // ---- the end, and the report ----
  for (const p of attendees) await p.page.locator('#sn[data-phase=ended]').waitFor({ timeout: (ROUND_S + 5) * 1000 });
  await hp.locator('#host-session[data-phase=ended]').waitFor({ timeout: 5000 });
  await hp.getByRole('link', { name: 'Session report' }).click();
  await hp.locator('#host-report [data-field=rounds_run]').waitFor({ timeout: 5000 });
  assert.equal(await hp.locator('#host-report [data-field=rounds_run]').textContent(), '2 of 2');
  assert.equal(await hp.locator('#host-report [data-field=connections]').textContent(), '1');
  const reportText = await hp.locator('#host-report').textContent();
  assert.ok(reportText.includes(`${x.name} and ${y.name} (round 1)`) || reportText.includes(`${y.name} and ${x.name} (round 1)`), reportText);
  assert.ok(reportText.includes(`sat out: ${byes1[0].name}`) && reportText.includes(`sat out: ${byes2[0].name}`), reportText);
  await shot(host, 'host-report.png');

  mark('session 2');
  // ---- session 2: one long round, the odd one out joins a group ----
  await hp.getByLabel('Pairing').selectOption('rotate');
  await hp.getByLabel('Rounds').fill('1');
  await hp.getByLabel('Round (seconds)').fill(String(LONG_ROUND_S));
  await hp.getByLabel('Break (seconds)').fill('0');
  await hp.getByLabel('They join a group').check();
  await hp.getByRole('button', { name: 'Create session' }).click();
  await hp.waitForFunction((old) => {
    const el = document.querySelector('#host-session');
    return el.dataset.session !== old && el.dataset.phase === 'lobby';
  }, session1, { timeout: 5000 });
  assert.equal(await hp.locator('#host-settings').textContent(), `rotate, 1 × 1:01 with 0:00 breaks, groups of 2, odd one out: joins a group`);
  for (const p of attendees) await joinButton(p).click({ timeout: 5000 });
  for (const p of attendees) await p.page.getByRole('button', { name: 'Leave speed networking' }).waitFor({ timeout: 5000 });
  await hp.locator('#host-participants', { hasText: /^3$/ }).waitFor({ timeout: 5000 });
  await hp.getByRole('button', { name: 'Start' }).click();
  for (const p of attendees) {
    const m = await matchOf(p, 1);
    assert.equal(m.kind, 'group');
    assert.deepEqual(m.partners, attendees.filter((q) => q !== p).map((q) => q.id).sort());
    await p.page.getByRole('heading', { name: 'Round 1: you are in a group of 3' }).waitFor();
  }
  // Three browsers, three calls: each sees both others.
  for (const p of attendees) for (const q of attendees) if (p !== q) await callConnected(p, q);
  // The screenshots of a round in progress (a long one: no hurry).
  await shot(ada, 'round.png');
  await shot(chen, 'round-phone.png', { fullPage: false });
  await shot(host, 'host-console.png');
  for (const p of attendees) assert.equal(await p.page.locator('#sn-call .tile[data-state=connected]').count(), 2, `${p.label}: the round was on for the screenshots`);
  for (const p of everyone) await accessible(p);

  mark('waiting for the warning');
  // The 30-second warning, to everyone in the round.
  for (const p of attendees) {
    const warning = p.page.locator('#sn-warning', { hasText: 'seconds left in this round' });
    await warning.waitFor({ timeout: (LONG_ROUND_S + 10) * 1000 });
    const left = Number(/(\d+) seconds left/.exec(await warning.textContent())[1]);
    assert.ok(left > 20 && left <= 30, `the warning says ${left} seconds`);
    assert.equal(await p.page.locator('#sn-warning').getAttribute('role'), 'alert');
  }
  mark('stop');
  // ---- the host stops it early ----
  await hp.getByRole('button', { name: 'Stop' }).click();
  for (const p of attendees) {
    await p.page.locator('#sn[data-phase=ended]').waitFor({ timeout: 5000 });
    assert.equal(await p.page.locator('#sn-call .tile').count(), 0, `${p.label}'s call closed`);
    assert.equal(await p.page.locator('#sn-warning').isHidden(), true);
  }
  await hp.locator('#host-session[data-phase=ended]').waitFor({ timeout: 5000 });
  for (const verb of ['Start', 'Pause', 'Resume', 'Stop']) assert.equal(await hp.getByRole('button', { name: verb, exact: true }).isDisabled(), true, `${verb} disabled once ended`);

  mark('no console');
  // ---- no console errors anywhere ----
  const errors = everyone.flatMap((p) => p.errors);
  assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
});

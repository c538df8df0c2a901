// The web client end to end, in Debian's Chromium driven by playwright-core:
// a host and three attendees, each in a browser context of their own, sign
// in with the development form, see each other in the lounge and chat; the
// host creates a session of 2 short rounds (odd one out: bye) and runs it;
// each attendee sees a partner card and a countdown (or that they sit the
// round out), partners' RTCPeerConnections reach `connected` over loopback
// with the fake camera, mutual "stay in touch" shows the connection (and a
// one-sided wish shows nothing), and the host reads the report. One attendee
// uses a phone-sized screen, and one loses its network for a moment and
// resumes. Screenshots go to docs/screenshots/. Any console error or
// uncaught exception in any page fails the test.
//
// Run: node --test tests/e2e/   (ICEBREAKER_BIN: the server binary; default
// build/icebreaker. CHROMIUM_BIN overrides the chromium found on PATH.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, newPerson, ensureScreenshotDir, until } from './lib/harness.mjs';

const ROUND_S = 8;
const BREAK_S = 2;
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
  person.id = await page.evaluate(() => JSON.parse(atob(sessionStorage.getItem('icebreaker.token').split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub);
}

async function shot(person, file) {
  await person.page.evaluate(() => window.scrollTo(0, 0));
  await person.page.screenshot({ path: join(SHOTS, file), fullPage: true });
}

/** What an attendee's page shows for `round`: {kind, partners:[ids]}. */
async function matchOf(person, round, ms = 6000) {
  const el = person.page.locator(`#sn-match[data-round="${round}"]`);
  await el.waitFor({ state: 'visible', timeout: ms });
  const kind = await el.getAttribute('data-kind');
  const partners = await el.locator('.partner[data-partner]').evaluateAll((els) => els.map((e) => e.dataset.partner));
  return { kind, partners };
}

/** Seconds shown by the countdown, or NaN. */
async function countdown(person) {
  const text = await person.page.locator('#sn-timer').textContent();
  const m = /(\d+):(\d\d)/.exec(text || '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/** The call on this page reaches `connected` and shows the partner's video. */
async function callConnected(person, partner) {
  const { page } = person;
  await page.locator(`#sn-call .tile[data-peer="${partner.id}"][data-state=connected]`).waitFor({ timeout: 6000 });
  await page.waitForFunction(
    (id) => {
      const v = document.querySelector(`#sn-call .tile[data-peer="${id}"] video`);
      return v && v.readyState >= 2 && v.videoWidth > 0;
    },
    partner.id,
    { timeout: 6000 },
  );
  assert.match(await page.locator(`#sn-call .tile[data-peer="${partner.id}"] figcaption`).textContent(), /Connected/);
}

async function giveFeedback(person, round, partner, { rating, connect }) {
  const form = person.page.locator(`form.fb[data-round="${round}"][data-partner="${partner.id}"]`);
  await form.waitFor({ timeout: 5000 });
  await form.locator('label.star').nth(rating - 1).click();
  if (connect) await form.getByLabel(`Stay in touch with ${partner.name}`).check();
  await form.getByRole('button', { name: 'Send feedback' }).click();
  await form.locator('[data-sent=yes], .fb-status').first().waitFor({ timeout: 5000 });
  await person.page.waitForFunction((sel) => document.querySelector(sel)?.dataset.sent === 'yes', `form.fb[data-round="${round}"][data-partner="${partner.id}"]`, { timeout: 5000 });
}

test('lounge, speed networking with video, feedback and the host console in Chromium', { timeout: 150000 }, async () => {
  const host = await newPerson(browser, srv.url, 'host');
  const ada = await newPerson(browser, srv.url, 'ada');
  const ben = await newPerson(browser, srv.url, 'ben');
  // A phone-sized screen: the layout must work at 375 px.
  const chen = await newPerson(browser, srv.url, 'chen', { viewport: { width: 375, height: 812 } });
  everyone.push(host, ada, ben, chen);
  const attendees = [ada, ben, chen];

  const t0 = Date.now();
  const mark = (what) => process.env.E2E_TIMING && console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);
  // ---- sign in ----
  await signIn(host, { name: 'Hana Host', role: 'host', headline: 'Community lead' });
  await signIn(ada, { name: 'Ada Lovelace', role: 'attendee', headline: 'Engineer, Analytical Engines', interests: 'ai, mathematics', offers: 'mentoring', seeks: 'funding', email: 'ada@example.org', company: 'Analytical Engines' });
  await signIn(ben, { name: 'Ben Okri', role: 'attendee', headline: 'Angel investor', interests: 'ai, writing', offers: 'funding', seeks: 'mentoring', email: 'ben@example.org', company: 'Okri Ventures' });
  await signIn(chen, { name: 'Chen Wei', role: 'attendee', headline: 'Robotics student', interests: 'robotics, ai', seeks: 'internship', email: 'chen@example.org' });

  mark('the lounge');
  // ---- the lounge: everyone sees everyone ----
  for (const p of everyone) {
    await p.page.waitForFunction((n) => document.querySelectorAll('#people-list li.person').length === n, 4, { timeout: 10000 });
    const names = await p.page.locator('#people-list .person-name').allTextContents();
    for (const q of everyone) assert.ok(names.some((n) => n.startsWith(q.name)), `${p.label} sees ${q.name}`);
    assert.equal(await p.page.locator('#people-count').textContent(), '(4)');
  }

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

  mark('network loss');
  // ---- network loss: Ben's page reconnects and resumes, and says so ----
  await ben.context.setOffline(true);
  await ben.page.locator('#conn[data-state=reconnecting]').waitFor({ timeout: 15000 });
  assert.match(await ben.page.locator('#conn-text').textContent(), /Connection lost/);
  await ben.context.setOffline(false);
  await ben.page.locator('#conn[data-state=open][data-resumed=yes]').waitFor({ timeout: 15000 });
  assert.match(await ben.page.locator('#conn-text').textContent(), /Reconnected: you kept your place/);
  // Resumed within the grace period: the others never saw Ben leave.
  assert.equal(await ada.page.locator('#people-list li.person').count(), 4);

  mark('the host creates');
  // ---- the host creates a session; attendees opt in ----
  const hp = host.page;
  await hp.getByLabel('Pairing').selectOption('interests');
  await hp.getByLabel('Rounds').fill('2');
  await hp.getByLabel('Round (seconds)').fill(String(ROUND_S));
  await hp.getByLabel('Break (seconds)').fill(String(BREAK_S));
  await hp.getByLabel('They sit the round out').check();
  await hp.getByRole('button', { name: 'Create session' }).click();
  await hp.locator('#host-session[data-phase=lobby]').waitFor({ timeout: 5000 });
  for (const p of attendees) {
    const join = p.page.getByRole('button', { name: 'Join speed networking' });
    await join.waitFor({ timeout: 5000 });
    await join.click();
    await p.page.getByRole('button', { name: 'Leave speed networking' }).waitFor({ timeout: 5000 });
  }
  // Live participant count on the console.
  await hp.waitForFunction(() => document.querySelector('#host-participants')?.textContent === '3', null, { timeout: 5000 });

  mark('round 1 ----');
  // ---- round 1 ----
  await hp.getByRole('button', { name: 'Start' }).click();
  const r1 = new Map();
  for (const p of attendees) r1.set(p, await matchOf(p, 1));
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
  }
  // Everyone likes "ai": whoever is paired sees it as a reason.
  for (const p of pairs1) assert.ok((await p.page.locator('#sn-match .chip').allTextContents()).includes('You both like ai'));
  await byes1[0].page.locator('#sn-match').getByText('you sit this one out').waitFor();
  // Countdowns, on everyone's screen, running down.
  for (const p of attendees) {
    const s = await countdown(p);
    assert.ok(s >= 1 && s <= ROUND_S, `${p.label}'s countdown shows ${s}`);
    assert.match(await p.page.locator('#sn-timer').textContent(), /left in round 1/);
  }
  const before1 = await countdown(x);
  await until('the countdown to tick', async () => (await countdown(x)) < before1, 3000);
  // Video: both sides of the pair connected, each seeing the other.
  await callConnected(x, y);
  await callConnected(y, x);
  await shot(x === chen ? y : x, 'round.png');
  await hp.waitForFunction(() => document.querySelector('#host-round')?.textContent === '1 of 2', null, { timeout: 3000 });
  await shot(host, 'host-console.png');

  mark('round 1 ends');
  // ---- round 1 ends: feedback, mutual connect ----
  for (const p of attendees) await p.page.locator('#sn[data-phase=break], #sn[data-phase=round][data-round="2"]').waitFor({ timeout: (ROUND_S + 2) * 1000 });
  assert.equal(await x.page.locator('#sn-call .tile').count(), 0, 'the call closed with the round');
  await giveFeedback(x, 1, y, { rating: 5, connect: true });
  await giveFeedback(y, 1, x, { rating: 4, connect: true });
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
  for (const p of attendees) r2.set(p, await matchOf(p, 2, (BREAK_S + 4) * 1000));
  const pairs2 = attendees.filter((p) => r2.get(p).kind === 'pair');
  const byes2 = attendees.filter((p) => r2.get(p).kind === 'bye');
  assert.equal(pairs2.length, 2);
  assert.equal(byes2.length, 1);
  assert.notEqual(byes2[0], byes1[0], 'nobody sits out twice while others have not');
  assert.ok(pairs2.includes(byes1[0]));
  const [u, v] = pairs2;
  await callConnected(u, v);
  await callConnected(v, u);
  assert.ok(pairs2.includes(chen) || byes2.includes(chen));
  await shot(chen, chen === byes2[0] ? 'round-phone-bye.png' : 'round-phone.png');
  await byes2[0].page.locator('#sn-match').getByText('you sit this one out').waitFor();

  // A one-sided wish is never revealed: u says yes, v says no.
  await giveFeedback(u, 2, v, { rating: 3, connect: true });
  await giveFeedback(v, 2, u, { rating: 3, connect: false });
  // Both answers are in (a `connection` would have come before the second ok).
  assert.equal(await u.page.locator(`#sn-connections-list li[data-user="${v.id}"]`).count(), 0);
  assert.equal(await v.page.locator(`#sn-connections-list li[data-user="${u.id}"]`).count(), 0);

  mark('the end');
  // ---- the end, and the report ----
  for (const p of attendees) await p.page.locator('#sn[data-phase=ended]').waitFor({ timeout: (ROUND_S + 4) * 1000 });
  await hp.locator('#host-session[data-phase=ended]').waitFor({ timeout: 5000 });
  await hp.getByRole('link', { name: 'Session report' }).click();
  await hp.locator('#host-report [data-field=rounds_run]').waitFor({ timeout: 5000 });
  assert.equal(await hp.locator('#host-report [data-field=rounds_run]').textContent(), '2 of 2');
  assert.equal(await hp.locator('#host-report [data-field=connections]').textContent(), '1');
  const reportText = await hp.locator('#host-report').textContent();
  assert.ok(reportText.includes(`${x.name} and ${y.name} (round 1)`) || reportText.includes(`${y.name} and ${x.name} (round 1)`), reportText);
  await shot(host, 'host-report.png');

  mark('no console');
  // ---- no console errors anywhere ----
  const errors = everyone.flatMap((p) => p.errors);
  assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
});

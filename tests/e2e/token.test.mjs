// Sign-in as an embedding platform does it, against a node run as in
// production (a secret of its own, no --dev): the platform mints a token
// (here with `icebreaker token`) and opens the client at /#token=<JWT>.
// The page signs in with it and takes it out of the address bar; a reload
// resumes the same session (nobody sees a leave); signing out leaves the
// lounge at once; a token the server refuses brings the sign-in screen
// with the reason. Any console error fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, launchBrowser, newPerson, mintToken, signedInAs } from './lib/harness.mjs';

const SECRET = randomBytes(24).toString('hex');
let srv;
let browser;
const everyone = [];

before(async () => {
  srv = await startServer({ secret: SECRET });
  browser = await launchBrowser();
});

after(async () => {
  for (const p of everyone) await p.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (srv) assert.equal(await srv.stop(), 0);
});

async function arrive(person, claims, secret = SECRET) {
  const token = await mintToken({ role: 'attendee', event: 'expo', ...claims }, { secret });
  await person.page.goto(`/?lounge=hall#token=${token}`);
}

test('a token in the URL fragment signs in; reload resumes; sign-out leaves; a refused token says so', { timeout: 60000 }, async () => {
  const rosa = await newPerson(browser, srv.url, 'rosa');
  const sam = await newPerson(browser, srv.url, 'sam');
  everyone.push(rosa, sam);
  const t0 = Date.now();
  const mark = (what) => process.env.E2E_TIMING && console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);

  await arrive(rosa, { sub: 'rosa', name: 'Rosa Parks', headline: 'Organiser' });
  await arrive(sam, { sub: 'sam', name: 'Sam Cooke' });
  for (const p of [rosa, sam]) {
    await p.page.locator('#conn[data-state=open]').waitFor({ timeout: 10000 });
    assert.equal(await p.page.locator('#signin').isHidden(), true);
    assert.equal(await p.page.evaluate(() => location.href.includes('token')), false, `${p.label}: the token left the address bar`);
    assert.equal(await p.page.evaluate(() => location.search), '?lounge=hall', 'the rest of the address is kept');
    assert.equal(await p.page.locator('#lounge-name').textContent(), 'hall');
    assert.equal(await p.page.locator('#event-name').textContent(), '· expo');
    await p.page.waitForFunction(() => document.querySelectorAll('#people-list li.person').length === 2, null, { timeout: 5000 });
  }
  assert.equal(await signedInAs(rosa.page), 'rosa');
  await rosa.page.getByLabel('Message to the lounge').fill('Hello from the platform link');
  await rosa.page.getByLabel('Message to the lounge').press('Enter');
  await sam.page.locator('#chat-log li.msg', { hasText: 'Hello from the platform link' }).waitFor({ timeout: 5000 });

  mark('reload');
  // A reload resumes the same session: Sam never sees Rosa leave, and the
  // chat history comes back.
  await sam.page.evaluate(() => {
    window.__counts = [];
    new MutationObserver(() => window.__counts.push(document.querySelector('#people-count').textContent)).observe(document.querySelector('#people-count'), { childList: true, characterData: true, subtree: true });
  });
  await rosa.page.reload();
  await rosa.page.locator('#conn[data-state=open][data-resumed=yes]').waitFor({ timeout: 10000 });
  await rosa.page.locator('#conn-text', { hasText: 'Reconnected: you kept your place' }).waitFor({ timeout: 1000 });
  await rosa.page.locator('#chat-log li.msg', { hasText: 'Hello from the platform link' }).waitFor({ timeout: 5000 });
  await sam.page.getByLabel('Message to the lounge').fill('Still here');
  await sam.page.getByLabel('Message to the lounge').press('Enter');
  await rosa.page.locator('#chat-log li.msg', { hasText: 'Still here' }).waitFor({ timeout: 5000 });
  assert.deepEqual((await sam.page.evaluate(() => window.__counts)).filter((c) => c !== '(2)'), [], 'Sam never saw Rosa leave');

  mark('sign-out');
  // Signing out leaves the lounge at once (no grace period to wait out).
  await sam.page.getByRole('button', { name: 'Sign out' }).click();
  await sam.page.locator('#signin').waitFor({ state: 'visible', timeout: 5000 });
  assert.equal(await sam.page.evaluate(() => sessionStorage.getItem('icebreaker.token')), null);
  await rosa.page.waitForFunction(() => document.querySelectorAll('#people-list li.person').length === 1, null, { timeout: 5000 });
  assert.equal(await rosa.page.locator('#people-count').textContent(), '(1)');

  mark('refused');
  // A token signed with another secret: refused, and the page says so.
  const eve = await newPerson(browser, srv.url, 'eve');
  everyone.push(eve);
  await arrive(eve, { sub: 'eve', name: 'Eve' }, 'not-the-server-secret');
  await eve.page.locator('#signin-error', { hasText: 'Your sign-in was refused or has expired' }).waitFor({ timeout: 10000 });
  assert.equal(await eve.page.evaluate(() => sessionStorage.getItem('icebreaker.token')), null, 'the refused token is forgotten');
  assert.equal(await eve.page.locator('#app').isHidden(), true);

  mark('done');
  const errors = everyone.flatMap((p) => p.errors);
  assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
});

// Booths in the web client, in Chromium: an exhibitor and two visitors. The
// visitors queue and see their place; the exhibitor takes the next visitor
// and the two talk over video (meet: room, RTCPeerConnection connected);
// the visitor shares their details (the exhibitor sees the lead); either
// side ends the conversation and both see it end; the queue moves on; the
// exhibitor downloads the leads as CSV; once the booth has finished
// conversations, a visitor further back sees an estimated wait.
// Also accessibility on every screen: every control has a label or a name,
// text contrast at WCAG AA, no sideways scrolling on the phone, and the
// sign-in form starts in its first field, right after the skip link. Any
// console error fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, newPerson, ensureScreenshotDir, signedInAs, unlabelled, lowContrast, overflowsSideways } from './lib/harness.mjs';

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
  if (srv) assert.equal(await srv.stop(), 0);
});

async function signIn(person, fields) {
  const { page } = person;
  await page.goto('/');
  assert.deepEqual(await unlabelled(page), [], 'sign-in form controls all labelled');
  // Focus starts in the first field; the only stop before it is the skip link.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'f-name');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip', 'Shift+Tab from the first field reaches the skip link');
  await page.keyboard.press('Tab');
  await page.getByLabel('Your name').fill(fields.name);
  await page.getByLabel('Your role').selectOption(fields.role);
  if (fields.booth) await page.getByLabel('Your booth').fill(fields.booth);
  if (fields.headline) await page.getByLabel('Headline').fill(fields.headline);
  if (fields.email) await page.getByLabel('Email').fill(fields.email);
  if (fields.company) await page.getByLabel('Company').fill(fields.company);
  await page.getByRole('button', { name: 'Enter the lounge' }).click();
  await page.locator('#conn[data-state=open]').waitFor({ timeout: 10000 });
  person.name = fields.name;
  person.id = await signedInAs(page);
}

async function boothCallConnected(person, partner) {
  await person.page.locator(`#booth-call .tile[data-peer="${partner.id}"][data-state=connected]`).waitFor({ timeout: 8000 });
  await person.page.waitForFunction(
    (id) => {
      const v = document.querySelector(`#booth-call .tile[data-peer="${id}"] video`);
      return v && v.readyState >= 2 && v.videoWidth > 0;
    },
    partner.id,
    { timeout: 6000 },
  );
}

test('booth queue, next visitor with video, lead consent and the end of a meeting', { timeout: 90000 }, async () => {
  const staff = await newPerson(browser, srv.url, 'staff');
  const vera = await newPerson(browser, srv.url, 'vera');
  const walt = await newPerson(browser, srv.url, 'walt', { phone: true });
  everyone.push(staff, vera, walt);

  await signIn(staff, { name: 'Erin Exhibitor', role: 'exhibitor', booth: 'acme', headline: 'Solutions engineer at Acme' });
  await signIn(vera, { name: 'Vera Visitor', role: 'attendee', headline: 'Buyer, Globex', email: 'vera@example.org', company: 'Globex' });
  await signIn(walt, { name: 'Walt Visitor', role: 'attendee', headline: 'Student' });
  await staff.page.getByRole('heading', { name: 'Your booth: acme' }).waitFor();

  // ---- queueing ----
  await vera.page.getByLabel('Booth to visit').fill('acme');
  await vera.page.getByRole('button', { name: 'Join the queue' }).click();
  await vera.page.locator('#booth').getByText('You are next at acme.').waitFor({ timeout: 5000 });
  await vera.page.locator('#booth').getByText('No wait estimate yet').waitFor();
  await walt.page.getByLabel('Booth to visit').fill('acme');
  await walt.page.getByRole('button', { name: 'Join the queue' }).click();
  await walt.page.locator('#booth').getByText('You are 2nd in line at acme.').waitFor({ timeout: 5000 });
  await walt.page.evaluate(() => window.scrollTo(0, 0));
  await walt.page.screenshot({ path: join(SHOTS, 'booth-phone.png') });

  // ---- the exhibitor takes the next visitor: Vera ----
  await staff.page.getByRole('button', { name: 'Next visitor' }).click();
  await staff.page.getByRole('heading', { name: 'Talking with Vera Visitor' }).waitFor({ timeout: 5000 });
  await vera.page.getByRole('heading', { name: 'Talking with Erin Exhibitor of acme' }).waitFor({ timeout: 5000 });
  await walt.page.locator('#booth').getByText('You are next at acme.').waitFor({ timeout: 5000 });
  assert.equal(await staff.page.getByRole('button', { name: 'Next visitor' }).isDisabled(), true, 'one visitor at a time');
  await boothCallConnected(staff, vera);
  await boothCallConnected(vera, staff);

  // ---- lead consent ----
  await vera.page.getByRole('button', { name: 'Share my contact details with acme' }).click();
  const lead = staff.page.locator(`#booth-extra li[data-user="${vera.id}"]`);
  await lead.waitFor({ timeout: 5000 });
  assert.match(await lead.textContent(), /Vera Visitor.*vera@example\.org.*Globex/);
  await vera.page.getByRole('button', { name: 'Withdraw my details from acme' }).waitFor();
  await staff.page.evaluate(() => window.scrollTo(0, 0));
  await staff.page.screenshot({ path: join(SHOTS, 'booth-staff.png'), fullPage: true });
  for (const p of everyone) {
    assert.deepEqual(await unlabelled(p.page), [], `${p.label}: every control labelled`);
    assert.deepEqual(await lowContrast(p.page), [], `${p.label}: all text at WCAG AA contrast`);
    assert.equal(await overflowsSideways(p.page), false, `${p.label}: the page fits its screen's width`);
  }
  // The lead export: a CSV file with the contract's header and Vera's row.
  const [download] = await Promise.all([staff.page.waitForEvent('download', { timeout: 5000 }), staff.page.getByRole('button', { name: 'Download leads (CSV)' }).click()]);
  assert.equal(download.suggestedFilename(), 'acme-leads.csv');
  const csv = (await readFile(await download.path(), 'utf8')).trim().split(/\r?\n/);
  assert.equal(csv[0], 'id,name,headline,email,company,title,url,at,meeting_s');
  assert.equal(csv.length, 2);
  assert.match(csv[1], new RegExp(`^${vera.id},Vera Visitor,"Buyer, Globex",vera@example\\.org,Globex,`));

  // ---- Vera ends the conversation; both see it end ----
  await vera.page.getByRole('button', { name: 'End the conversation' }).click();
  await staff.page.locator('#booth').getByText('Your conversation with Vera Visitor has ended.').waitFor({ timeout: 5000 });
  await vera.page.locator('#booth').getByText('Your conversation with Erin Exhibitor has ended.').waitFor({ timeout: 5000 });
  assert.equal(await staff.page.locator('#booth-call .tile').count(), 0);

  // ---- next: Walt ----
  await staff.page.getByRole('button', { name: 'Next visitor' }).click();
  await walt.page.getByRole('heading', { name: 'Talking with Erin Exhibitor of acme' }).waitFor({ timeout: 5000 });
  await boothCallConnected(walt, staff);
  await staff.page.getByRole('button', { name: 'End the conversation' }).click();
  await walt.page.locator('#booth').getByText('Your conversation with Erin Exhibitor has ended.').waitFor({ timeout: 5000 });

  // ---- a wait estimate, now that the booth has finished conversations ----
  await vera.page.getByLabel('Booth to visit').fill('acme');
  await vera.page.getByRole('button', { name: 'Join the queue' }).click();
  await vera.page.locator('#booth').getByText('You are next at acme.').waitFor({ timeout: 5000 });
  await vera.page.locator('#booth').getByText('Any moment now.').waitFor();
  await walt.page.getByLabel('Booth to visit').fill('acme');
  await walt.page.getByRole('button', { name: 'Join the queue' }).click();
  await walt.page.locator('#booth').getByText('You are 2nd in line at acme.').waitFor({ timeout: 5000 });
  // One conversation ahead, as long as the booth's conversations last.
  assert.match(await walt.page.locator('#booth .queue').textContent(), /About \d+ seconds? to wait\./);
  // Vera leaves the queue: Walt moves up.
  await vera.page.getByRole('button', { name: 'Leave the queue' }).click();
  await vera.page.getByRole('button', { name: 'Join the queue' }).waitFor({ timeout: 5000 });
  await walt.page.locator('#booth').getByText('You are next at acme.').waitFor({ timeout: 5000 });
  await walt.page.getByRole('button', { name: 'Leave the queue' }).click();
  await walt.page.getByRole('button', { name: 'Join the queue' }).waitFor({ timeout: 5000 });

  // Nobody left: the exhibitor is told so.
  await staff.page.getByRole('button', { name: 'Next visitor' }).click();
  await staff.page.locator('#booth').getByText('No one is waiting right now.').waitFor({ timeout: 5000 });

  const errors = everyone.flatMap((p) => p.errors);
  assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
});

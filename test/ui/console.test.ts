/**
 * The web console in a real browser: Debian's Chromium driven by playwright-core against a real Salvo
 * (SQLite, workers on, email captured in the outbox). Signs in, triggers a campaign from its test form,
 * finds the message in the log and the outbox, opens it; saves a screenshot of each page under
 * test/ui/screenshots/. Needs the console built (`npm run build`, which `npm test` runs first) and
 * /usr/bin/chromium (`.ci/run` installs it): without either it fails, never skips.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { addProfile } from '../fixture.ts';
import { eventually, ok, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { startSmtp } from '../smtp.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = new URL('./screenshots/', import.meta.url).pathname;
const BUILT = new URL('../../dist/ui/index.html', import.meta.url).pathname;

let s: TestServer;
let browser: Browser;
let page: Page;
let campaign: number;
let db: number;

/** A database with John, a resource, the Welcome template (with a script that must never run) and its active campaign. */
async function welcomeCampaign(server: TestServer) {
  const db = ok(await server.call('databases/add', { name: 'customers', fields: [{ name: 'CRM_ID', type: 'int' }] })).data.id;
  const resource = ok(
    await server.call('resources/add', { name: 'Shop', channels: ['email'], email: { from_email: 'shop@example.com', from_name: 'Shop' } }),
  ).data.id;
  const template = ok(
    await server.call('templates/add', {
      name: 'Welcome',
      channels: [{ sid: 'email', fields: { subject: 'Hi {lead._fname}', html: '<h1>Hello {lead._fname}!</h1><p>Order {apicontent.order}</p><script>document.write("SCRIPT RAN"); top.document.title = "owned"</script>', text: 'Hello {lead._fname}! Order {apicontent.order}' } }],
    }),
  ).data.id;
  await addProfile(server, db, { email: 'john@example.com', _fname: 'John', CRM_ID: 42, subscriptions: [{ resource_id: resource, channel: 'email', email: 'john@example.com' }] });
  const campaign = ok(
    await server.call('campaigns/triggers/add', { name: 'Welcome', send_channel: 'email', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true }),
  ).data.id;
  return { db, campaign };
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium; .ci/run does it)`);
  assert.ok(existsSync(BUILT), `${BUILT} is missing: build the console first (npm run build)`);
  mkdirSync(SHOTS, { recursive: true });
  s = await startServer({ workers: true });
  ({ db, campaign } = await welcomeCampaign(s));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page.setDefaultTimeout(10_000);
});

after(async () => {
  await browser?.close();
  await s?.close();
});

/** A full-page screenshot, after two animation frames so that iframes (their own processes) have painted. */
async function shot(name: string) {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

test('sign in: a wrong token is refused with Salvo\'s text, the right one opens the overview', async () => {
  await page.goto(`${s.url}/ui/`);
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: '403: API token is not valid' }).waitFor();
  await shot('sign-in');
  await page.getByLabel('API token').fill(TEST_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('salvo.token')), TEST_TOKEN);
});

let messageId: number;

test('campaign page: template preview, call_url, a test trigger that sends, deactivate and activate', async () => {
  await page.getByRole('navigation').getByRole('link', { name: 'Campaigns' }).click();
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'Welcome' }) });
  assert.match(await row.innerText(), /active\s+api_call\s+email/);
  await shot('campaigns');
  await row.getByRole('link', { name: 'Welcome' }).click();
  await page.getByRole('heading', { name: 'Template: Welcome' }).waitFor();
  assert.match(await page.locator('.fields').first().innerText(), /\/trg\/[0-9a-f]{32}\//);
  assert.equal(await page.frameLocator('iframe[title="template HTML"]').locator('h1').innerText(), 'Hello {lead._fname}!');

  const form = page.locator('form[name="test-trigger"]');
  await form.getByLabel('Value').fill('john@example.com');
  await form.getByLabel(/content/).fill('{"order": "A-17"}');
  // A dry run first: John's message rendered as it would be sent, and nothing stored.
  await form.getByRole('button', { name: 'Preview (dry run)' }).click();
  const preview = page.getByRole('region', { name: 'Dry run preview' });
  await preview.waitFor();
  const previewed = await preview.innerText();
  assert.match(previewed, /Audience\s+1\s+Would be sent\s+1\s+Would be skipped\s+0/);
  assert.match(previewed, /To\s+john@example\.com \(email\)\s+Variant\s+0 \(template #\d+\)\s+From/);
  // The headers the mail will carry, as a mailbox provider sees them (the preview's link names no message).
  assert.match(previewed, /From\s+Shop <shop@example\.com>\s+Subject\s+Hi John\s+List-Unsubscribe\s+<http[^>]+\/u\/preview>\s+List-Unsubscribe-Post\s+List-Unsubscribe=One-Click/);
  assert.equal(await page.frameLocator('iframe[title="preview HTML"]').locator('p').innerText(), 'Order A-17');
  assert.equal(ok(await s.call('launches/list', { campaign_id: campaign })).data.length, 0);
  await shot('campaign-preview');
  await form.getByRole('button', { name: 'Send now' }).click();
  const result = page.getByRole('status');
  await result.getByRole('link', { name: /^Message #\d+$/ }).waitFor();
  messageId = Number((await result.getByRole('link', { name: /^Message #/ }).innerText()).slice('Message #'.length));
  const launchId = Number((await result.getByRole('link', { name: /^launch #/ }).innerText()).slice('launch #'.length));
  // What the console showed is what the API says: the launch and its one message to John.
  const launch = ok(await s.call('launches/get', { id: launchId })).data;
  assert.equal(launch.campaign_id, campaign);
  assert.equal(launch.total, 1);
  const [m] = ok(await s.call('messages/list', { launch_id: launchId })).data;
  assert.equal(m.id, messageId);
  assert.equal(m.address, 'john@example.com');
  // The form follows its message until it leaves the queue.
  await result.locator('.badge-captured').waitFor();
  assert.equal(ok(await s.call('messages/get', { id: messageId })).data.status, 'captured');
  await result.getByRole('link', { name: 'captured in the outbox' }).waitFor();
  assert.equal(await preview.count(), 0);
  // The content card counts the campaign's messages per A/B variant (campaigns/stats), refreshed every 5 s.
  const variant0 = page.locator('#variants tbody tr').first();
  await eventually(async () => /^0\s+#\d+\s+1 \(100%\)\s+1\s+0\s+1\s+0\s+0/.test(await variant0.innerText()), 10_000, 'variant 0 counts the message captured, apart from sent');
  assert.match(await page.locator('.card', { hasText: 'Opens, clicks, unsubscribes' }).innerText(), /Opened\s+0, 0 opens in all\s+Clicked\s+0, 0 clicks in all\s+Unsubscribed\s+0/);
  await shot('campaign');

  await page.getByRole('button', { name: 'Deactivate', exact: true }).click();
  await page.getByRole('button', { name: 'Activate', exact: true }).waitFor();
  assert.equal(ok(await s.call('campaigns/triggers/get', { id: campaign })).data.is_active, false);
  assert.ok(await form.getByRole('button', { name: 'Send now' }).isDisabled());
  await page.getByRole('button', { name: 'Activate', exact: true }).click();
  await page.getByRole('button', { name: 'Deactivate', exact: true }).waitFor();
  assert.equal(ok(await s.call('campaigns/triggers/get', { id: campaign })).data.is_active, true);
  assert.match(await page.locator('.card', { hasText: 'Log' }).last().innerText(), /deactivated/);
});

test('messages: the log shows the message captured; filters narrow it; its page shows history and the rendered body', async () => {
  await page.getByRole('navigation').getByRole('link', { name: 'Messages' }).click();
  const row = page.locator('#messages tr', { has: page.locator(`a[href="#/messages/${messageId}"]`) });
  await row.locator('.badge-captured').waitFor();
  assert.match(await row.innerText(), /john@example\.com/);
  const filters = page.locator('form[name="filters"]');
  await filters.getByLabel('Status').selectOption('failed');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await page.getByText('No messages match these filters.').waitFor();
  assert.match(page.url(), /#\/messages\?status=failed$/);
  await filters.getByLabel('Status').selectOption('captured');
  await filters.getByLabel('Channel').selectOption('email');
  await filters.getByRole('button', { name: 'Filter' }).click();
  await row.waitFor();
  await shot('messages');

  await row.locator(`a[href="#/messages/${messageId}"]`).click();
  await page.getByRole('heading', { name: `Message #${messageId}` }).waitFor();
  const history = await page.locator('#history').innerText();
  assert.match(history, /queued/);
  assert.match(history, /sending\s+attempt 1/);
  assert.match(history, /captured\s+captured in the outbox/);
  const fields = page.locator('.fields').first();
  assert.match(await fields.innerText(), /Variant\s+0 \(template #\d+\)/);
  assert.match(await fields.innerText(), /Opens\s+0\s+Clicks\s+0\s+Unsubscribed\s+no/);
  // John unsubscribes through the one-click URL of the captured mail, as a mailbox provider posts it; the page follows.
  const [captured] = ok(await s.call('outbox/list', { message_id: messageId })).data;
  const raw = ok(await s.call('outbox/get', { id: captured.id })).data.raw as string;
  const oneClick = /^List-Unsubscribe: <([^>]+)>/im.exec(raw)![1];
  const posted = await fetch(s.url + new URL(oneClick).pathname, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
  assert.equal(posted.status, 200);
  await eventually(async () => /Unsubscribed\s+\d/.test(await fields.innerText()), 10_000, 'the message page shows the unsubscribe');
  assert.match(await page.locator('#history').innerText(), /unsubscribed\s+through the link in the message/);
  // He subscribes again (the later tests send him mail).
  const m = ok(await s.call('messages/get', { id: messageId })).data;
  const [sub] = ok(await s.call('profiles/get', { db_id: db, email: 'john@example.com' })).data.subscriptions;
  ok(await s.call('subscriptions/set', { db_id: db, profile_id: m.profile_id, resource_id: sub.resource_id, channel: 'email', email: 'john@example.com', status: 'subscribed' }));
  const body = page.frameLocator('iframe[title="message body"]');
  assert.equal(await body.locator('h1').innerText(), 'Hello John!');
  assert.equal(await body.locator('p').innerText(), 'Order A-17');
  // The email's script is in the body but never runs: the frame is sandboxed without scripts.
  assert.doesNotMatch(await body.locator('body').innerText(), /SCRIPT RAN/);
  assert.equal(await page.title(), 'Salvo console');
  await shot('message');
});

test('outbox: the captured email with HTML, text, headers, and an attachment to download', async () => {
  // A second launch through the API carries an attachment: the form sends none.
  const attach = [{ name: 'invoice.txt', data: `data:text/plain;base64,${Buffer.from('total: 17 EUR\n').toString('base64')}` }];
  ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com', content: { order: 'B-2' }, attach }));
  await eventually(async () => ok(await s.call('outbox/list', {})).data.length === 2, 10_000, 'two captured emails');

  await page.getByRole('navigation').getByRole('link', { name: 'Outbox' }).click();
  const items = page.locator('#outbox li');
  await items.nth(1).waitFor();
  assert.equal(await items.count(), 2);
  await items.nth(0).getByRole('link').click();
  await page.getByRole('heading', { name: 'Hi John' }).waitFor();
  assert.equal(await page.frameLocator('iframe[title="captured HTML"]').locator('p').innerText(), 'Order B-2');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /invoice\.txt/ }).click()]);
  assert.equal(download.suggestedFilename(), 'invoice.txt');
  assert.equal(readFileSync(await download.path()!, 'utf8'), 'total: 17 EUR\n');

  await page.getByRole('tab', { name: 'Text' }).click();
  assert.equal(await page.locator('.text-body').innerText(), 'Hello John! Order B-2');
  await page.getByRole('tab', { name: 'Headers' }).click();
  const headers = await page.locator('.headers').innerText();
  assert.match(headers, /Subject\s+Hi John/);
  assert.match(headers, /To\s+john@example\.com/);
  assert.match(headers, /From\s+Shop <shop@example\.com>/);
  await page.getByRole('tab', { name: 'HTML' }).click();
  await shot('outbox');

  // The first capture is the form's message, linked to its message page.
  await items.nth(1).getByRole('link').click();
  await page.getByRole('link', { name: `#${messageId}` }).click();
  await page.getByRole('heading', { name: `Message #${messageId}` }).waitFor();
});

test('profiles: look John up by email; his fields and subscription', async () => {
  await page.getByRole('navigation').getByRole('link', { name: 'Profiles' }).click();
  const form = page.locator('form[name="lookup"]');
  await form.getByLabel('Value').fill('john@example.com');
  await form.getByRole('button', { name: 'Look up' }).click();
  await page.getByRole('heading', { name: /^Profile [0-9a-f]{24}$/ }).waitFor();
  const fields = await page.locator('.fields').first().innerText();
  assert.match(fields, /_fname\s+John/);
  assert.match(fields, /CRM_ID\s+42/);
  assert.match(await page.locator('.card', { hasText: 'Subscriptions' }).innerText(), /email\s+john@example\.com\s+subscribed/);
  await shot('profiles');
});

test('overview: the last hour counts both emails captured, apart from sent; the launches show complete', async () => {
  await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
  const hour = page.locator('.card', { hasText: 'Last hour' });
  const email = hour.locator('tr', { hasText: 'email' });
  await email.locator('a[href*="status=captured"]').filter({ hasText: '2' }).waitFor();
  assert.equal(await email.locator('a[href*="status=sent"]').innerText(), '0');
  const launches = page.locator('.card', { hasText: 'Recent launches' });
  await launches.locator('tbody tr').nth(1).waitFor();
  assert.equal(await launches.locator('.badge-complete').count(), 2);
  await shot('overview');
});

test('a mail sent through an SMTP server: its page shows From, To, Reply-To, the text part, the headers and the attachment as they went out', async () => {
  const smtp = await startSmtp();
  const sender = await startServer({ workers: true, env: { SALVO_SMTP_URL: smtp.url } });
  try {
    const { campaign: welcome } = await welcomeCampaign(sender);
    const [resource] = ok(await sender.call('resources/list')).data;
    ok(await sender.call('resources/update', { id: resource.id, email: { from_email: 'shop@example.com', from_name: 'Shop', replyto_email: 'help@example.com', replyto_name: 'Help' } }));
    const attach = [{ name: 'invoice.pdf', data: `data:application/pdf;base64,${Buffer.from('%PDF-1.4 total 17').toString('base64')}` }];
    const started = await sender.call('campaigns/triggers/start', { id: welcome, email: 'john@example.com', content: { order: 'C-3' }, attach });
    ok(started);
    const [mail] = await smtp.waitFor(1);
    const [m] = ok(await sender.call('messages/list', { launch_id: Number(started.headers.get('launch-id')) })).data;
    await eventually(async () => ok(await sender.call('messages/get', { id: m.id })).data.status === 'sent', 10_000, 'the message recorded as sent');

    await page.goto(`${sender.url}/ui/`);
    await page.getByLabel('API token').fill(TEST_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.goto(`${sender.url}/ui/#/messages/${m.id}`);
    await page.getByRole('heading', { name: `Message #${m.id}` }).waitFor();
    const sent = page.locator('.card', { hasText: 'As sent' }).locator('.mail');
    assert.equal(await sent.locator('.mail-subject').innerText(), 'Hi John');
    const fields = await sent.locator('.fields').innerText();
    assert.match(fields, /From\s+Shop <shop@example\.com>\s+To\s+john@example\.com\s+Reply-To\s+Help <help@example\.com>/);
    assert.match(fields, /Attachments\s+invoice\.pdf \(application\/pdf, 17 bytes\)/);
    assert.equal(mail.mail.attachments[0].filename, 'invoice.pdf');
    assert.equal(await sent.frameLocator('iframe[title="message body"]').locator('p').innerText(), 'Order C-3');
    await sent.getByRole('tab', { name: 'Text' }).click();
    assert.equal(await sent.locator('.text-body').innerText(), 'Hello John! Order C-3');
    assert.equal(mail.mail.text?.trim(), 'Hello John! Order C-3');
    await sent.getByRole('tab', { name: 'Headers' }).click();
    const headers = await sent.locator('.headers').innerText();
    // The List-Unsubscribe the SMTP server received, and its Message-ID, are those the page shows.
    const listUnsubscribe = /^List-Unsubscribe: (.+)$/im.exec(mail.raw.replace(/\r?\n[ \t]+/g, ' '))![1];
    assert.ok(headers.includes(`List-Unsubscribe\t${listUnsubscribe}`), `${headers} names ${listUnsubscribe}`);
    assert.ok(headers.includes(`Message-ID\t${mail.mail.messageId}`), `${headers} names ${mail.mail.messageId}`);
    assert.match(headers, /Subject\s+Hi John/);
    await shot('message-sent');
  } finally {
    // Back to the first server, where the console is still signed in, for the tests after.
    await page.goto(`${s.url}/ui/`);
    await sender.close();
    await smtp.close();
  }
});

test('sign out forgets the token; a refused token returns to sign-in', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('salvo.token')), null);
  // A token revoked while signed in: the next call's 403 signs the console out.
  await page.evaluate(() => sessionStorage.setItem('salvo.token', 'revoked'));
  await page.goto(`${s.url}/ui/#/messages`);
  await page.getByLabel('API token').waitFor();
});

// SPDX-License-Identifier: MIT
// The admin page in headless Chromium, as an operator uses it: the
// prompt alone before the token, a refused token, the dashboard, an
// order found by id, a dead letter retried until the order is imported,
// and forgetting the token. Every request outside the service is
// blocked and counted as a failure. Run by tests/e2e/test_admin_browser.py
//
// env: SCB_ADMIN_URL (http://host:port/admin/), SCB_ADMIN_TOKEN,
//      SCB_ORDER_ID (an order in needs_attention whose item now exists),
//      SCB_SCREENSHOTS (a directory), SCB_CHROMIUM (default
//      /usr/bin/chromium)
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const URL_ = process.env.SCB_ADMIN_URL;
const TOKEN = process.env.SCB_ADMIN_TOKEN;
const ORDER = process.env.SCB_ORDER_ID;
const SHOTS = process.env.SCB_SCREENSHOTS;
const CHROMIUM = process.env.SCB_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
  '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let checks = 0;

function check(cond, what) {
  assert.ok(cond, what);
  checks++;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'),
    fullPage: true });
}

async function text(page, sel) {
  return (await page.locator(sel).textContent()) || '';
}

async function main() {
  assert.ok(URL_ && TOKEN && ORDER && SHOTS, 'missing SCB_* variables');
  fs.mkdirSync(SHOTS, { recursive: true });
  const origin = new URL(URL_).origin;
  // A fresh profile each run: Playwright takes --user-data-dir this way.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'scb-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const outside = [];
  const seen = [];
  const problems = [];
  try {
    await ctx.route('**/*', (route) => {
      const u = route.request().url();
      if (new URL(u).origin !== origin) {
        outside.push(u);
        return route.abort();
      }
      seen.push({ url: u, headers: route.request().headers() });
      return route.continue();
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      // Refused tokens show as failed loads (401); anything else counts,
      // Content-Security-Policy violations included.
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
        problems.push('console: ' + m.text());
      }
    });
    await run(page, seen);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  check(outside.length === 0, 'requests outside the service: ' + outside);
  check(problems.length === 0, problems.join('\n'));
  console.log('browser: ' + checks + ' passed, 0 failed');
}

async function run(page, seen) {
  // 1. Before the token: the prompt and nothing else, no API call.
  await page.goto(URL_);
  await page.locator('#token').waitFor({ state: 'visible' });
  check(await page.locator('#app').isHidden(), 'app hidden before token');
  check((await text(page, '#states')) === '', 'no counts before token');
  check((await text(page, '#dead-rows')) === '', 'no letters before token');
  check(!seen.some((r) => r.url.includes('/api/')), 'no API call yet');
  await shot(page, '01-prompt');

  // 2. A wrong token is refused; still nothing but the prompt.
  await page.fill('#token', 'not-the-token-' + 'x'.repeat(24));
  await page.click('#login-submit');
  await page.locator('#login-error').filter({ hasText: 'refused' })
    .waitFor();
  check(await page.locator('#app').isHidden(), 'app hidden after refusal');
  await shot(page, '02-refused');

  // 3. The right token opens the dashboard.
  await page.fill('#token', TOKEN);
  await page.click('#login-submit');
  await page.locator('#app').waitFor({ state: 'visible' });
  const tile = page.locator('[data-state="needs_attention"] .n');
  check(Number(await tile.textContent()) >= 1, 'needs attention counted');
  check((await page.locator('#chart svg rect').count()) === 48,
    '24 hours of two bars');
  check((await page.locator('#poll-rows tr').count()) >= 3, 'polls shown');
  const row = page.locator('#dead-rows tr[data-order="' + ORDER + '"]');
  await row.waitFor();
  check(/UNKNOWN_PRODUCT/.test(await row.textContent()), 'reason shown');
  await shot(page, '03-dashboard');

  // 4. The order, found by its Sellercloud id.
  await page.fill('#search-q', ORDER);
  await page.click('#search-submit');
  await page.locator('#order').waitFor({ state: 'visible' });
  check((await text(page, '#o-state')) === 'needs_attention', 'state');
  check(/UNKNOWN_PRODUCT/.test(await text(page, 'dd[data-field="reason"]')),
    'order reason');
  check((await page.locator('#o-history tbody tr').count()) >= 1,
    'history rows');
  await shot(page, '04-order');

  // 5. Retry its dead letter, then watch it import.
  await row.locator('button.retry').click();
  await row.filter({ hasText: 'requeued' }).waitFor();
  await shot(page, '05-retried');
  const deadline = Date.now() + 30000;
  while ((await text(page, '#o-state')) !== 'imported') {
    assert.ok(Date.now() < deadline, 'the order was not imported in 30 s');
    await page.waitForTimeout(500);
    await page.click('#o-reload');
  }
  const ddiNo = await text(page, 'dd[data-field="ddi order"]');
  check(ddiNo !== '' && ddiNo !== '-', 'DDI order number shown');
  check(/admin_retry/.test(await text(page, '#o-history')),
    'history shows the retry');
  await shot(page, '06-imported');

  // The token travelled in the header only, never in a URL.
  const apiCalls = seen.filter((r) => r.url.includes('/admin/api/'));
  check(apiCalls.length > 0, 'API calls made');
  check(apiCalls.every((r) => !r.url.includes(TOKEN)), 'no token in URLs');
  check(apiCalls.every((r) => r.headers.authorization &&
    r.headers.authorization.startsWith('Bearer ')), 'bearer header sent');

  // 6. Forgetting the token clears the page back to the prompt.
  await page.click('#signout');
  await page.locator('#login').waitFor({ state: 'visible' });
  check(await page.locator('#app').isHidden(), 'app hidden after sign out');
  check((await text(page, '#states')) === '', 'counts cleared');
  check((await text(page, '#o-history')).indexOf('admin_retry') < 0,
    'order cleared');
  await shot(page, '07-signed-out');
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  console.log('browser: ' + checks + ' passed, 1 failed');
  process.exit(1);
});

// The first hour: `houston demo` on a database of its own, served by a Houston of its
// own, as a newcomer sees it. Checks that the board shows every verdict the judge
// gives (made by the real judge from the seeded samples) with its deltas, that a
// deploy page leads with its receipt, and that `houston demo --live` moves an open
// board without a reload. Takes the README's pictures: into end2end/screenshots, and
// into docs/img when HOUSTON_README_PICTURES is set (scripts/readme-pictures.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchChromium, openHydrated as openBrowserPage } from './browser.mjs';

const BIN = process.env.HOUSTON_BIN;
const SHOTS = path.resolve(import.meta.dirname, '..', 'screenshots');
const PICTURES = process.env.HOUSTON_README_PICTURES;
assert.ok(BIN, 'run through end2end/run.sh (HOUSTON_BIN)');

let work;
let server;
let base;
let env;
let context;
let browser;
let seeded;
const PASSWORD = `demo journey ${Date.now()}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitReady(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Houston at ${url} did not get ready`);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'houston-demo-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = {
    ...process.env,
    HOUSTON_DATABASE_URL: `sqlite:${path.join(work, 'demo.db')}`,
    HOUSTON_BIND: `127.0.0.1:${port}`,
    HOUSTON_URL: base,
    HOUSTON_LOG: 'warn',
  };
  delete env.HOUSTON_TOKEN;
  // What a newcomer types: the demo first, then the server.
  seeded = execFileSync(BIN, ['demo'], { env, encoding: 'utf8' });
  execFileSync(BIN, ['user', 'create', '--name', 'newcomer', '--role', 'lead'], {
    env, input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'],
  });
  server = spawn(BIN, ['serve'], { env, stdio: 'ignore' });
  await waitReady(base, 30000);

  browser = await launchChromium();
  context = browser.context;
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.waitForSelector('html[data-hydrated="true"]');
  await page.fill('input[name="username"]', 'newcomer');
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('main button[type="submit"]');
  await page.waitForURL(`${base}/`);
  await page.close();
});

after(async () => {
  await browser?.close();
  server?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
});

function picture(name) {
  if (PICTURES) copyFileSync(path.join(SHOTS, name), path.join(PICTURES, name));
}

function openHydrated(url) {
  return openBrowserPage(context, url);
}

function cell(page, service, environment) {
  const row = page.getByTestId('board').locator('tbody tr').filter({ has: page.locator('th', { hasText: new RegExp(`^${service}$`) }) });
  return row.locator(`td[data-label="${environment}"]`);
}

test('the demo tells what it seeded and the judge judged it', () => {
  assert.match(seeded, /demo data loaded/);
  for (const state of ['healthy', 'unhealthy', 'ailing', 'no data', 'baking']) {
    assert.match(seeded, new RegExp(`\\d+ ${state}`), `the judge gave some "${state}": ${seeded}`);
  }
});

test('the demo board shows every verdict with its deltas, alerts and locks', async () => {
  const { page, errors } = await openHydrated(`${base}/`);
  const board = page.getByTestId('board');
  for (const state of ['healthy', 'ailing', 'unhealthy', 'baking', 'no_data']) {
    assert.ok(await board.locator(`[data-verdict="${state}"]`).count() > 0, `a ${state} cell`);
  }
  const checkout = cell(page, 'checkout', 'production');
  assert.equal(await checkout.locator('[data-verdict]').getAttribute('data-verdict'), 'unhealthy');
  assert.match(await checkout.innerText(), /latency_p95 \+\d+ %/);
  assert.match(await checkout.innerText(), /HighLatencyP95/, 'its alert fires in its cell');
  assert.match(await cell(page, 'payments', 'canary').innerText(), /cpu \+\d+ %/);
  assert.match(await cell(page, 'api-gateway', 'staging').innerText(), /in progress|deploying/i);
  assert.match(await cell(page, 'inventory', 'staging').innerText(), /Locked/);
  assert.equal(await cell(page, 'notifications', 'production').locator('[data-verdict]').getAttribute('data-verdict'), 'no_data');
  // The whole board: every state the judge gives is on it.
  await page.screenshot({ path: path.join(SHOTS, 'mission-control.png'), fullPage: true });
  picture('mission-control.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test("the unhealthy deploy's page leads with its receipt and charts", async () => {
  const { page, errors } = await openHydrated(`${base}/`);
  await cell(page, 'checkout', 'production').locator('a.cell-link').click();
  await page.waitForURL(/\/deploys\/\d+$/);
  await page.waitForSelector('html[data-hydrated="true"]');
  // Reached by a click, the page renders on the client: its charts come with their data.
  await page.locator('main svg').first().waitFor({ timeout: 20000 });
  const body = await page.locator('main').innerText();
  assert.match(body, /unhealthy/);
  assert.match(body, /latency_p95/);
  assert.match(body, /could (only )?see/i, 'the receipt says what each check could see');
  await page.setViewportSize({ width: 1280, height: 1100 });
  await page.screenshot({ path: path.join(SHOTS, 'deploy-receipt.png') });
  picture('deploy-receipt.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test('houston demo --live moves an open board without a reload', async () => {
  const { page, errors } = await openHydrated(`${base}/`);
  await page.evaluate(() => { window.__notReloaded = true; });
  const before = await page.getByTestId('board').innerText();
  const live = spawn(BIN, ['demo', '--live'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  live.stdout.on('data', (d) => { said += d; });
  live.stderr.on('data', (d) => { said += d; });
  try {
    // The live demo's first deploy goes out within seconds, as vYY.DDDHHMM.N.
    await page.getByTestId('board').getByText(/v\d\d\.\d{7}\.\d+/).first().waitFor({ timeout: 60000 });
    assert.notEqual(await page.getByTestId('board').innerText(), before);
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
    await page.screenshot({ path: path.join(SHOTS, 'mission-control-live.png') });
  } finally {
    live.kill('SIGINT');
    await new Promise((resolve) => live.on('exit', resolve));
  }
  assert.match(said, /going out to/, said);
  assert.match(said, /token is revoked/, said);
  assert.deepEqual(errors, []);
  await page.close();
});

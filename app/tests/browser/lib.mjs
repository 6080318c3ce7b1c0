// What every browser scenario shares: Debian's Chromium driven by
// Playwright, a record of every console error, failed request and refused
// resource (a Content-Security-Policy violation shows as a console error),
// and axe-core's accessibility check.
//
// The scenarios are run by app/tests/it/browser.rs against an app it
// starts; scripts/test installs Chromium, playwright-core and axe-core and
// says where (CHROMIUM_BIN, BROWSER_TEST_MODULES).

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const modules = process.env.BROWSER_TEST_MODULES;
const chromiumBin = process.env.CHROMIUM_BIN;
if (!modules || !chromiumBin) {
  throw new Error('BROWSER_TEST_MODULES and CHROMIUM_BIN are unset: run the tests with scripts/test');
}
const require = createRequire(`${modules}/`);
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** A browser with one page; `problems` collects what went wrong in it. */
export async function launch({ locale = 'es-CO', viewport = { width: 1280, height: 800 } } = {}) {
  const browser = await chromium.launch({
    executablePath: chromiumBin,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A request the browser itself cancelled because the page moved on
    // (a click that navigates while the icon still loads) is no failure
    // of the app; anything else is.
    const error = r.failure()?.errorText;
    if (error !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${error}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`answer ${r.status()}: ${r.url()}`);
  });
  return { browser, context, page, problems };
}

/** axe-core over the page as it is: no serious or critical violation. */
export async function accessible(page, what) {
  // Evaluated through the DevTools protocol: the page's CSP (no inline
  // script) stays in force for everything else.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `${what}: accessibility violations`,
  );
}

/**
 * With UI_SCREENSHOTS set (a folder), saves the page as NAME.png there:
 * `UI_SCREENSHOTS=docs/screenshots scripts/test browser` refreshes the
 * README's pictures.
 */
export async function shot(page, name) {
  const dir = process.env.UI_SCREENSHOTS;
  if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}

/** Fails unless nothing went wrong in the page. */
export function clean(problems) {
  assert.deepEqual(problems, [], 'console errors or failed requests');
}

/** Runs `scenario`, closing the browser whatever happens; exit code 1 on failure. */
export async function run(scenario) {
  let browser;
  try {
    const session = await launch();
    browser = session.browser;
    await scenario(session);
    console.log('scenario passed');
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  } finally {
    await browser?.close();
  }
}

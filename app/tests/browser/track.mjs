// The public tracking page, as a customer uses it on a phone: type the
// code from the receipt, see where the parcel is, no sign-in.
//
//   node track.mjs BASE_URL CODE

import assert from 'node:assert/strict';
import { accessible, clean, run, shot } from './lib.mjs';

const [base, code] = process.argv.slice(2);

await run(async ({ page, problems }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/track`);
  assert.equal(await page.locator('h1').innerText(), '¿Dónde está mi envío?');
  await accessible(page, 'tracking form');
  await page.getByRole('searchbox', { name: 'Código de guía' }).fill(code.toLowerCase());
  await page.getByRole('button', { name: 'Rastrear' }).click();
  await page.waitForURL(`${base}/track/${code}`);
  assert.equal(await page.locator('#status').innerText(), 'Registrado');
  await accessible(page, 'tracking page');
  await shot(page, 'track');
  clean(problems);
});

// The parcel list as the counter uses it: typing part of a tracking code
// narrows the results as one types (htmx, without a page load), the URL
// follows, and a row leads to the parcel's page and history.
//
//   node parcels.mjs BASE_URL EMAIL PASSWORD CODE OTHER_CODE

import assert from 'node:assert/strict';
import { accessible, clean, run, shot } from './lib.mjs';

const [base, email, password, code, other] = process.argv.slice(2);

await run(async ({ page, problems }) => {
  await page.goto(`${base}/parcels`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL(`${base}/parcels`);
  await page.getByRole('link', { name: code }).waitFor();
  await page.getByRole('link', { name: other }).waitFor();
  await accessible(page, 'parcel list');
  await shot(page, 'parcels');

  // Typing narrows the list in place: the page is not reloaded.
  await page.evaluate(() => { window.stillHere = true; });
  await page.getByRole('searchbox').pressSequentially(code.slice(0, 12), { delay: 20 });
  await page.getByRole('link', { name: other }).waitFor({ state: 'detached' });
  await page.getByRole('link', { name: code }).waitFor();
  assert.equal(await page.locator('#total').innerText(), '1 envío');
  assert.equal(await page.evaluate(() => window.stillHere), true, 'no page load');
  assert.match(page.url(), new RegExp(`[?&]q=${code.slice(0, 12)}`));

  await page.getByRole('link', { name: code }).click();
  await page.waitForURL(/\/parcels\/\d+$/);
  assert.equal(await page.locator('h1').innerText(), `Envío ${code}`);
  await page.locator('#history').getByText('Registro').waitFor();
  await accessible(page, 'parcel page');
  clean(problems);
});

// The admin's pages in a browser: a report asked for, its progress
// followed in place (htmx polls its row until it is ready) and the file
// downloaded; the profile's language switch; and axe-core over each of
// the admin, reports and profile pages.
//
//   node admin.mjs BASE_URL EMAIL PASSWORD

import assert from 'node:assert/strict';
import { accessible, clean, run, shot } from './lib.mjs';

const [base, email, password] = process.argv.slice(2);

await run(async ({ page, problems }) => {
  await page.goto(`${base}/reports`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL(`${base}/reports`);
  await accessible(page, 'reports');

  // Ask for a PDF of every branch since 2020; the list shows its progress.
  await page.getByLabel('Formato').selectOption('pdf');
  await page.getByLabel('Desde').fill('2020-01-01');
  // The form posts and comes back to the list (a new page, though at the
  // same URL): wait for that page before marking it.
  await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/reports` && r.request().method() === 'GET'),
    page.getByRole('button', { name: 'Pedir reporte' }).click(),
  ]);
  await page.waitForLoadState('load');
  await page.evaluate(() => { window.stillHere = true; });
  const row = page.locator('.report-progress').first();
  const link = row.getByRole('link', { name: 'Descargar' });
  await link.waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.stillHere), true, 'updated in place, no page load');
  assert.equal(await row.getAttribute('hx-trigger'), null, 'a finished report polls no more');
  await accessible(page, 'reports, one ready');
  await shot(page, 'reports');

  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.match(download.suggestedFilename(), /\.pdf$/);
  const failure = await download.failure();
  assert.equal(failure, null, 'the download finished');

  // Each admin page reads well to a screen reader.
  for (const [path, heading] of [
    ['/users', 'Usuarios'],
    ['/tariffs', 'Tarifas'],
    ['/branches', 'Sucursales'],
    ['/customers', 'Clientes'],
    ['/profile', 'Mi perfil'],
  ]) {
    await page.goto(`${base}${path}`);
    assert.equal(await page.locator('h1').innerText(), heading);
    await accessible(page, path);
    if (path === '/users') await shot(page, 'users');
  }
  await page.goto(`${base}/users`);
  await page.locator('#users').getByRole('link', { name: email }).click();
  await page.waitForURL(/\/users\/\d+$/);
  await accessible(page, 'a user');
  await page.goto(`${base}/customers`);
  await page.locator('#customers').getByRole('link').first().click();
  await page.waitForURL(/\/customers\/\d+$/);
  assert.equal(await page.locator('h1').innerText(), 'Editar cliente');
  await accessible(page, 'a customer');
  // A bad form: the message next to its field is read out with it.
  await page.goto(`${base}/branches`);
  const before = problems.length;
  await page.getByLabel('Código').fill('CAL-01');
  await page.getByLabel('Nombre').fill('Cali');
  await page.getByLabel('Ciudad').fill('Cali');
  await page.getByLabel('Teléfono').fill('12');
  await page.getByRole('button', { name: 'Crear sucursal' }).click();
  await page.locator('#phone-error').waitFor();
  assert.equal(await page.getByLabel('Teléfono').getAttribute('aria-invalid'), 'true');
  await accessible(page, 'a branch form with an error');
  // Chromium logs the form page's 422 as a console error: that one is
  // this step's point; anything else is still a problem.
  const expected = problems.splice(before);
  assert.deepEqual(expected, ['console: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);

  // The language switch: English from the next page on, then Spanish again.
  await page.goto(`${base}/profile`);
  await page.getByLabel('Idioma de las páginas').selectOption('en');
  await page.getByRole('button', { name: 'Guardar idioma' }).click();
  await page.getByRole('heading', { name: 'My profile', exact: true }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.getByRole('status').filter({ hasText: 'Language saved.' }).waitFor();
  await accessible(page, 'profile in English');
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.getByRole('heading', { name: 'Reports', exact: true }).waitFor();
  await page.goto(`${base}/profile`);
  await page.getByLabel('Language of the pages').selectOption('es');
  await page.getByRole('button', { name: 'Save language' }).click();
  await page.getByRole('heading', { name: 'Mi perfil', exact: true }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'es');
  clean(problems);
});

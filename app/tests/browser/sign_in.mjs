// Sign in with the keyboard alone, see the day's figures, sign out; no
// console error, no failed request, no serious accessibility violation.
//
//   node sign_in.mjs BASE_URL EMAIL PASSWORD

import assert from 'node:assert/strict';
import { accessible, clean, run, shot } from './lib.mjs';

const [base, email, password] = process.argv.slice(2);

await run(async ({ page, problems }) => {
  // Without a session every page leads to the sign-in form, in Spanish.
  await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.locator('h1').innerText(), 'Entrar a Paquetería');
  await accessible(page, 'sign-in page');
  await shot(page, 'sign-in');

  // A wrong password: the form says so, next to the field.
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill('not the password');
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForLoadState();
  assert.equal(await page.getByRole('alert').innerText(), 'Correo o contraseña incorrectos.');
  await accessible(page, 'sign-in page with an error');
  // The 401 of that answer is the page itself, not a failed resource.
  problems.length = 0;

  // Keyboard only: the email field has the focus, Tab moves on, Enter sends.
  await page.goto(`${base}/login`);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'email');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/`);
  assert.equal(await page.locator('h1').innerText(), 'Resumen del día');
  await page.getByText('Recibidos hoy').waitFor();
  await accessible(page, 'home page');
  await shot(page, 'home');

  // Sign out: back to the form, with a word that it happened.
  await page.getByRole('button', { name: 'Salir' }).click();
  await page.waitForURL(/\/login\?out=1$/);
  await page.getByText('Salió de su sesión').waitFor();
  await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, '/login');
  clean(problems);
});

// The courier's day on a phone (390 × 844): the home deliveries waiting
// at their branch, one taken out and delivered with the PIN (after a
// confirmation), another brought back as a failed attempt with a reason.
//
//   node courier.mjs BASE_URL EMAIL PASSWORD CODE PIN OTHER_CODE

import assert from 'node:assert/strict';
import { accessible, clean, launch, shot } from './lib.mjs';

const [base, email, password, code, pin, other] = process.argv.slice(2);

const session = await launch({ viewport: { width: 390, height: 844 } });
const { browser, page, problems } = session;
try {
  await page.goto(`${base}/courier`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL(`${base}/courier`);
  await page.locator(`#stop-${code}`).waitFor();
  await accessible(page, "courier's day");
  // Nothing is wider than the phone's screen.
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 390, `the page is ${wide}px wide`);

  /** Waits until the round's heading counts `n` parcels (a new page). */
  const roundOf = (n) => page.waitForFunction(
    (want) => document.querySelector('#round-heading')?.textContent.includes(`(${want})`), n);
  for (const [i, c] of [code, other].entries()) {
    await page.locator(`#stop-${c}`).getByRole('button', { name: 'Salir a reparto' }).click();
    await roundOf(i + 1);
    await page.locator('#notice').getByText('Envío en reparto.').waitFor();
  }
  await shot(page, 'courier');

  const stop = page.locator(`#stop-${code}`);
  await stop.locator('summary', { hasText: 'Entregar' }).click();
  await stop.getByLabel('PIN del destinatario').fill(pin);
  page.once('dialog', (d) => d.accept());
  await stop.locator('form[data-confirm] button', { hasText: 'Entregar' }).click();
  await roundOf(1);
  await page.locator('#notice').getByText('Envío entregado.').waitFor();

  const next = page.locator(`#stop-${other}`);
  await next.locator('summary', { hasText: 'Intento fallido' }).click();
  await next.getByLabel('Motivo').fill('Nadie en casa');
  await next.locator('form button', { hasText: 'Intento fallido' }).click();
  await roundOf(0);
  await page.locator('#notice').getByText('Intento fallido registrado.').waitFor();
  await page.locator(`#stop-${other}`).waitFor();
  await accessible(page, "courier's day after the round");
  clean(problems);
  console.log('scenario passed');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}

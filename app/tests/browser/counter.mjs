// The counter's day in the browser: an operator registers a parcel with
// the keyboard only (the known sender filled in by the phone lookup, the
// price quoted before saving), reads its code and PIN, opens the label,
// receives it and uploads a photo whose thumbnail appears by itself; an
// operator at the destination records its arrival and delivers it with
// the PIN after a confirmation.
//
//   node counter.mjs BASE_URL PASSWORD DESTINATION_NAME

import assert from 'node:assert/strict';
import { accessible, clean, launch, shot } from './lib.mjs';

const [base, password, destination] = process.argv.slice(2);

/** Presses Tab until `selector` has the focus (at most 60 times). */
async function tabTo(page, selector) {
  for (let i = 0; i < 60; i += 1) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

async function signIn(page, email, path) {
  await page.goto(`${base}${path}`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL(`${base}${path}`);
}

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGM4ISdHEmIY1TCqYfhqAADkYgQQ60fIxgAAAABJRU5ErkJggg==',
  'base64',
);

let code;
let pin;
let parcelUrl;
const sessions = [];
try {
  const counter = await launch();
  sessions.push(counter);
  const { page, problems } = counter;
  await signIn(page, 'operator@example.com', '/parcels/new');
  await accessible(page, 'register form');

  // Keyboard only, from the top of the page.
  await page.locator('body').focus();
  await tabTo(page, '#sender_phone');
  await page.keyboard.type('300 111 0000');
  await page.keyboard.press('Tab');
  // The sender is known: the lookup fills the name the counter did not type.
  await page.locator('#sender-notice').getByText('Cliente conocido').waitFor();
  assert.equal(await page.locator('#sender_name').inputValue(), 'Ana Gómez');
  await tabTo(page, '#recipient_phone');
  await page.keyboard.type('300 999 8888');
  await page.keyboard.press('Tab');
  await page.locator('#recipient-notice').getByText('Cliente nuevo').waitFor();
  await tabTo(page, '#recipient_name');
  await page.keyboard.type('Marta Ríos');
  await tabTo(page, '#destination_branch_id');
  await page.keyboard.type(destination.slice(0, 4));
  await tabTo(page, '#package_type');
  await page.keyboard.type('box');
  await tabTo(page, '#zone');
  await page.keyboard.type('national');
  await tabTo(page, '#weight_grams');
  await page.keyboard.type('2500');
  await page.keyboard.press('Tab');
  // The price before saving: 8.000 + 3 kg × 2.000.
  await page.locator('#quote').getByText('$ 14.000').waitFor();
  await shot(page, 'register');
  await tabTo(page, 'button[type=submit]');
  await page.keyboard.press('Enter');
  await page.locator('#tracking-code').waitFor();
  code = await page.locator('#tracking-code').innerText();
  pin = await page.locator('#pickup-pin').innerText();
  assert.match(code, /^[A-Z]{2}\d{9}[A-Z]{2}$/);
  assert.match(pin, /^\d{6}$/);
  await accessible(page, 'registered');
  await shot(page, 'registered');

  // The label is a PDF.
  const label = await page.request.get(new URL(await page.locator('#label').getAttribute('href'), page.url()).href);
  assert.equal(label.status(), 200);
  assert.equal(label.headers()['content-type'], 'application/pdf');

  // Receive it at the counter.
  await page.getByRole('button', { name: 'Ver el envío' }).click();
  await page.waitForURL(/\/parcels\/\d+$/);
  parcelUrl = page.url();
  await page.getByRole('button', { name: 'Recibir en mostrador' }).click();
  await page.locator('#notice').getByText('Envío recibido.').waitFor();
  assert.equal(await page.locator('#status').innerText(), 'Recibido');

  // A photo: chosen with the file picker, its thumbnail appears by itself.
  await page.locator('#file').setInputFiles({ name: 'caja.png', mimeType: 'image/png', buffer: PNG });
  await page.locator('#upload-status').getByText('caja.png').waitFor();
  await page.locator('#attachments img[alt="caja.png"]').waitFor({ timeout: 30000 });
  await page.waitForFunction(() => {
    const img = document.querySelector('#attachments img[alt="caja.png"]');
    return img && img.complete && img.naturalWidth > 0;
  });
  await page.locator('#attachments [data-state="processed"]').waitFor();
  await accessible(page, 'parcel with actions');
  await shot(page, 'parcel');
  clean(problems);

  // Dispatch (the origin's step), with the same page.
  await page.getByRole('button', { name: 'Despachar' }).click();
  await page.locator('#notice').getByText('Envío despachado.').waitFor();
  clean(problems);

  // At the destination: arrival, then delivery with the PIN, confirmed.
  const dest = await launch();
  sessions.push(dest);
  const path = new URL(parcelUrl).pathname;
  await signIn(dest.page, 'op-med@example.com', path);
  await dest.page.getByRole('button', { name: 'Registrar llegada' }).click();
  await dest.page.locator('#notice').getByText('Llegada registrada.').waitFor();
  await dest.page.locator('summary', { hasText: 'Entregar' }).click();
  await dest.page.getByLabel('PIN del destinatario').fill(pin);
  let asked = '';
  dest.page.once('dialog', async (d) => { asked = d.message(); await d.accept(); });
  await dest.page.locator('form[data-confirm] button', { hasText: 'Entregar' }).click();
  await dest.page.locator('#notice').getByText('Envío entregado.').waitFor();
  assert.match(asked, new RegExp(code));
  assert.equal(await dest.page.locator('#status').innerText(), 'Entregado');
  await accessible(dest.page, 'delivered parcel');
  clean(dest.problems);
  console.log('scenario passed');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  for (const s of sessions) await s.browser.close();
}

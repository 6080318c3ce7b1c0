// The jobs console in the browser. A supervisor finds the dead job but
// cannot retry it: no selection or button, and a forged POST is refused.
// An admin finds it by filter, retries it in bulk and sees it succeed;
// pauses the reports queue, asks for a report and sees its job wait
// queued; resumes the queue and sees the report finish. Then the
// schedule: an entry run now succeeds, its duplicate too; and a purge
// behind its typed confirmation.
//
//   node console.mjs BASE_URL PASSWORD DEAD_JOB_ID

import assert from 'node:assert/strict';
import { accessible, clean, launch, shot } from './lib.mjs';

const [base, password, dead] = process.argv.slice(2);

async function signIn(page, email, path) {
  await page.goto(`${base}${path}`);
  await page.getByLabel('Correo electrónico').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.waitForURL(`${base}${path}`);
}

/** Reloads `page` until `check()` holds (at most 30 s). */
async function until(page, check, what) {
  for (let i = 0; i < 150; i += 1) {
    if (await check()) return;
    await page.waitForTimeout(200);
    await page.reload();
  }
  throw new Error(`never: ${what}`);
}

const sessions = [];
try {
  // The supervisor reads, and may not act.
  const sup = await launch();
  sessions.push(sup);
  const list = '/console/jobs?state=dead&name=report.xlsx';
  await signIn(sup.page, 'sup@example.com', list);
  await sup.page.getByRole('link', { name: dead }).waitFor();
  assert.equal(await sup.page.locator('input[name=id]').count(), 0, 'no selection');
  assert.equal(await sup.page.getByRole('button', { name: 'Reintentar' }).count(), 0, 'no retry button');
  const token = await sup.page.locator('input[name=authenticity_token]').first().inputValue();
  const forged = await sup.page.request.post(`${base}/console/jobs/bulk`, {
    form: { authenticity_token: token, action: 'retry', scope: 'selected', id: dead },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403, 'a supervisor cannot retry');
  await accessible(sup.page, 'jobs, read-only');
  clean(sup.problems);

  // The admin: found by filter, retried in bulk, succeeds.
  const admin = await launch();
  sessions.push(admin);
  const { page, problems } = admin;
  await signIn(page, 'admin@example.com', '/console');
  await accessible(page, 'console overview');
  await shot(page, 'console');
  await page.getByRole('link', { name: 'Trabajos' }).click();
  await page.getByLabel('Nombre del trabajo').fill('report.xlsx');
  await page.getByRole('button', { name: 'Filtrar' }).click();
  await page.getByRole('link', { name: dead }).waitFor();
  await accessible(page, 'dead jobs');
  await shot(page, 'console-jobs');
  await page.getByLabel(`Elegir el trabajo ${dead}`).check();
  await page.getByRole('button', { name: 'Reintentar' }).click();
  await page.locator('#notice').getByText('1 trabajo(s) encolados de nuevo.').waitFor();
  await page.goto(`${base}/console/jobs/${encodeURIComponent(dead)}`);
  await until(page, async () => (await page.locator('#job-state').getAttribute('data-state')) === 'succeeded',
    'the retried job succeeds');

  // Pause the reports queue: a report asked for now waits in it.
  await page.goto(`${base}/console`);
  await page.getByRole('button', { name: 'Pausar la cola reports' }).click();
  await page.getByRole('button', { name: 'Reanudar la cola reports' }).waitFor();
  await page.goto(`${base}/reports`);
  await page.getByLabel('Formato').selectOption('xlsx');
  await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/reports` && r.request().method() === 'GET'),
    page.getByRole('button', { name: 'Pedir reporte' }).click(),
  ]);
  await page.goto(`${base}/console/jobs?state=queued&queue=reports`);
  await page.locator('#jobs').getByRole('cell', { name: 'report.xlsx', exact: true }).waitFor();
  await page.goto(`${base}/reports`);
  assert.equal(await page.getByRole('link', { name: 'Descargar' }).count(), 1, 'only the first report is ready');

  // Resume: it runs.
  await page.goto(`${base}/console`);
  await page.getByRole('button', { name: 'Reanudar la cola reports' }).click();
  await page.getByRole('button', { name: 'Pausar la cola reports' }).waitFor();
  await page.goto(`${base}/reports`);
  await until(page, async () => (await page.getByRole('link', { name: 'Descargar' }).count()) === 2,
    'the held report finishes');

  // The schedule in words; run an entry now and see its job succeed.
  await page.goto(`${base}/console`);
  await page.getByRole('link', { name: 'Programación' }).click();
  await page.getByText('Cada 5 minutos').waitFor();
  await accessible(page, 'schedule');
  await shot(page, 'console-schedule');
  await page.getByRole('button', { name: 'Correr ahora: cleanup-tmp' }).click();
  await page.locator('#notice').getByText('fuera de su programación').waitFor();
  await until(page, async () => (await page.locator('#job-state').getAttribute('data-state')) === 'succeeded',
    'the entry run now succeeds');

  // Duplicate that job (its payload as it is): the copy runs too.
  const original = await page.locator('#job-id').innerText();
  await page.getByText('Duplicar', { exact: true }).first().click();
  await page.getByLabel('Datos del trabajo').waitFor();
  await accessible(page, 'job page with the duplicate form');
  await page.getByRole('button', { name: 'Duplicar' }).click();
  await page.locator('#notice').getByText('Copia encolada').waitFor();
  assert.notEqual(await page.locator('#job-id').innerText(), original, 'a new job');
  await until(page, async () => (await page.locator('#job-state').getAttribute('data-state')) === 'succeeded',
    'the copy succeeds');

  // Purge asks for the queue's name typed again, then for confirmation.
  await page.goto(`${base}/console`);
  await page.getByText('Vaciar una cola').click();
  await page.getByLabel('Cola', { exact: true }).selectOption('default');
  await page.getByLabel('Escriba el nombre de la cola para confirmar').fill('default');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Vaciar la cola' }).click();
  await page.locator('#notice').getByText('de la cola default').waitFor();
  clean(problems);
  console.log('scenario passed');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  for (const s of sessions) await s.browser.close();
}

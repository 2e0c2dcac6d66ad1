// Drives the counter UI in headless Chromium: log in with TOTP (computed here from the seeded
// secret), search by 宛名番号, open the record, paste an MRZ, preview the overseas certificate,
// issue it and save the PDF the print page shows; reprint it from the record (same ID); then
// log in as the municipality's admin, revoke it with a reason, open the review page and the
// audit log (verified chain, CSV export); on the staff page add a login (its secrets shown
// once), change a role, disable a login, record the periodic review, and log in as the new one
// (a move-in login), which fetches a moved-in resident's doses from the former municipality.
// Env: COUNTER_URL, MUNICIPALITY, LOGIN, PASSWORD, TOTP_SECRET_HEX, MRZ, SHOTS (screenshot dir),
// OUT_PDF (where the printed PDF is written), ADMIN_LOGIN, ADMIN_PASSWORD, ADMIN_TOTP_SECRET_HEX.
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const url = env('COUNTER_URL');
const shots = env('SHOTS');

function base32Hex(b32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of b32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes).toString('hex');
}

function totp(hex) {
  const step = Math.floor(Date.now() / 1000 / 30);
  const msg = Buffer.alloc(8);
  msg.writeBigInt64BE(BigInt(step));
  const h = createHmac('sha1', Buffer.from(hex, 'hex')).update(msg).digest();
  const off = h[19] & 0x0f;
  const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(bin % 1000000).padStart(6, '0');
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${url}/login`);
  await page.screenshot({ path: `${shots}/1-login.png`, fullPage: true });
  await page.fill('input[name=municipality]', env('MUNICIPALITY'));
  await page.fill('input[name=login]', env('LOGIN'));
  await page.fill('input[name=password]', env('PASSWORD'));
  await page.fill('input[name=totp]', totp(env('TOTP_SECRET_HEX')));
  await Promise.all([page.waitForURL(`${url}/search`), page.click('form[action="/login"] button')]);

  // A foreign resident, found by the Latin name in lower case.
  await page.fill('#search-name input[name=family]', 'smith');
  await page.fill('#search-name input[name=given]', 'john william');
  await page.fill('#search-name input[name=birth_date]', '1979-06-23');
  await Promise.all([page.waitForSelector('#results'), page.click('#search-name button')]);
  const foreignFound = (await page.textContent('#results tbody')).includes('SMITH JOHN WILLIAM');

  await page.fill('#search-atena input[name=atena]', '1001');
  await Promise.all([page.waitForSelector('#results'), page.click('#search-atena button')]);
  await page.screenshot({ path: `${shots}/2-search.png`, fullPage: true });
  await Promise.all([page.waitForURL(`${url}/residents/1001`), page.click('#results a >> nth=0')]);

  await page.fill('#mrz-form textarea[name=mrz]', env('MRZ'));
  await Promise.all([page.waitForSelector('#passport'), page.click('#mrz-form button')]);
  await page.screenshot({ path: `${shots}/3-resident.png`, fullPage: true });
  const roman = await page.textContent('#passport dd >> nth=0');
  if (roman.trim() !== 'YAMADA TARO') throw new Error(`romanised name on the record page: ${roman}`);

  await Promise.all([page.waitForSelector('#certificate-preview'), page.click('#preview-overseas')]);
  await page.screenshot({ path: `${shots}/4-preview.png`, fullPage: true });
  const previewRoman = (await page.textContent('#preview-roman')).trim();
  const previewPassport = (await page.textContent('#preview-passport')).trim();
  if (previewRoman !== 'YAMADA TARO') throw new Error(`preview name: ${previewRoman}`);
  if (previewPassport !== 'TK*****67') throw new Error(`preview passport: ${previewPassport}`);

  await Promise.all([page.waitForURL(/\/certificates\/[2-9A-Z]{12}$/), page.click('#issue')]);
  const certificateId = (await page.textContent('#certificate-id')).trim();
  const src = await page.getAttribute('#pdf-frame', 'src');
  await page.screenshot({ path: `${shots}/5-issued.png`, fullPage: true });
  const pdf = await page.request.get(`${url}${src}`);
  if (!pdf.ok()) throw new Error(`PDF: HTTP ${pdf.status()}`);
  if (pdf.headers()['content-type'] !== 'application/pdf') throw new Error('not a PDF');
  writeFileSync(env('OUT_PDF'), await pdf.body());

  // Reprint from the record: the same certificate ID comes back.
  await page.goto(`${url}/residents/1001`);
  await Promise.all([
    page.waitForURL(`${url}/certificates/${certificateId}`),
    page.click(`#reprint-${certificateId} button`),
  ]);
  const reprinted = (await page.textContent('#certificate-id')).trim();
  await page.screenshot({ path: `${shots}/6-reprinted.png`, fullPage: true });

  // The admin revokes it with a reason, then opens the review page.
  await Promise.all([page.waitForURL(`${url}/login`), page.click('form[action="/logout"] button')]);
  await page.fill('input[name=municipality]', env('MUNICIPALITY'));
  await page.fill('input[name=login]', env('ADMIN_LOGIN'));
  await page.fill('input[name=password]', env('ADMIN_PASSWORD'));
  await page.fill('input[name=totp]', totp(env('ADMIN_TOTP_SECRET_HEX')));
  await Promise.all([page.waitForURL(`${url}/search`), page.click('form[action="/login"] button')]);
  await page.goto(`${url}/residents/1001`);
  await page.fill(`#revoke-${certificateId} input[name=reason]`, '発行誤り / issued in error');
  await Promise.all([
    page.waitForURL(`${url}/residents/1001`),
    page.click(`#revoke-${certificateId} button`),
  ]);
  await page.screenshot({ path: `${shots}/7-revoked.png`, fullPage: true });
  const revokeFormLeft = await page.$(`#revoke-${certificateId}`);
  await page.click('#nav-review');
  await page.waitForSelector('#none-stale, #stale');
  const reviewEmpty = (await page.$('#none-stale')) !== null;
  await page.screenshot({ path: `${shots}/8-review.png`, fullPage: true });

  // The audit log: the chain verifies, the revocation is there, the CSV downloads.
  await Promise.all([page.waitForURL(`${url}/audit`), page.click('#nav-audit')]);
  const auditOk = await page.getAttribute('#audit-verify', 'data-ok');
  const revocationLogged = (await page.$('#audit-entries tr[data-action="revocation-reason"]')) !== null;
  await page.screenshot({ path: `${shots}/9-audit.png`, fullPage: true });
  const csv = await page.request.get(`${url}${await page.getAttribute('#audit-csv', 'href')}`);
  const csvHeader = (await csv.text()).split('\n')[0];

  // Statistics: counts only, the one overseas certificate a suppressed cell.
  await Promise.all([page.waitForURL(`${url}/stats`), page.click('#nav-stats')]);
  const statsCell = (await page.textContent('#stats tr[data-channel="counter"][data-kind="overseas"] .issued')).trim();
  await page.screenshot({ path: `${shots}/9b-stats.png`, fullPage: true });

  // Retention: the policy's periods, nothing due yet.
  await Promise.all([page.waitForURL(`${url}/retention`), page.click('#nav-retention')]);
  const retentionPeriods = (await page.textContent('#retention-periods')).trim();
  const retentionDue = (await page.textContent('#due-residents')).trim();

  // Staff administration: add a login, change a role, disable one, record the review.
  await Promise.all([page.waitForURL(`${url}/staff`), page.click('#nav-staff')]);
  await page.fill('#add-staff input[name=login]', 'clerk-chromium');
  await page.selectOption('#add-staff select[name=role]', 'move-in');
  await Promise.all([page.waitForSelector('#one-time'), page.click('#add-staff button')]);
  const newPassword = (await page.textContent('#new-password')).trim();
  const newSecret = (await page.textContent('#new-totp-secret')).trim();
  const totpQr = (await page.$('#new-totp-qr svg')) !== null;
  await page.screenshot({ path: `${shots}/10-staff-added.png`, fullPage: true });
  await page.selectOption('tr[data-login="auditor-a"] select[name=role]', 'clerk');
  await Promise.all([
    page.waitForSelector('#staff-notice'),
    page.click('tr[data-login="auditor-a"] .role-form button'),
  ]);
  await Promise.all([
    page.waitForSelector('tr[data-login="clerk-a"][data-disabled="true"]'),
    page.click('tr[data-login="clerk-a"] .action-disable button'),
  ]);
  await Promise.all([page.waitForSelector('#staff-notice'), page.click('#confirm-review button')]);
  await page.screenshot({ path: `${shots}/11-staff-review.png`, fullPage: true });
  const staffRows = await page.$$eval('#staff-list tbody tr', (rows) => rows.map((r) => ({
    login: r.dataset.login, role: r.dataset.role, disabled: r.dataset.disabled,
  })));
  const lastReview = (await page.textContent('#last-review')).trim();

  // The new login works with the secrets the page showed once.
  await Promise.all([page.waitForURL(`${url}/login`), page.click('form[action="/logout"] button')]);
  await page.fill('input[name=municipality]', env('MUNICIPALITY'));
  await page.fill('input[name=login]', 'clerk-chromium');
  await page.fill('input[name=password]', newPassword);
  await page.fill('input[name=totp]', totp(base32Hex(newSecret)));
  await Promise.all([page.waitForURL(`${url}/search`), page.click('form[action="/login"] button')]);
  const newcomerRole = (await page.textContent('.who .role')).trim();
  const newcomerSeesStaff = (await page.$('#nav-staff')) !== null;

  // The new login is the municipality's 転入照会 staff: resident 1007 moved from 福岡市 (401307).
  await page.goto(`${url}/residents/1007`);
  await page.fill('#move-in-form input[name=former]', '401307');
  await Promise.all([page.waitForSelector('#move-in-notice'), page.click('#move-in-form button')]);
  const providedDoses = (await page.$$('#doses tr[data-provided-by="401307"]')).length;
  await page.screenshot({ path: `${shots}/12-move-in.png`, fullPage: true });

  console.log(JSON.stringify({
    ok: true, previewRoman, previewPassport, certificateId, reprinted,
    revoked: revokeFormLeft === null, reviewEmpty, auditOk, revocationLogged, csvHeader,
    totpQr, staffRows, lastReview, newcomerRole, newcomerSeesStaff, foreignFound, statsCell, providedDoses, retentionPeriods, retentionDue,
  }));
} finally {
  await browser.close();
}

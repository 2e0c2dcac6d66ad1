// Drives the kiosk UI in headless Chromium the way a resident would: terms, municipality,
// card (already in the reader), a wrong PIN, then the right one, domestic, preview, print.
// Env: KIOSK_URL, WRONG_PIN, RIGHT_PIN, KIND (domestic|overseas), SHOTS (folder for screenshots,
// optional). Prints one JSON line with what it saw; exits non-zero on any failure.
import { chromium } from 'playwright-core';

const url = process.env.KIOSK_URL;
const shots = process.env.SHOTS;
const kind = process.env.KIND || 'domestic';
const seen = { municipalities: [], triesMessage: null, preview: null, done: false, cacheControl: null };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let step = 0;
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const shot = async (name) => {
  if (shots) await page.screenshot({ path: `${shots}/${String(++step).padStart(2, '0')}-${name}.png` });
};
const typePin = async (pin) => {
  for (const d of pin) await page.click(`#keypad [data-key="${d}"]`);
  await page.click('[data-testid="pin-ok"]');
};
try {
  const resp = await page.goto(url);
  seen.cacheControl = resp.headers()['cache-control'];
  await page.waitForSelector('#screen-start:not([hidden])');
  await shot('start');
  await page.click('[data-testid="start"]');
  await shot('terms');
  await page.click('[data-testid="agree"]');
  await page.waitForSelector('#municipalities button', { timeout: 15000 });
  await shot('municipality');
  seen.municipalities = await page.$$eval('#municipalities button', (bs) => bs.map((b) => b.dataset.code));
  await page.click(`[data-testid="municipality-${process.env.MUNICIPALITY || seen.municipalities[0]}"]`);
  // The card is already in the reader: the insert screen moves on by itself.
  await page.waitForSelector('#screen-pin:not([hidden])', { timeout: 15000 });
  await page.click('#keypad [data-key="9"]');
  await shot('pin');
  await page.click('#keypad [data-key="clear"]');
  await typePin(process.env.WRONG_PIN);
  await page.waitForSelector(`[data-testid="kind-${kind}"]`);
  await shot('kind');
  await page.click(`[data-testid="kind-${kind}"]`);
  await page.waitForSelector('#screen-pin:not([hidden]) [data-testid="pin-message"]:not(:empty)', { timeout: 30000 });
  seen.triesMessage = await page.textContent('[data-testid="pin-message"]');
  await shot('wrong-pin');
  await typePin(process.env.RIGHT_PIN);
  await page.waitForSelector('#screen-confirm:not([hidden])', { timeout: 30000 });
  seen.preview = await page.textContent('#screen-confirm');
  await shot('preview');
  await page.click('[data-testid="print"]');
  await page.waitForSelector('#screen-done:not([hidden])', { timeout: 30000 });
  seen.done = true;
  await shot('done');
  console.log(JSON.stringify(seen));
} catch (e) {
  await shot('failure').catch(() => {});
  seen.error = String(e);
  seen.screen = await page.evaluate(() => document.body.dataset.screen + ': ' + document.querySelector('.screen:not([hidden])')?.innerText).catch(() => null);
  console.log(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  await browser.close();
}

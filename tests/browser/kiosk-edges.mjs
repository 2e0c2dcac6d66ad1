// The kiosk's edge cases in headless Chromium. SCENARIO selects one:
//   locked  a card whose PIN is locked: the resident is sent to the municipality;
//   pulled  the card is pulled on the PIN screen: the flow restarts cleanly (this script asks
//           its caller to pull the card by printing "pull-card" and waits for a line on stdin);
//   idle    60 s without a touch returns to the start (fake timers: nothing waits 60 s).
// Env: KIOSK_URL, SCENARIO, MUNICIPALITY. Prints one JSON line with what it saw.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const url = process.env.KIOSK_URL;
const scenario = process.env.SCENARIO;
const seen = { scenario };
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const visible = (id) => page.waitForSelector(`#screen-${id}:not([hidden])`, { timeout: 30000 });
const typePin = async (pin) => {
  for (const d of pin) await page.click(`#keypad [data-key="${d}"]`);
  await page.click('[data-testid="pin-ok"]');
};
try {
  if (scenario === 'idle') await page.clock.install();
  await page.goto(url);
  await visible('start');
  await page.click('[data-testid="start"]');
  await visible('terms');
  if (scenario === 'idle') {
    await page.clock.fastForward(59000);
    seen.after59s = await page.evaluate(() => document.body.dataset.screen);
    await page.clock.fastForward(2000);
    await visible('start');
    seen.after61s = await page.evaluate(() => document.body.dataset.screen);
  } else {
    await page.click('[data-testid="agree"]');
    await page.waitForSelector('#municipalities button', { timeout: 15000 });
    await page.click(`[data-testid="municipality-${process.env.MUNICIPALITY}"]`);
    await visible('pin');
    if (scenario === 'locked') {
      await typePin('1234');
      await page.click('[data-testid="kind-domestic"]');
      await visible('error');
      seen.error = await page.textContent('#screen-error');
    } else if (scenario === 'pulled') {
      await page.click('#keypad [data-key="1"]');
      console.log('pull-card');
      await nextLine();
      await visible('error');
      seen.error = await page.textContent('#screen-error');
      seen.pinCleared = await page.evaluate(() => document.querySelectorAll('#pin-dots span.on').length === 0);
      await page.click('[data-testid="error-ok"]');
      await visible('start');
      seen.restarted = true;
    }
  }
  console.log(JSON.stringify(seen));
} catch (e) {
  seen.error = String(e);
  seen.screen = await page.evaluate(() => document.body.dataset.screen).catch(() => null);
  console.log(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  lines.close();
  await browser.close();
}

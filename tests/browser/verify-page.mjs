// Opens the /verify page in Debian's headless Chromium with a fake camera that plays a y4m
// file, waits for the verdict, and prints what the page shows as one JSON line.
//   node verify-page.mjs URL FILE.y4m [timeout-ms]
import { chromium } from "playwright-core";

const [url, y4m, timeoutArg] = process.argv.slice(2);
if (!url || !y4m) {
  console.error("usage: node verify-page.mjs URL FILE.y4m [timeout-ms]");
  process.exit(2);
}
const timeout = Number(timeoutArg || 60000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    `--use-file-for-fake-video-capture=${y4m}`,
  ],
});
try {
  const context = await browser.newContext();
  await context.grantPermissions(["camera"], { origin: new URL(url).origin });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  await page.goto(url);
  await page.waitForSelector('#result[data-verdict]:not([data-verdict=""])', { timeout });
  const out = await page.evaluate(() => ({
    verdict: document.querySelector("#result").dataset.verdict,
    verdictText: document.querySelector("#verdict").textContent,
    name: document.querySelector("#name").textContent,
    dob: document.querySelector("#dob").textContent,
    issuer: document.querySelector("#issuer").textContent,
    doses: [...document.querySelectorAll("#doses li")].map((li) => li.textContent),
    decoder: document.body.dataset.decoder,
    barcodeDetector: "BarcodeDetector" in window,
  }));
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  console.log(JSON.stringify(out));
} catch (e) {
  console.error("verify-page: " + e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}

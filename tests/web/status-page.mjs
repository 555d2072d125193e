// Open the status page in Debian's Chromium: the page asks for the key, then shows the
// fields and draws the charts. Prints one JSON line with what it saw; the Rust test
// (tests/status_page.rs) asserts on it. Usage: node status-page.mjs BASE_URL KEY SCREENSHOT
import { chromium } from "playwright-core";

const [base, key, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { console_errors: [], external_requests: [] };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.on("request", (r) => { if (!r.url().startsWith(base)) result.external_requests.push(r.url()); });
  page.on("console", (m) => { if (m.type() === "error") result.console_errors.push(m.text()); });
  page.on("pageerror", (e) => result.console_errors.push(String(e)));
  await page.goto(base + "/status");
  result.title = await page.title();
  // No key stored yet: the page asks for one (the JSON needs it).
  await page.waitForSelector("#key", { state: "visible", timeout: 10000 });
  result.asked_for_key = true;
  // The 401 of that first fetch is expected; only errors after the key count.
  result.console_errors = [];
  await page.fill("#key-input", key);
  await page.click("#key-save");
  await page.waitForFunction(() => document.getElementById("model").textContent !== "–", null, { timeout: 10000 });
  // Tokens/s and memory always have samples; temperature only where a sensor exists.
  await page.waitForFunction(() => document.querySelector("#chart-rate path.line") && document.querySelector("#chart-mem path.line"), null, { timeout: 30000 });
  for (const id of ["state", "model", "cpu", "uptime", "cert", "cert-detail", "slots", "rate", "spec", "temp", "throttle", "mem", "mem-detail"]) {
    result[id] = await page.textContent("#" + id);
  }
  result.chart_paths = await page.evaluate(() => ["chart-temp", "chart-rate", "chart-mem"].map((id) => {
    const p = document.querySelector(`#${id} path.line`);
    return p ? p.getAttribute("d") : document.querySelector(`#${id} text`).textContent;
  }));
  result.key_form_hidden = !(await page.isVisible("#key"));
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

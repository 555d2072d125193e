// Drive the chat page in Debian's Chromium: stream an answer, stop one mid-answer, reload
// and find the history, check that model output cannot inject HTML. Prints one JSON line
// with what it saw; the Rust test (tests/web_page.rs) asserts on it and on the server.
// Usage: node chat-page.mjs BASE_URL SCREENSHOT_PATH
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  // The TLS certificate is checked by the API tests; the browser only tests the page.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
  await page.goto(base + "/");
  result.title = await page.title();

  // 1. A streamed answer appears piece by piece.
  await page.fill("#input", "Name three colors, one per line.");
  await page.click("#send");
  const lengths = [];
  for (let i = 0; i < 40; i++) {
    lengths.push((await page.textContent(".msg.assistant:last-child .body")).length);
    if (await page.isVisible("#send")) break;
    await page.waitForTimeout(50);
  }
  await page.waitForSelector("#send", { state: "visible", timeout: 60000 });
  result.first_answer = await page.textContent(".msg.assistant:last-child .body");
  result.first_meta = await page.textContent(".msg.assistant:last-child .meta");
  result.saw_partial = lengths.some((n) => n > 0 && n < result.first_answer.length);

  // 2. Stop mid-answer.
  await page.fill("#input", "Write a very long story about a lighthouse keeper.");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelector(".msg.assistant:last-child .body").textContent.length > 20, null, { timeout: 60000 });
  await page.click("#stop");
  await page.waitForSelector("#send", { state: "visible", timeout: 10000 });
  result.stopped_meta = await page.textContent(".msg.assistant:last-child .meta");
  result.stopped_answer_len = (await page.textContent(".msg.assistant:last-child .body")).length;

  // 3. Reload: the history is still there.
  await page.reload();
  result.messages_after_reload = await page.locator(".msg").count();

  // 4. Model output that looks like HTML is shown as text.
  const payload = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> **bold** `code`';
  await page.evaluate((p) => {
    localStorage.setItem("edgellm.history", JSON.stringify([{ role: "user", content: "hi" }, { role: "assistant", content: p }]));
  }, payload);
  await page.reload();
  await page.waitForTimeout(300);
  result.xss_executed = await page.evaluate(() => window.__xss || 0);
  result.xss_img_elements = await page.locator(".msg img").count();
  result.xss_text_shown = (await page.textContent(".msg.assistant .body")).includes('<img src=x onerror="window.__xss=1">');
  result.markdown_bold = await page.locator(".msg.assistant strong").count();
  result.external_requests = external;
  await page.evaluate(() => localStorage.setItem("edgellm.history", "[]"));
  await page.reload();
  await page.fill("#input", "Say hi.");
  await page.click("#send");
  await page.waitForSelector("#send", { state: "visible", timeout: 60000 });
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

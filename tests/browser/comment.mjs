// Leaves a comment like a reader: opens an article in headless Chromium, fills the form, submits,
// and checks "Your comment is awaiting moderation." Then it prints `PENDING <id>` and waits for a
// line on standard input (the Rust test approves the comment with the CLI meanwhile), reloads,
// checks the comment is published for this reader and for a reader without cookies, and prints
// `PUBLISHED <id>`.
//
//     node tests/browser/comment.mjs http://127.0.0.1:PORT /article/SLUG
import { fail, launch } from "./chromium.mjs";
import { createInterface } from "node:readline";

const [base, path] = process.argv.slice(2);
if (!base || !path) {
  console.error("usage: node comment.mjs BASE_URL ARTICLE_PATH");
  process.exit(2);
}
const text = `Written in Chromium at ${Date.now()}: the coastal patrols need oversight.`;

const browser = await launch();
try {
  const reader = await browser.newContext();
  const page = await reader.newPage();
  const response = await page.goto(base + path);
  if (response.status() !== 200) fail(`GET ${path}: ${response.status()}`);
  const notes = await page.textContent(".comment-notes");
  if (!/Your email address will not be published\.\s+Required fields are marked \*/.test(notes)) {
    fail(`form notes: ${notes}`);
  }
  await page.fill("#comment", text);
  await page.fill("#author", "Chromium Reader");
  await page.fill("#email", "chromium.reader@example.org");
  await page.fill("#url", "https://reader.example");
  await page.check("#save");
  // A person takes a moment; the form token refuses instant submissions.
  await page.waitForTimeout(1200);
  await Promise.all([page.waitForURL(/#comment-\d+$/), page.click("#submit")]);
  const id = page.url().match(/#comment-(\d+)$/)[1];
  const own = page.locator(`#comment-${id}`);
  if (!(await own.textContent()).includes(text)) fail("own comment not shown");
  if (!(await own.textContent()).includes("Your comment is awaiting moderation.")) fail("no moderation notice");
  if ((await page.inputValue("#author")) !== "Chromium Reader") fail("saved name not filled in");
  console.log(`PENDING ${id}`);

  const lines = createInterface({ input: process.stdin });
  const next = await lines[Symbol.asyncIterator]().next();
  if (next.done || next.value.trim() !== "approved") fail(`expected "approved" on stdin, got ${next.value}`);
  lines.close();

  await page.reload();
  const published = await page.locator(`#comment-${id}`).textContent();
  if (!published.includes(text) || published.includes("awaiting moderation")) fail(`after approval: ${published}`);
  const anonymous = await (await browser.newContext()).newPage();
  await anonymous.goto(base + path);
  const seen = await anonymous.locator(`#comment-${id}`).textContent();
  if (!seen.includes(text)) fail("not published for other readers");
  if ((await anonymous.content()).includes("chromium.reader@example.org")) fail("email shown publicly");
  console.log(`PUBLISHED ${id}`);
} finally {
  await browser.close();
}

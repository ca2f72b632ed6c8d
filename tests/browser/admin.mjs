// An editor's session in headless Chromium: logs in to the admin desk, writes an article,
// uploads an image with the editor's "Insert image" button (the Markdown lands in the text and
// the live preview shows it), picks it from the library as the featured image, publishes, then
// opens the public article page as a reader and checks the title and that both images loaded
// (naturalWidth > 0). Prints `PUBLISHED <slug> <width>`.
//
//     node tests/browser/admin.mjs http://127.0.0.1:PORT USERNAME PASSWORD IMAGE.png
import { fail, launch } from "./chromium.mjs";

const [base, username, password, imagePath] = process.argv.slice(2);
if (!base || !username || !password || !imagePath) {
  console.error("usage: node admin.mjs BASE_URL USERNAME PASSWORD IMAGE");
  process.exit(2);
}
const title = `Harbour lights, written in Chromium ${Date.now()}`;
const alt = "The harbour at dusk";

const browser = await launch();
try {
  const desk = await browser.newContext();
  const page = await desk.newPage();
  // The admin CSP forbids inline script and style: a violation would show up here.
  const problems = [];
  page.on("console", (message) => {
    // The site has no favicon; the browser's own request for one is not the admin's doing.
    const where = message.location().url;
    if (message.type() === "error" && !where.endsWith("/favicon.ico")) problems.push(`${message.text()} (${where})`);
  });
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });

  await page.goto(`${base}/admin/articles/new`);
  if (!page.url().includes("/admin/login")) fail(`not sent to the login page: ${page.url()}`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/admin\/articles\/new$/), page.click("button[type=submit]")]);

  await page.fill("#title", title);
  await page.fill("#body", "Boats came home **before** the storm.\n\n");
  // The live preview renders through the server.
  await page.waitForFunction(() => document.querySelector("#preview strong")?.textContent === "before");

  await page.click("#insert-image");
  await page.setInputFiles("#image-file", imagePath);
  await page.fill("#image-alt", alt);
  await page.click("#image-insert");
  await page.waitForFunction(() => /!\[[^\]]*\]\(\/media\/[^)]+\)/.test(document.querySelector("#body").value));
  const markdown = await page.inputValue("#body");
  if (!markdown.includes(`![${alt}](/media/`)) fail(`inserted Markdown: ${markdown}`);
  await page.waitForFunction(() => {
    const img = document.querySelector("#preview img");
    return img && img.complete && img.naturalWidth > 0;
  });

  // The featured image is picked from the library, where the upload now is.
  await page.click("#pick-featured");
  await page.click("#image-library .library-item");
  const featured = await page.inputValue("#featured_image");
  if (!featured.startsWith("/media/")) fail(`featured image: ${featured}`);

  await Promise.all([page.waitForURL(/\/admin\/articles\/\d+\?done=published$/), page.click("button[value=publish]")]);
  const slug = await page.inputValue("#slug");
  if (!slug) fail("no slug after publishing");
  if (problems.length) fail(`console errors in the admin: ${problems.join(" | ")}`);

  const reader = await (await browser.newContext()).newPage();
  const response = await reader.goto(`${base}/article/${slug}`);
  if (response.status() !== 200) fail(`public page: ${response.status()}`);
  const heading = await reader.textContent("h1");
  if (heading.trim() !== title) fail(`public title: ${heading}`);
  const image = reader.locator(".body img");
  if ((await image.getAttribute("alt")) !== alt) fail(`image alt: ${await image.getAttribute("alt")}`);
  await reader.waitForFunction(() => {
    const img = document.querySelector(".body img");
    return img && img.complete && img.naturalWidth > 0;
  });
  await reader.waitForFunction(() => {
    const img = document.querySelector("img.featured");
    return img && img.complete && img.naturalWidth > 0;
  });
  const width = await image.evaluate((img) => img.naturalWidth);
  console.log(`PUBLISHED ${slug} ${width}`);
} finally {
  await browser.close();
}

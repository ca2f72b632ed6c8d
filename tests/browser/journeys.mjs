// What readers and editors do, in headless Chromium with the browser's own headers
// (Accept-Encoding, Sec-Fetch-*, the referrer policy's Origin), on a desktop and a 360 px phone.
// Run by tests/journeys.rs against `openvoice serve`:
//
//     node tests/browser/journeys.mjs BASE EDITOR PASSWORD WIDE_ARTICLE IMAGE.png VERIFY_CAR.mjs WORKDIR
//
// WIDE_ARTICLE is the path of an article wider than a phone (long words and links, a table).
//
// The journeys: reading (no page wider than the screen), an imported WordPress post's layout (a
// click-to-load embed that asks its provider nothing before the click, a floated figure stacked
// on a phone), Download IPFS (the downloaded file
// checked by the independent verifier), subscribing (confirm from the real mail, manage, then
// the mail provider's one-click unsubscribe), commenting (held, approved in the desk, visible),
// the editor's (log in, write, upload, schedule, publish), and the illustrated article's IPFS
// bundle opened offline from the unpacked folder. Any console error, page error, CSP
// violation, failed request or 4xx/5xx answer for the site's own resources fails the run.
//
// Speaks to the test over stdio: `ASK <json>` is answered by one JSON line (the reader's mailbox,
// the reader's mail provider); `JOURNEY <name> <ms>` reports a finished journey; `FAIL …` ends it.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { fail, launch } from "./chromium.mjs";

const [base, editor, password, wide, imagePath, verifyCar, workdir] = process.argv.slice(2);
if (!workdir) {
  console.error("usage: node journeys.mjs BASE EDITOR PASSWORD WIDE_ARTICLE IMAGE VERIFY_CAR WORKDIR");
  process.exit(2);
}
const stamp = Date.now();
const answers = createInterface({ input: process.stdin });
const replies = answers[Symbol.asyncIterator]();

async function ask(question) {
  console.log(`ASK ${JSON.stringify(question)}`);
  const reply = await replies.next();
  if (reply.done) fail(`no answer to ${JSON.stringify(question)}`);
  return JSON.parse(reply.value);
}

const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
};
const DESKTOP = { viewport: { width: 1280, height: 900 } };

const problems = [];

/// A browser context whose every page reports what a reader would see go wrong.
async function context(browser, name, options) {
  const context = await browser.newContext(options);
  await context.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`),
    ),
  );
  context.on("page", (page) => {
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`${name}: console: ${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
    page.on("response", (response) => {
      if (response.url().startsWith(base) && response.status() >= 400) {
        problems.push(`${name}: ${response.status()} for ${response.request().method()} ${response.url()}`);
      }
    });
    page.on("requestfailed", (request) => {
      // A link followed as a download ends its navigation with ERR_ABORTED; the download itself
      // is checked where it is made.
      const error = request.failure()?.errorText;
      if (request.url().startsWith(base) && error !== "net::ERR_ABORTED") {
        problems.push(`${name}: ${request.method()} ${request.url()} failed: ${error}`);
      }
    });
  });
  return context;
}

function checkProblems(where) {
  if (problems.length) fail(`${where}:\n  ${problems.join("\n  ")}`);
}

async function open(page, url, status = 200) {
  const response = await page.goto(url.startsWith("http") ? url : base + url);
  if (response.status() !== status) fail(`GET ${url}: ${response.status()}, expected ${status}`);
  return response;
}

/// Nothing is wider than the screen, and nothing in the main column runs into the sidebar.
async function fits(page, label) {
  const found = await page.evaluate(() => {
    const describe = (el) =>
      el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + (typeof el.className === "string" && el.className.trim() ? `.${el.className.trim().split(/\s+/).join(".")}` : "");
    // Inside a scrolling or clipping box, width is that box's business.
    const clipped = (el, stop) => {
      for (let p = el.parentElement; p && p !== stop; p = p.parentElement) {
        if (getComputedStyle(p).overflowX !== "visible") return true;
      }
      return false;
    };
    const width = document.documentElement.clientWidth;
    const main = document.querySelector("main");
    const mainRight = main ? main.getBoundingClientRect().right : width;
    const wide = [];
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      const limit = main && main.contains(el) ? mainRight : width;
      if (box.right > limit + 1 && !clipped(el, document.body)) wide.push(`${describe(el)} reaches ${Math.round(box.right)}px`);
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, wide: wide.slice(0, 6) };
  });
  if (found.scrollWidth > found.width || found.wide.length) {
    fail(`${label} at ${found.width}px: the page is ${found.scrollWidth}px wide; ${found.wide.join(", ")}`);
  }
}

async function timed(name, journey) {
  const started = Date.now();
  try {
    await journey();
  } catch (error) {
    // A step that timed out often waited for something a failed request never brought: say what
    // the pages saw go wrong too.
    problems.unshift(`${error.name}: ${error.message.split("\n")[0]}`);
  }
  checkProblems(`during the ${name} journey`);
  console.log(`JOURNEY ${name} ${Date.now() - started}ms`);
}

const browser = await launch();
try {
  const desktop = await (await context(browser, "desktop", DESKTOP)).newPage();
  const phone = await (await context(browser, "phone", PHONE)).newPage();
  const desk = await (await context(browser, "desk", DESKTOP)).newPage();
  for (const page of [desktop, phone, desk]) page.setDefaultTimeout(15_000);

  // ---- Reading: every kind of public page, on both screens. ----------------------------------
  let article, category;
  await timed("reading", async () => {
    await open(desktop, "/");
    article = await desktop.getAttribute(".card-title a", "href");
    category = await desktop.getAttribute(".sections a", "href");
    if (!article || !category) fail(`links on the home page: ${article} ${category}`);
    await open(desktop, article);
    const tag = await desktop.getAttribute(".tags a", "href");
    if (!tag) fail(`no tag links on ${article}`);
    const pages = ["/", article, wide, category, tag, "/search?q=council", "/prices"];
    for (const page of [desktop, phone]) {
      for (const url of pages) {
        await open(page, url);
        await fits(page, url);
      }
    }
    // Prices come from the replayed CoinGecko: charts drawn, no "unavailable".
    if ((await phone.locator(".price-card").count()) === 0) fail("no prices on /prices");
  });

  // ---- What an imported WordPress post shows: an embedded video that asks the provider for
  // nothing until the reader clicks, and a figure floated beside the text, stacked on a phone.
  await timed("wordpress", async () => {
    const outside = [];
    const watch = (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith("data:")) outside.push(request.url());
    };
    desktop.on("request", watch);
    // The provider is played by a stub, so the test needs no network.
    await desktop.route("https://www.youtube-nocookie.com/**", (route) =>
      route.fulfill({ contentType: "text/html", body: "<!doctype html><title>player</title><p>player" }),
    );
    try {
      await open(desktop, wide);
      await desktop.waitForLoadState("networkidle");
      if (outside.length) fail(`before the click the page asked ${outside.join(", ")}`);
      const placeholder = desktop.locator(".embed a");
      if ((await placeholder.count()) !== 1) fail(`${wide} has ${await placeholder.count()} embed placeholders`);
      await placeholder.click();
      const frame = desktop.locator(".embed iframe");
      await frame.waitFor();
      const src = await frame.getAttribute("src");
      if (src !== "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ") fail(`the player is ${src}`);
      if (!desktop.url().endsWith(wide)) fail(`clicking the placeholder left the page for ${desktop.url()}`);
      await desktop.frameLocator(".embed iframe").locator("text=player").waitFor();
      if (!outside.every((url) => url.startsWith("https://www.youtube-nocookie.com/"))) {
        fail(`after the click the page asked ${outside.join(", ")}`);
      }
      const float = (page) => page.$eval(".body .alignleft", (figure) => getComputedStyle(figure).float);
      if ((await float(desktop)) !== "left") fail(`the alignleft figure floats ${await float(desktop)} on a desktop`);
      await open(phone, wide);
      await fits(phone, `${wide} with its embed`);
      if ((await float(phone)) !== "none") fail(`the alignleft figure floats ${await float(phone)} on a phone`);
    } finally {
      desktop.off("request", watch);
      await desktop.unroute("https://www.youtube-nocookie.com/**");
    }
  });

  // ---- Download IPFS: the file a reader gets is the object the page names. ------------------
  await timed("ipfs", async () => {
    // The bundle is built by a job after publishing: a reader may come before it.
    for (let tries = 0; ; tries++) {
      await open(desktop, wide);
      if (await desktop.locator("#ipfs-cid-value").count()) break;
      if (tries > 60) fail(`${wide} never got its IPFS box`);
      await desktop.waitForTimeout(500);
    }
    const cid = await desktop.inputValue("#ipfs-cid-value");
    const [download] = await Promise.all([desktop.waitForEvent("download"), desktop.click(".download-ipfs")]);
    const failure = await download.failure();
    if (failure) fail(`Download IPFS: ${failure}`);
    const file = path.join(workdir, download.suggestedFilename());
    await download.saveAs(file);
    try {
      execFileSync("node", [verifyCar, file, cid], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      fail(`the downloaded ${download.suggestedFilename()} does not verify as ${cid}: ${error.stdout}${error.stderr}`);
    }
    await Promise.all([desktop.waitForURL(`**/ipfs/${cid}/**`), desktop.click("text=this site's copy")]);
    if (!(await desktop.content()).includes("Supercalifragilistic")) fail("this site's copy lacks the article");
    await open(phone, desktop.url());
    await fits(phone, "this site's copy");
    await open(desktop, "/ipfs/site");
    await open(phone, "/ipfs/site");
    await fits(phone, "/ipfs/site");
  });

  // ---- Subscribing on a phone, confirming from the mail. ------------------------------------
  const reader = `reader.${stamp}@example.org`;
  await timed("subscription", async () => {
    await open(phone, "/");
    await phone.fill("#subscribe-email", reader);
    await Promise.all([phone.waitForURL("**/subscribe"), phone.click(".widget-subscribe button[type=submit]")]);
    if ((await phone.textContent("h1")) !== "Check your inbox") fail(`after subscribing: ${await phone.textContent("h1")}`);
    await fits(phone, "subscribe");
    const { url: confirm } = await ask({ ask: "link", to: reader, path: "/subscriptions/confirm" });
    await open(phone, confirm);
    await fits(phone, "confirm");
    await Promise.all([phone.waitForNavigation(), phone.click("text=Confirm my subscription")]);
    if ((await phone.textContent("h1")) !== "You are subscribed") fail(`after confirming: ${await phone.textContent("main")}`);
    await Promise.all([phone.waitForURL("**/subscriptions/manage?token=*"), phone.click("text=Choose how often")]);
    await fits(phone, "manage");
    await Promise.all([phone.waitForNavigation(), phone.click(".subscription-form button[type=submit]")]);
    if (!(await phone.textContent("main")).includes("Your choices are saved.")) fail(`after saving: ${await phone.textContent("main")}`);
  });

  // ---- The editor: log in, write with an uploaded image, schedule, publish. -----------------
  const title = `Harbour lights at dusk ${stamp}`;
  let slug;
  await timed("editor", async () => {
    await open(desk, "/admin/articles/new");
    if (!desk.url().includes("/admin/login")) fail(`not sent to the login page: ${desk.url()}`);
    await desk.fill("#username", editor);
    await desk.fill("#password", password);
    await Promise.all([desk.waitForURL(/\/admin\/articles\/new$/), desk.click("button[type=submit]")]);
    await desk.fill("#title", title);
    await desk.fill("#body", "Boats came home **before** the storm.\n\n");
    // Polled on a timer, not on animation frames, which a busy machine may hold back.
    await desk.waitForFunction(() => document.querySelector("#preview strong")?.textContent === "before", null, {
      polling: 100,
    });
    await desk.click("#insert-image");
    await desk.setInputFiles("#image-file", imagePath);
    await desk.fill("#image-alt", "The harbour at dusk");
    await desk.click("#image-insert");
    await desk.waitForFunction(
      () => /!\[The harbour at dusk\]\(\/media\/[^)]+\)/.test(document.querySelector("#body").value),
      null,
      { polling: 100 },
    );
    await desk.click("#pick-featured");
    await desk.click("#image-library .library-item");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    await desk.fill("#publish_at", tomorrow);
    await Promise.all([desk.waitForURL(/\?done=scheduled$/), desk.click("button[value=schedule]")]);
    slug = await desk.inputValue("#slug");
    const early = await desktop.request.get(`${base}/article/${slug}`);
    if (early.status() !== 404) fail(`a scheduled article is public: ${early.status()}`);
    await Promise.all([desk.waitForURL(/\?done=published$/), desk.click("button[value=publish]")]);
    await open(desktop, `/article/${slug}`);
    if ((await desktop.textContent("h1")).trim() !== title) fail(`public title: ${await desktop.textContent("h1")}`);
    await desktop.waitForFunction(
      () => [...document.querySelectorAll(".body img, img.featured")].every((img) => img.complete && img.naturalWidth > 0),
      null,
      { polling: 100 },
    );
  });

  // ---- The illustrated article's IPFS bundle holds its pictures: unpacked by the independent
  // verifier, its index.html shows them from the folder alone (file://, no network). ----------
  await timed("ipfs-offline", async () => {
    let cid;
    for (let tries = 0; ; tries++) {
      await open(desktop, `/article/${slug}`);
      if (await desktop.locator("#ipfs-cid-value").count()) {
        cid = await desktop.inputValue("#ipfs-cid-value");
        break;
      }
      if (tries > 60) fail(`/article/${slug} never got its IPFS box`);
      await desktop.waitForTimeout(500);
    }
    const [download] = await Promise.all([desktop.waitForEvent("download"), desktop.click(".download-ipfs")]);
    const car = path.join(workdir, `illustrated-${download.suggestedFilename()}`);
    await download.saveAs(car);
    const folder = path.join(workdir, "illustrated");
    const importCid = path.join(path.dirname(verifyCar), "import-cid.mjs");
    let again;
    try {
      execFileSync("node", [verifyCar, car, cid, folder], { stdio: ["ignore", "pipe", "pipe"] });
      again = execFileSync("node", [importCid, folder], { stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
    } catch (error) {
      fail(`the illustrated bundle ${cid} does not verify or unpack: ${error.stdout}${error.stderr}`);
    }
    if (again !== cid) fail(`the unpacked folder imports as ${again}, not ${cid}`);
    const offline = await browser.newContext({ ...DESKTOP, offline: true });
    try {
      const page = await offline.newPage();
      const outside = [];
      page.on("request", (request) => {
        if (!request.url().startsWith("file:")) outside.push(request.url());
      });
      await page.goto(pathToFileURL(path.join(folder, "index.html")).href);
      await page.waitForFunction(() => [...document.images].every((img) => img.complete), null, { polling: 100 });
      const images = await page.$$eval("img", (all) =>
        all.map((img) => ({ src: img.getAttribute("src"), shown: img.naturalWidth > 0 })),
      );
      if (images.length < 2) fail(`the bundle's page shows ${images.length} image(s), not the inline and the featured one`);
      for (const image of images) {
        if (!image.shown || !image.src.startsWith("media/")) fail(`bundle image ${image.src} is not shown from the folder`);
      }
      if (outside.length) fail(`the bundle's page asked beyond its folder: ${outside.join(", ")}`);
    } finally {
      await offline.close();
    }
  });

  // ---- The subscriber's mail provider unsubscribes with one click (RFC 8058). ---------------
  await timed("unsubscribe", async () => {
    const { status } = await ask({ ask: "one-click-unsubscribe", to: reader, subject: title });
    if (status !== 200) fail(`one-click unsubscribe: ${status}`);
    await phone.reload();
    if (!(await phone.textContent("main")).includes("unsubscribed")) fail(`manage page after unsubscribing: ${await phone.textContent("main")}`);
  });

  // ---- Commenting: held, approved in the desk, visible to everyone. --------------------------
  await timed("comment", async () => {
    const text = `Written in Chromium at ${stamp}: the harbour needs more berths.`;
    await open(desktop, `/article/${slug}`);
    // The form's own fields and button wear the theme, like the rest of the site's forms.
    const looks = await desktop.evaluate(() => {
      const style = (selector) => getComputedStyle(document.querySelector(selector));
      return {
        url: style("#url").borderTopStyle + style("#url").paddingTop,
        email: style("#email").borderTopStyle + style("#email").paddingTop,
        submit: style("#submit").backgroundColor,
        button: style(".widget-search button").backgroundColor,
      };
    });
    if (looks.url !== looks.email || looks.submit !== looks.button) fail(`unstyled comment form: ${JSON.stringify(looks)}`);
    await desktop.fill("#comment", text);
    await desktop.fill("#author", "Chromium Reader");
    await desktop.fill("#email", "chromium.reader@example.org");
    await desktop.fill("#url", "https://reader.example");
    await desktop.check("#save");
    await Promise.all([desktop.waitForURL(/#comment-\d+$/), desktop.click("#submit")]);
    const id = desktop.url().match(/#comment-(\d+)$/)[1];
    const own = await desktop.textContent(`#comment-${id}`);
    if (!own.includes(text) || !own.includes("Your comment is awaiting moderation.")) fail(`held comment: ${own}`);
    if ((await desktop.inputValue("#author")) !== "Chromium Reader") fail("the saved name is not filled in");

    await open(desk, "/admin/comments?status=pending");
    const row = desk.locator("tr", { hasText: text });
    await Promise.all([desk.waitForNavigation(), row.locator("button[value=approved]").click()]);

    await desktop.reload();
    const approved = await desktop.textContent(`#comment-${id}`);
    if (approved.includes("awaiting moderation")) fail("still held after approval");
    await open(phone, `/article/${slug}`);
    if (!(await phone.textContent(`#comment-${id}`)).includes(text)) fail("not visible to other readers");
    if ((await phone.content()).includes("chromium.reader@example.org")) fail("the email address is shown publicly");
    await phone.click(`#comment-${id} .comment-reply-link`);
    await fits(phone, "replying to a comment");
    await fits(phone, `/article/${slug} with comments`);
  });
} finally {
  await browser.close();
  // An open stdin keeps node running after the last journey.
  answers.close();
  process.stdin.destroy();
}

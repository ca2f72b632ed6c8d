// Passkeys as an editor uses them, in headless Chromium with its virtual authenticator
// (WebAuthn over the DevTools protocol: a CTAP2 platform authenticator that verifies its user):
// add one on the Security screen, sign in with password and passkey, and see what a stolen
// password gets: a forged passkey answer and a replayed one are refused, a recovery code works
// once. Run by tests/journeys.rs: `node passkeys.mjs BASE USERNAME PASSWORD`, where BASE is
// `http://localhost:PORT` (browsers give passkeys to domain names, never to IP addresses).
import { fail, launch } from "./chromium.mjs";

const [base, username, password] = process.argv.slice(2);
const browser = await launch();
const context = await browser.newContext();
const page = await context.newPage();
page.on("pageerror", (err) => fail(`a script error on ${page.url()}: ${err.message}`));
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

const path = () => new URL(page.url()).pathname;
const alerts = async () => JSON.stringify(await page.locator("[role=alert]:not([hidden])").allTextContents());
const text = async (selector) => (await page.locator(selector).allTextContents()).map((t) => t.trim());

async function submitting(action) {
  const [response] = await Promise.all([page.waitForNavigation(), action()]);
  return response;
}

async function signInWithPassword() {
  await page.goto(`${base}/admin/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  return submitting(() => page.click("form[action='/admin/login'] button[type=submit]"));
}

async function logOut() {
  await submitting(() => page.click("form[action='/admin/logout'] button"));
  if (path() !== "/admin/login") fail(`logging out ends on the login page, not ${page.url()}`);
}

// --- Before: the password alone signs in.
await signInWithPassword();
if (path() !== "/admin") fail(`without a second factor the password signs in, but the page is ${page.url()}`);

// --- Adding a passkey: the browser makes it, the server keeps it, recovery codes are shown once.
await page.goto(`${base}/admin/security`);
await page.fill("#passkey_name", "Editor's laptop");
let response = await submitting(() => page.click("form[data-passkey=register] button[type=submit]"));
if (response.status() !== 200) fail(`adding a passkey answered ${response.status()}: ${await page.content()}`);
const names = await text(".passkey-name");
if (names.length !== 1 || names[0] !== "Editor's laptop") fail(`the new passkey is listed: ${JSON.stringify(names)}`);
const recovery = await text(".recovery-codes code");
if (recovery.length !== 10) fail(`ten recovery codes are shown: ${JSON.stringify(recovery)}`);
const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
if (credentials.length !== 1) fail(`the authenticator holds one passkey, not ${credentials.length}`);
if (credentials[0].rpId !== new URL(base).hostname) fail(`the passkey is for ${credentials[0].rpId}`);
await logOut();

// --- A stolen password: a second step, no session.
await signInWithPassword();
if (path() !== "/admin/login/two-factor") fail(`a right password leads to the second step, not ${page.url()}`);
const cookies = await context.cookies(base);
if (cookies.some((c) => c.name === "ov_session")) fail("no session before the second factor");

// The browser's answers to the second step pass through here: a forged one is changed on the
// way, a genuine one is kept to be replayed later.
let forge = true;
let genuine = null;
await page.route("**/admin/login/two-factor", async (route) => {
  const form = new URLSearchParams(route.request().postData() || "");
  const credential = form.get("credential");
  if (!credential) return route.continue();
  if (forge) {
    const answer = JSON.parse(credential);
    const signature = Buffer.from(answer.response.signature, "base64url");
    signature[signature.length - 1] ^= 1;
    answer.response.signature = signature.toString("base64url");
    form.set("credential", JSON.stringify(answer));
    return route.continue({ postData: form.toString() });
  }
  genuine = form.toString();
  return route.continue();
});

response = await submitting(() => page.click("form[data-passkey=sign-in] button[type=submit]"));
if (response.status() !== 401) fail(`a forged passkey answer is refused with 401, not ${response.status()}`);
if (path() !== "/admin/login/two-factor") fail(`a forged answer stays on the second step: ${page.url()}`);
if (!(await page.locator("[role=alert]").first().textContent()).includes("not right")) fail("the refusal says why");
if ((await context.cookies(base)).some((c) => c.name === "ov_session")) fail("a forged answer opens no session");

// --- The owner: the real passkey signs in.
forge = false;
response = await submitting(() => page.click("form[data-passkey=sign-in] button[type=submit]"));
if (path() !== "/admin") fail(`password and passkey sign in, but the page is ${page.url()} (${response.status()})`);
if (!genuine) fail("the genuine answer was seen on its way");
await page.unroute("**/admin/login/two-factor");
await page.goto(`${base}/admin/security`);
const used = await text(".passkey td:nth-child(3)");
if (used[0] === "never") fail("the passkey's last use is recorded");
await logOut();

// --- A replayed answer: the thief captured one; it answers a ceremony that is over.
await signInWithPassword();
const replayed = await page.evaluate(async (body) => {
  const options = await fetch("/admin/login/passkey/options", { method: "POST", body: new URLSearchParams() });
  if (!options.ok) return { options: options.status };
  const answer = await fetch("/admin/login/two-factor", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
    redirect: "manual",
  });
  return { options: options.status, status: answer.status };
}, genuine);
if (replayed.options !== 200 || replayed.status !== 401) fail(`a replayed passkey answer is refused: ${JSON.stringify(replayed)}`);

// --- Lost the laptop: a recovery code signs in once.
await page.goto(`${base}/admin/login/two-factor?next=/admin`);
await page.fill("#code", recovery[0]);
await submitting(() => page.click("form:not([data-passkey]) button[type=submit]"));
if (path() !== "/admin") fail(`a recovery code signs in, but the page is ${page.url()}: ${await alerts()}`);
await logOut();
await signInWithPassword();
await page.fill("#code", recovery[0]);
response = await submitting(() => page.click("form:not([data-passkey]) button[type=submit]"));
if (response.status() !== 401) fail(`a used recovery code is refused with 401, not ${response.status()}`);

// --- The passkey again, after the refusals; then it is removed with the password.
await submitting(() => page.click("form[data-passkey=sign-in] button[type=submit]"));
if (path() !== "/admin") fail(`the passkey still signs in, but the page is ${page.url()}`);
await page.goto(`${base}/admin/security`);
await page.fill(".passkey input[name=current_password]", password);
await submitting(() => page.click(".passkey button[type=submit]"));
if ((await text(".passkey-name")).length !== 0) fail("the passkey is removed");
if (!(await page.content()).includes("your password alone now signs you in")) fail("removing the last factor says so");
await logOut();
await signInWithPassword();
if (path() !== "/admin") fail(`without a second factor the password signs in again, not ${page.url()}`);

console.log("JOURNEY passkeys ok");
await browser.close();

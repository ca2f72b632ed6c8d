// What every browser test shares: Debian's Chromium started headless with the flags this
// closed-network machine needs, and one way to fail.
import { chromium } from "playwright-core";

export function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

// What the small Chromium checks share: PASS/FAIL lines with a count, Debian's
// Chromium launched headless, and a page logged in as an operator.
import { chromium } from 'playwright-core';

export function checks() {
  let fails = 0;
  return {
    check(what, ok, detail = '') {
      console.log(`${ok ? 'PASS' : 'FAIL'}: ${what}${ok ? '' : ' ' + JSON.stringify(detail)}`);
      if (!ok) fails++;
    },
    get fails() { return fails; },
  };
}

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox'] });
}

// A new page at `viewport` (with touch where asked), logged in, the queue shown.
export async function loggedIn(browser, url, name, password, { width = 1280, height = 800, hasTouch = false } = {}) {
  const page = await (await browser.newContext({ viewport: { width, height }, hasTouch })).newPage();
  await page.goto(url);
  await page.waitForSelector('form.login');
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('.card');
  return page;
}

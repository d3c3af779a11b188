// Batch review in Chromium with touch, as an operator does it: a long press
// on a clip in review selects it, a tap selects another, "Approve all"
// approves both (each audited on its own), Undo puts both back in review;
// then both rejected together with a reason. A plain tap still opens a clip.
// Then a decision on a clip another tab changed meanwhile is refused.
// Usage: node batch_test.mjs URL NAME PASSWORD UID UID
import { checks, launch, loggedIn } from './lib.mjs';

const [url, name, password, a, b] = process.argv.slice(2);
const result = checks();
const { check } = result;

const browser = await launch();
try {
  const page = await loggedIn(browser, url, name, password, { hasTouch: true });
  await page.waitForSelector(`.card[data-uid="${a}"]`);
  const states = () => page.evaluate(async (uids) => Promise.all(uids.map(async (u) =>
    (await (await fetch(`/api/v1/clips/${u}`)).json()).state)), [a, b]);
  const longPress = async (uid) => {
    const box = await page.locator(`.card[data-uid="${uid}"]`).boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.waitForTimeout(700);
    await page.mouse.up();
  };

  await longPress(a);
  check('a long press selects the clip and shows the batch bar, the clip not opened',
    await page.isVisible('.batch:has-text("1 selected")') &&
    (await page.getAttribute(`.card[data-uid="${a}"]`, 'aria-selected')) === 'true' &&
    !(await page.evaluate(() => location.hash)).startsWith('#/clip'));
  await page.tap(`.card[data-uid="${b}"]`);
  check('...then a tap selects another (it does not open it)', await page.isVisible('.batch:has-text("2 selected")') &&
    !(await page.evaluate(() => location.hash)).startsWith('#/clip'));
  await page.tap('.batch button:has-text("Approve all")');
  await page.waitForSelector('#undo:has-text("2 clips approved")');
  check('"Approve all" approves both, with one Undo for the two', (await states()).every((s) => s === 'approved'),
    await states());
  await page.tap('#undo button:has-text("Undo")');
  await page.waitForFunction(async (uids) => (await Promise.all(uids.map(async (u) =>
    (await (await fetch(`/api/v1/clips/${u}`)).json()).state))).every((s) => s === 'review'), [a, b], { timeout: 10000 })
    .then(() => check('Undo puts both back in review', true), () => check('Undo puts both back in review', false));
  const audit = await page.evaluate(async (u) => (await (await fetch(`/api/v1/clips/${u}`)).json()).audit, a);
  check("each clip's history has its own approval and its undo, by this operator",
    audit.some((r) => r.to === 'approved' && r.actor === `operator:${name}`) &&
    audit.some((r) => r.to === 'review' && r.reason.includes('undone')), audit);

  await page.waitForSelector(`.card[data-uid="${a}"] .state:has-text("review")`);
  await longPress(a);
  await page.tap(`.card[data-uid="${b}"]`);
  await page.tap('.batch button:has-text("Reject all")');
  await page.waitForSelector('.modal:has-text("Reject 2 clips")');
  const reason = await page.textContent('.modal button.reject');
  await page.tap('.modal button.reject');
  await page.waitForSelector('#undo:has-text("2 clips rejected")');
  const after = await page.evaluate(async (uids) => Promise.all(uids.map(async (u) =>
    (await (await fetch(`/api/v1/clips/${u}`)).json()))), [a, b]);
  check(`"Reject all" with a reason rejects both, each with "${reason}"`,
    after.every((c) => c.state === 'rejected' && c.audit.some((r) => r.to === 'rejected' && r.reason.startsWith(reason))),
    after.map((c) => c.state));
  await page.tap('#undo button:has-text("Undo")');
  await page.waitForFunction(async (uids) => (await Promise.all(uids.map(async (u) =>
    (await (await fetch(`/api/v1/clips/${u}`)).json()).state))).every((s) => s === 'review'), [a, b], { timeout: 10000 });
  await page.waitForSelector(`.card[data-uid="${a}"] .state:has-text("review")`);
  await page.tap(`.card[data-uid="${a}"]`);
  await page.waitForFunction((u) => location.hash === `#/clip/${encodeURIComponent(u)}`, a, { timeout: 5000 })
    .then(() => check('with nothing selected, a plain tap opens the clip', true),
      () => check('with nothing selected, a plain tap opens the clip', false));

  // Another tab changes the clip while this one shows it: this one's Approve
  // is refused and said so, and the screen shows the clip as it is now.
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0, null, { timeout: 20000 });
  const other = await page.context().newPage();
  await other.goto(`${url}/#/clip/${encodeURIComponent(a)}`);
  await other.waitForFunction(() => window.dashloop && window.dashloop.frame === 0, null, { timeout: 20000 });
  await other.tap('button:has-text("High")');
  await other.waitForSelector('h2:has-text("Priority 0.90")');
  await page.waitForTimeout(1100);  // past the clip's first second on screen
  await page.tap('button.approve');
  await page.waitForSelector('#toast:has-text("changed since this page showed it")', { timeout: 5000 })
    .then(() => check('a decision on a clip another tab changed meanwhile: refused, said on screen', true),
      () => check('a decision on a clip another tab changed meanwhile: refused, said on screen', false));
  await page.waitForSelector('h2:has-text("Priority 0.90")', { timeout: 10000 })
    .then(() => check('...and the screen shows the clip as it is now (its new priority)', true),
      () => check('...and the screen shows the clip as it is now (its new priority)', false));
  check('...the clip still in review', (await states())[0] === 'review', await states());
} finally {
  await browser.close();
}
console.log(result.fails ? `${result.fails} failed` : 'all passed');
process.exit(result.fails ? 1 : 0);

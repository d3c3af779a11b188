// The review screen fits small and medium screens: at 800x480 (a vehicle
// touchscreen) and 1280x800, for a 16:9 and a 4:3 clip, the video, playback
// (play, frame step) and the decisions (Approve, Reject) are all on screen
// with no scrolling; the reject dialog scrolls inside itself, so Cancel is
// reachable; the scrub bar's marks have a legend and say what they are at
// the scrub's position (touch has no hover for a title).
// Usage: node layout_test.mjs URL NAME PASSWORD UID...
import { checks, launch, loggedIn } from './lib.mjs';

const [url, name, password, ...uids] = process.argv.slice(2);
const result = checks();
const { check } = result;

const browser = await launch();
try {
  for (const [width, height] of [[800, 480], [1280, 800]]) {
    const page = await loggedIn(browser, url, name, password, { width, height, hasTouch: true });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));  // an operator scrolled down the queue
    for (const uid of uids) {
      await page.evaluate((u) => { location.hash = `#/clip/${encodeURIComponent(u)}`; }, uid);
      await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0, null, { timeout: 20000 });
      await page.waitForTimeout(300);  // the video's size settles
      const where = await page.evaluate(() => {
        const rect = (sel) => { const r = document.querySelector(sel).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {
          scrollY: window.scrollY, overflow: document.documentElement.scrollHeight - window.innerHeight,
          aspect: (() => { const v = document.querySelector('.player video'); return v.videoWidth / v.videoHeight; })(),
          video: rect('.player video'), play: rect('button.primary'), step: rect('button[aria-label="next frame"]'),
          approve: rect('button.approve'), reject: rect('button.reject'), scrub: rect('input[type=range]'),
        };
      });
      const inside = ([l, t, r, b]) => l >= 0 && t >= 0 && r <= width + 0.5 && b <= height + 0.5;
      const shape = `${where.aspect > 1.5 ? '16:9' : '4:3'} clip at ${width}x${height}`;
      check(`${shape}: opens at the top, no page scrolling, and the video, scrub bar, play, frame step, Approve and Reject all on screen`,
        where.scrollY === 0 && where.overflow <= 1 &&
        ['video', 'scrub', 'play', 'step', 'approve', 'reject'].every((k) => inside(where[k])), where);
      const videoH = where.video[3] - where.video[1];
      check(`${shape}: the video is not a postage stamp (${Math.round(videoH)} px tall)`, videoH >= 0.45 * height, where.video);

      // The reject dialog: Cancel reachable (the dialog scrolls, not the page
      // behind it). A clip refuses a decision in its first second on screen.
      await page.waitForTimeout(1100);
      await page.evaluate(() => document.querySelector('button.reject').click());
      await page.waitForSelector('.modal .box', { timeout: 5000 });
      const cancel = page.locator('.modal button:has-text("Cancel")');
      await cancel.scrollIntoViewIfNeeded();
      const box = await cancel.boundingBox();
      const scrolled = await page.evaluate(() => window.scrollY);
      check(`${shape}: the reject dialog's Cancel can be reached on screen, the page behind not moved`,
        box && inside([box.x, box.y, box.x + box.width, box.y + box.height]) && scrolled === 0, { box, scrolled });
      await cancel.tap();
      check(`${shape}: Cancel closes it`, !(await page.isVisible('.modal')));

      // The scrub bar's marks: a legend, and what the mark under the scrub is.
      const event = await page.evaluate(async (u) => (await (await fetch(`/api/v1/clips/${u}`)).json()).events
        .find((e) => e.frame >= 0), uid);
      const legend = await page.textContent('.legend');
      if (event) {
        await page.fill('input[type=range]', String(event.frame));
        await page.waitForFunction((f) => window.dashloop.frame === f, event.frame);
        const note = await page.textContent('.mark-note');
        check(`${shape}: the scrub bar's legend, and at frame ${event.frame} it says the mark there is the ${event.rule}`,
          legend.includes('why the clip was cut') && legend.includes('keyframe') && note.includes(event.rule), { legend, note });
      } else {
        check(`${shape}: the scrub bar's legend`, legend.includes('why the clip was cut'), legend);
      }
    }
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(result.fails ? `${result.fails} failed` : 'all passed');
process.exit(result.fails ? 1 : 0);

// The depot UI in Debian's Chromium, driven by playwright-core, at 1280x800
// with touch: log in, open a clip, the right box on the right frame (the
// canvas against the package's CVAT XML), change a track's class and see the
// CVAT XML and manifest change, hide a face the detectors missed and toggle
// to the original, reject with a reason, approve and see the
// state change live in a second page (server-sent events).
// Usage: node browser_test.mjs URL NAME PASSWORD DATA_DIR [SCREENSHOT_DIR]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, name, password, dataDir, shots] = process.argv.slice(2);
let passes = 0, fails = 0;
function check(what, ok, detail = '') {
  if (ok) { passes++; console.log(`PASS: ${what}`); } else { fails++; console.log(`FAIL: ${what} ${JSON.stringify(detail)}`); }
}

// The boxes CVAT's reader gets at `frame`: each track's <box> on that frame
// (the package writes one on every visible frame), outside="1" meaning none.
function cvatBoxes(xml, manifest, frame) {
  const byId = new Map(manifest.tracks.map((t) => [t.id, t.track_no]));
  const out = new Map();
  for (const m of xml.matchAll(/<track id="(\d+)" label="([^"]*)"[^>]*>([\s\S]*?)<\/track>/g)) {
    const box = [...m[3].matchAll(/<box frame="(\d+)"([^>]*)>/g)].find((b) => Number(b[1]) === frame);
    if (!box || /outside="1"/.test(box[2])) continue;
    const attr = (k) => Number(new RegExp(`${k}="([^"]+)"`).exec(box[2])[1]);
    const xtl = attr('xtl'), ytl = attr('ytl');
    out.set(byId.get(Number(m[1])), { label: m[2], x: xtl, y: ytl, w: attr('xbr') - xtl, h: attr('ybr') - ytl });
  }
  return out;
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

// A drag across the video from one point to another, each a fraction of its width and height.
async function dragOnVideo(page, [x0, y0], [x1, y1]) {
  const b = await page.locator('.player').boundingBox();
  await page.mouse.move(b.x + b.width * x0, b.y + b.height * y0);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width * x1, b.y + b.height * y1, { steps: 4 });
  await page.mouse.up();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, hasTouch: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // --- login ---
  await page.goto(url);
  await page.waitForSelector('form.login');
  check('the login screen shows no top bar (Queue, Station, Log out)', !(await page.isVisible('#bar')));
  if (shots) await page.screenshot({ path: join(shots, 'ui-login.png') });
  await page.fill('input[name=password]', 'not-the-password');
  await page.fill('input[name=name]', name);
  await page.tap('button[type=submit]');
  await page.waitForSelector('.error:has-text("wrong name or password")');
  check('a wrong password is refused on the page', true);
  consoleErrors.length = 0;  // the refused login's 401 was meant
  await page.fill('input[name=password]', password);  // a one-time password
  await page.tap('button[type=submit]');
  await page.waitForSelector('input[name=new_password]', { state: 'visible' });
  check('a one-time password asks for a new one on the page',
    (await page.textContent('.error')).includes('one-time password'), await page.textContent('.error'));
  consoleErrors.length = 0;  // the 403 was meant
  await page.fill('input[name=new_password]', 'chosen-by-the-operator');
  await page.fill('input[name=new_password_again]', 'chosen-by-the-operator');
  await page.tap('button[type=submit]');
  await page.waitForSelector('.card');
  const cards = await page.$$eval('.card', (els) => els.map((e) => e.dataset.uid));
  check('the queue shows the clips in review', cards.length === 2, cards);
  const offered = await page.$$eval('select[name=class] option', (os) => os.map((o) => o.value));
  const stateLabel = await page.$eval('select[name=state] option[value=review]', (o) => o.textContent);
  check('the filters offer the classes the clips have and count each state', offered[0] === '' &&
    offered.length > 1 && offered.includes('car') && stateLabel === 'review (2)', { offered, stateLabel });
  const sizes = await page.$$eval('button, select, input, header nav a', (els) =>
    els.filter((e) => e.offsetParent !== null).map((e) => [e.textContent.trim() || e.name, e.getBoundingClientRect().height]));
  check('touch targets are at least 48 px tall', sizes.every(([, h]) => h >= 48), sizes.filter(([, h]) => h < 48));
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  if (shots) await page.screenshot({ path: join(shots, 'ui-queue.png') });

  // A second page (the same operator elsewhere) watching the queue live.
  const watcher = await context.newPage();
  await watcher.goto(url + '#/queue');
  await watcher.waitForSelector('.card');
  await watcher.waitForSelector('#live.on');

  // --- review: the right box on the right frame ---
  const uid = cards[0];
  const pkg = join(dataDir, 'packages', uid);
  await page.tap(`.card[data-uid="${uid}"]`);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0);
  const manifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
  const xml = readFileSync(join(pkg, 'labels', 'cvat-video.xml'), 'utf8');
  const rvfc = await page.evaluate(() => 'requestVideoFrameCallback' in HTMLVideoElement.prototype);
  check('Chromium has requestVideoFrameCallback (the overlay follows presented frames)', rvfc);
  for (const frame of [40, 41, 150]) {
    await page.fill('input[type=range]', String(frame));
    await page.waitForFunction((f) => window.dashloop.frame === f, frame, { timeout: 10000 });
    // Let the presented frame settle: the draw follows the video's own callback.
    await page.waitForTimeout(300);
    const shown = await page.evaluate(() => window.dashloop);
    const want = cvatBoxes(xml, manifest, frame);
    const got = new Map(shown.drawn.map((b) => [b.track, b]));
    const same = want.size > 0 && want.size === got.size && [...want].every(([t, w]) => {
      const g = got.get(t);
      return g && g.label === w.label && ['x', 'y', 'w', 'h'].every((k) => Math.abs(g[k] - w[k]) < 0.02);
    });
    check(`frame ${frame}: the canvas's boxes are the CVAT boxes (${want.size})`, shown.frame === frame && same,
      { frame: shown.frame, got: shown.drawn, want: [...want] });
    // ...and really drawn: the stroke's colour at the middle of each box's left edge.
    const painted = await page.evaluate(() => {
      const c = document.querySelector('.player canvas');
      const ctx = c.getContext('2d');
      const s = window.dashloop.scale;
      return window.dashloop.drawn.every((b) => ctx.getImageData(Math.round(b.x * s), Math.round((b.y + b.h / 2) * s), 1, 1).data[3] > 0);
    });
    check(`frame ${frame}: each box is painted on the canvas`, painted);
  }
  await page.tap('button[aria-label="next frame"]');
  await page.waitForFunction(() => window.dashloop.frame === 151, null, { timeout: 10000 });
  check('frame step: one frame on', true);
  if (shots) await page.screenshot({ path: join(shots, 'ui-review.png') });

  // --- change a track's class: the package is rebuilt ---
  const track = manifest.tracks[0];
  const cvatBefore = sha256(join(pkg, 'labels', 'cvat-video.xml'));
  await page.evaluate(() => { window.dashloop = null; });  // the rebuilt page's own draw comes next
  await page.selectOption(`select[aria-label="class of track ${track.track_no}"]`, 'truck');
  await page.waitForSelector('#toast:has-text("Package rebuilt")', { timeout: 60000 });
  const after = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
  const xmlAfter = readFileSync(join(pkg, 'labels', 'cvat-video.xml'), 'utf8');
  const listed = Object.fromEntries(after.files.map((f) => [f.path, f.sha256]));
  check('the CVAT XML changed: that track is a truck',
    new RegExp(`<track id="${track.id}" label="truck"`).test(xmlAfter) && sha256(join(pkg, 'labels', 'cvat-video.xml')) !== cvatBefore);
  check('the manifest lists the new CVAT XML and records the edit',
    listed['labels/cvat-video.xml'] === sha256(join(pkg, 'labels', 'cvat-video.xml')) &&
    after.review.edits.relabel[String(track.track_no)] === 'truck' && after.review.by === `operator:${name}`, after.review);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0);
  await page.fill('input[type=range]', '40');
  await page.waitForFunction(() => window.dashloop.frame === 40);
  const relabelled = await page.evaluate((t) => window.dashloop.drawn.find((b) => b.track === t)?.label, track.track_no);
  check('the redrawn box carries the new class', relabelled === 'truck', relabelled);

  // --- a pedestrian the detector missed: drawn on the paused frame, a track in the labels ---
  await page.selectOption('select[aria-label="class of the missed object"]', 'person');
  await page.tap('button:has-text("Add a missed object")');
  await dragOnVideo(page, [0.60, 0.40], [0.66, 0.70]);
  await page.waitForSelector('#toast:has-text("Package rebuilt")', { timeout: 60000 });
  const withDrawn = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
  const drawnDetail = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), uid);
  const drawnTrack = (drawnDetail.edits.added || [])[0] || { keys: [[]] };
  const dk = drawnTrack.keys[0];
  const close = (a, b) => Math.abs(a - b) <= 0.02 * manifest.width;
  check('a box dragged with "Add a missed object" on frame 40 is a new person track keyed there, in video pixels, '
    + 'and the manifest counts it as operator-added',
  drawnTrack.label === 'person' && dk[0] - drawnDetail.start_frame === 40 && close(dk[1], 0.60 * manifest.width) &&
    close(dk[2], 0.40 * manifest.height) && close(dk[3], 0.06 * manifest.width) && close(dk[4], 0.30 * manifest.height) &&
    withDrawn.operator_added_tracks === 1, drawnDetail.edits);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0);
  await page.fill('input[type=range]', '40');
  await page.waitForFunction(() => window.dashloop.frame === 40);
  const shown = await page.evaluate((t) => window.dashloop.drawn.find((b) => b.track === t), drawnTrack.track);
  check('...drawn on the video at frame 40 with its track\'s row listing the key', shown && shown.label === 'person' &&
    await page.isVisible(`.track[data-track="${drawnTrack.track}"]:has-text("drawn, keys at 40")`), shown);

  // --- a face the detectors missed: drawn by the operator, redacted, the original a toggle away ---
  // As an operator who scrolled down to the history (or whose clip has a long
  // track list): the video is out of view when the button is tapped.
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.tap('button:has-text("Hide a face")');
  const pbox = await page.locator('.player').boundingBox();
  const viewport = page.viewportSize();
  check('arming a redaction brings the whole video into view (the button sits below the track list)',
    pbox.y >= 0 && pbox.y + pbox.height <= viewport.height, pbox);
  await dragOnVideo(page, [0.30, 0.30], [0.40, 0.45]);
  await page.waitForSelector('#toast:has-text("Package rebuilt")', { timeout: 60000 });
  const redactedManifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
  const detail = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), uid);
  const key = detail.redactions[0]?.keys[0] || [];
  const near = (a, b) => Math.abs(a - b) <= 0.02 * manifest.width;
  check('a box dragged on frame 40 is an added face box there, in video pixels',
    detail.redactions.length === 1 && detail.redactions[0].what === 'face' && key[0] === 40 &&
    near(key[1], 0.30 * manifest.width) && near(key[2], 0.30 * manifest.height) &&
    near(key[3], 0.10 * manifest.width) && near(key[4], 0.15 * manifest.height), detail.redactions);
  check('the rebuilt package is redacted there and its manifest counts the box',
    redactedManifest.privacy.added_marks === 1 && redactedManifest.privacy.boxes.added_face > 0 &&
    sha256(join(pkg, 'clip.mp4')) !== sha256(pkg + '.original.mp4'), redactedManifest.privacy);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0);
  await page.fill('input[type=range]', '40');
  await page.waitForFunction(() => window.dashloop.frame === 40);
  await page.tap('button:has-text("Show original")');
  await page.waitForFunction(() => document.querySelector('.player video').currentSrc.endsWith('/original.mp4') &&
    window.dashloop.frame === 40, null, { timeout: 10000 });
  const badge = await page.isVisible('.original-badge');
  check('"Show original" plays the unredacted clip on the same frame, marked as the original', badge);
  if (shots) { await page.evaluate(() => window.scrollTo(0, 0)); await page.screenshot({ path: join(shots, 'ui-privacy.png') }); }
  await page.tap('button:has-text("Show redacted")');
  await page.waitForFunction(() => document.querySelector('.player video').currentSrc.endsWith('/files/clip.mp4'));
  check('...and back to the redacted one', !(await page.isVisible('.original-badge')));

  // --- approve: the second page sees it live ---
  await page.tap('button.approve');
  await page.waitForSelector('#undo:has-text("approved") button:has-text("Undo")');
  check('an approval offers Undo for a few seconds', true);
  await watcher.waitForFunction((u) => document.querySelector(`.card[data-uid="${u}"] .state`)?.textContent === 'approved',
    uid, { timeout: 10000 }).then(() => check('the approval appears live on the second page (SSE)', true),
    () => check('the approval appears live on the second page (SSE)', false));
  // The approve moved on to the next clip in review.
  const other = cards[1];
  await page.waitForFunction((u) => location.hash === `#/clip/${u}` && window.dashloop, other, { timeout: 10000 });
  check('after approving, the next clip in review opens', true);
  // A second tap right after (it had approved the next clip, never seen): refused until it has been shown a second.
  // (a click from the page itself: Playwright's tap first waits for the layout to settle, past the second)
  await page.waitForFunction((u) => document.querySelector('.review-screen h1')?.textContent.startsWith(u), other);
  await page.evaluate(() => document.querySelector('button.approve').click());
  await page.waitForSelector('#toast:has-text("Just opened")');
  const untouched = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), other);
  check('a tap on Approve within a second of the next clip opening decides nothing', untouched.state === 'review',
    untouched.state);
  await page.waitForTimeout(1100);

  // --- reject with a reason, by a swipe to the left ---
  await page.waitForFunction(() => window.dashloop.frame === 0);
  const box = await page.locator('.player').boundingBox();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForSelector('.modal');
  check('a swipe to the left asks why to reject', true);
  if (shots) await page.screenshot({ path: join(shots, 'ui-reject.png') });
  await page.tap('.modal button:has-text("duplicate")');
  await page.waitForSelector('#undo:has-text("rejected")');
  const rejected = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), other);
  const last = rejected.audit[rejected.audit.length - 1];
  check('rejected with the reason picked, by the operator', rejected.state === 'rejected' && last.reason === 'duplicate' &&
    last.actor === `operator:${name}`, last);

  // The reject moved on: no clip is left in review. Undo takes it back and opens it again.
  await page.waitForFunction(() => location.hash === '#/queue');
  await page.tap('#undo button');
  await page.waitForFunction((u) => location.hash === `#/clip/${u}`, other);
  const undone = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), other);
  const back = undone.audit[undone.audit.length - 1];
  check('Undo puts the rejected clip back in review, audited as undone by the operator',
    undone.state === 'review' && back.from === 'rejected' && /undone/.test(back.reason) && back.actor === `operator:${name}`,
    back);

  // --- station ---
  await page.goto(url + '#/station');
  await page.waitForSelector('.tile[data-camera]');
  const station = await page.textContent('main');
  check('the station screen: camera, queue, disk', /front/.test(station) && /Queue/.test(station) && /free of/.test(station));
  if (shots) await page.screenshot({ path: join(shots, 'ui-station.png') });

  // --- 1920x1080 ---
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(url + `#/clip/${uid}`);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0);
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  check('the review screen fits 1920x1080 without sideways scrolling', fits);

  // First paint of the review page, loaded afresh (the session's cookie kept).
  const fresh = await context.newPage();
  await fresh.goto(url + `#/clip/${other}`);
  await fresh.waitForFunction(() => window.dashloop);
  const paint = await fresh.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime);
  const ready = await fresh.evaluate(() => performance.now());
  console.log(`review page: first contentful paint ${paint?.toFixed(0)} ms, boxes drawn at ${ready.toFixed(0)} ms`);
  check('the review page paints', paint > 0, paint);

  // --- log out: back to the login, no top bar ---
  await page.tap('#logout');
  await page.waitForSelector('form.login');
  check('after logging out: the login screen, no top bar', !(await page.isVisible('#bar')));

  check('no errors in the pages\' consoles', consoleErrors.length === 0, consoleErrors);
} finally {
  await browser.close();
}
console.log(`${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);

// Boxes on the right frame of a clip whose frame times are not multiples of
// 1/fps, as a live camera's are: in Chromium, for many frames, the frame the
// page says it shows (and draws the boxes of) is the frame the video
// presents, compared by its pixels with every frame of the clip as ffmpeg
// decodes it (the nearest of the three around it must be that frame).
// Usage: node frames_test.mjs URL NAME PASSWORD UID REFERENCE.gray WIDTH HEIGHT
import { readFileSync } from 'node:fs';
import { checks, launch, loggedIn } from './lib.mjs';

const [url, name, password, uid, refFile, w, h] = process.argv.slice(2);
const W = Number(w), H = Number(h);
const result = checks();
const { check } = result;
const ref = readFileSync(refFile);
const count = ref.length / (W * H);
// Mean-removed absolute difference: the browser's scaling and colour
// conversion differ from ffmpeg's by an offset, not by the picture.
function distance(a, b) {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) { ma += a[i]; mb += b[i]; }
  ma /= a.length; mb /= b.length;
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - ma - (b[i] - mb));
  return d / a.length;
}
const frameOf = (i) => ref.subarray(i * W * H, (i + 1) * W * H);

const browser = await launch();
try {
  const page = await loggedIn(browser, url, name, password);
  await page.goto(`${url}/#/clip/${encodeURIComponent(uid)}`);
  await page.waitForFunction(() => window.dashloop && window.dashloop.frame === 0, null, { timeout: 20000 });
  const detail = await page.evaluate(async (u) => (await fetch(`/api/v1/clips/${u}`)).json(), uid);
  const times = detail.package.frame_times, fps = detail.package.fps;
  const offGrid = times.filter((t, f) => Math.floor(t * fps + 1e-3) !== f).length;
  check(`the clip's frame times are off the 1/fps grid (${offGrid} of ${times.length} frames would round to another)`,
    times.length === count && offGrid > count / 4, { times: times.length, count, offGrid });
  const wrong = [];
  let tried = 0;
  for (let f = 1; f < count - 1; f += 7) {
    await page.fill('input[type=range]', String(f));
    tried++;
    const reached = await page.waitForFunction((x) => window.dashloop.frame === x, f, { timeout: 5000 })
      .then(() => true, () => false);
    if (!reached) {  // the page never says it shows the frame asked for
      wrong.push({ asked: f, said: await page.evaluate(() => window.dashloop.frame) });
      continue;
    }
    await page.waitForTimeout(150);  // the presented frame settles
    const luma = await page.evaluate(([cw, ch]) => {
      const c = document.createElement('canvas');
      c.width = cw; c.height = ch;
      const ctx = c.getContext('2d');
      ctx.drawImage(document.querySelector('.player video'), 0, 0, cw, ch);
      const d = ctx.getImageData(0, 0, cw, ch).data;
      const out = [];
      for (let i = 0; i < d.length; i += 4) out.push(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
      return out;
    }, [W, H]);
    const said = await page.evaluate(() => window.dashloop.frame);
    const near = [f - 1, f, f + 1].map((i) => [i, distance(luma, frameOf(i))]).sort((a, b) => a[1] - b[1]);
    if (said !== f || near[0][0] !== f) wrong.push({ asked: f, said, nearest: near });
  }
  check(`the page's frame is the presented frame on each of ${tried} frames tried`, wrong.length === 0 && tried > 20, wrong);
} finally {
  await browser.close();
}
process.exit(result.fails ? 1 : 0);

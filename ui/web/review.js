// The review screen: a clip with its tracked boxes drawn over the video, the
// decisions, edits, privacy and history.
import { render, route } from './app.js';
import { api, colorOf, fmtS, h, listeners, screen, toast, undoBar } from './lib.js';

export async function reviewScreen(uid) {
  let clip, boxes;
  try {
    [clip, boxes] = await Promise.all([api(`/clips/${encodeURIComponent(uid)}`), api(`/clips/${encodeURIComponent(uid)}/boxes`)]);
    // The operator went elsewhere while this loaded: the late answer must not cover that screen.
    if (location.hash !== `#/clip/${encodeURIComponent(uid)}`) return;
  } catch (e) {
    screen.replaceChildren(h('p', { class: 'error' }, e.message), h('a', { href: '#/queue' }, 'Back to the queue'));
    return;
  }
  const pkg = clip.package;
  if (!pkg) {
    screen.replaceChildren(h('h1', {}, uid), h('p', {}, `No package (${clip.state}${clip.purged ? ', purged' : ''}).`));
    return;
  }
  const fps = pkg.fps, frames = pkg.frame_count;
  // frame -> [{track, label, x, y, w, h, occluded}], in source pixels
  const byFrame = new Map();
  for (const t of boxes.tracks)
    for (const [f, x, y, w, hh, occ] of t.boxes) {
      if (!byFrame.has(f)) byFrame.set(f, []);
      byFrame.get(f).push({ track: t.track, label: t.label, x, y, w, h: hh, occluded: occ > 0 });
    }

  const video = h('video', { src: `/api/v1/clips/${encodeURIComponent(uid)}/files/clip.mp4`, preload: 'auto',
    playsinline: true, muted: true });
  const canvas = h('canvas', { 'aria-label': 'tracked boxes' });
  // Its width follows the screen's height and the clip's aspect (style.css): the video, playback and decisions fit without scrolling.
  const player = h('div', { class: 'player', style: `--ar:${(pkg.width / pkg.height).toFixed(4)}` }, video, canvas);
  const frameLabel = h('span', { class: 'frame' }, 'frame 0');
  const scrub = h('input', { type: 'range', min: 0, max: frames - 1, value: 0, step: 1, 'aria-label': 'frame',
    oninput: () => { seek(Number(scrub.value)); noteMarksAt(Number(scrub.value)); } });
  const events = clip.events.filter((e) => e.frame >= 0 && e.frame < frames);
  const marks = [
    ...events.map((e) =>
      h('span', { class: 'mark event', title: `${e.rule} ${e.detail}`, style: `left:${(100 * e.frame) / frames}%` })),
    ...clip.keyframes.map((k) => h('span', { class: 'mark keyframe', style: `left:${(100 * k.frame) / frames}%` })),
  ];
  // The legend, and on touch (no hover) what the mark at the scrub's position is.
  const markNote = h('span', { class: 'mark-note', 'aria-live': 'polite' });
  const legend = h('div', { class: 'legend muted' }, h('span', { class: 'key event' }), 'why the clip was cut ',
    h('span', { class: 'key keyframe' }, ''), 'keyframe image', markNote);
  const near = Math.max(1, Math.round(frames / 100));  // a mark is 4 px: within 1 % of the clip counts as on it
  function noteMarksAt(frame) {
    const here = [
      ...events.filter((e) => Math.abs(e.frame - frame) <= near).map((e) => `${e.rule}${e.detail ? ` ${e.detail}` : ''} (frame ${e.frame})`),
      ...clip.keyframes.filter((k) => Math.abs(k.frame - frame) <= near).map((k) => `keyframe image (frame ${k.frame})`)];
    markNote.textContent = here.length ? ` · here: ${here.join('; ')}` : '';
  }
  let current = -1;

  // The frame on screen: requestVideoFrameCallback's mediaTime where the
  // browser has it (the presented frame's own timestamp), else currentTime.
  function draw(frame) {
    current = frame;
    const ctx = canvas.getContext('2d');
    const scale = canvas.width / pkg.width;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const drawn = [];
    for (const b of byFrame.get(frame) || []) {
      if (deleted.has(b.track)) continue;
      const label = relabel[b.track] || b.label;
      ctx.lineWidth = Math.max(2, 3 * scale);
      ctx.strokeStyle = colorOf(b.track);
      ctx.setLineDash(b.occluded ? [8, 6] : []);
      ctx.strokeRect(b.x * scale, b.y * scale, b.w * scale, b.h * scale);
      const text = `${label} #${b.track}`;
      ctx.font = `${Math.max(14, Math.round(16 * scale))}px system-ui, sans-serif`;
      const tw = ctx.measureText(text).width + 8;
      ctx.fillStyle = colorOf(b.track);
      ctx.fillRect(b.x * scale, Math.max(0, b.y * scale - 22), tw, 22);
      ctx.fillStyle = '#000';
      ctx.fillText(text, b.x * scale + 4, Math.max(16, b.y * scale - 5));
      drawn.push({ track: b.track, label, x: b.x, y: b.y, w: b.w, h: b.h, occluded: b.occluded });
    }
    // The operator's added redaction boxes, dashed white (the detectors' own are in the video).
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = '#fff';
    for (const m of clip.redactions) {
      const b = addedBoxAt(m, frame);
      if (b) ctx.strokeRect(b.x * scale, b.y * scale, b.w * scale, b.h * scale);
    }
    ctx.setLineDash([]);
    if (dragBox) {
      ctx.strokeStyle = '#ff0';
      ctx.strokeRect(dragBox.x, dragBox.y, dragBox.w, dragBox.h);
    }
    frameLabel.textContent = `frame ${frame} / ${frames - 1}`;
    scrub.value = frame;
    canvas.dataset.frame = frame;
    window.dashloop = { frame, drawn, scale };  // what the browser tests compare with the package
  }
  // Time -> frame by the clip's own frame times (a live camera's are not
  // multiples of 1/fps), else by fps: the last frame shown at or before t.
  const times = Array.isArray(pkg.frame_times) && pkg.frame_times.length === frames ? pkg.frame_times : null;
  const frameAt = (t) => {
    if (!times) return Math.min(frames - 1, Math.max(0, Math.floor(t * fps + 1e-3)));
    let lo = 0, hi = frames - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t + 1e-4) lo = mid; else hi = mid - 1;
    }
    return lo;
  };
  // The middle of a frame's interval: every browser then shows that frame.
  const midOf = (f) => times ? (f + 1 < frames ? (times[f] + times[f + 1]) / 2 : times[f] + 0.5 / fps) : (f + 0.5) / fps;
  const hasRVFC = 'requestVideoFrameCallback' in HTMLVideoElement.prototype;
  function onFrame(_now, meta) {
    draw(frameAt(meta.mediaTime));
    video.requestVideoFrameCallback(onFrame);
  }
  if (hasRVFC) video.requestVideoFrameCallback(onFrame);
  else {
    const tick = () => { if (!video.isConnected) return; const f = frameAt(video.currentTime); if (f !== current) draw(f); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }
  // The video is as tall as the screen leaves (style.css --chrome): what the
  // page holds above and below it, measured here, as fonts and wrapping vary.
  function fitHeight() {
    const review = player.closest('.review-screen');
    if (!review || !video.videoHeight) return;
    const bottom = player.parentElement.getBoundingClientRect().bottom + window.scrollY +
      parseFloat(getComputedStyle(screen).paddingBottom || '0');
    const besides = Math.ceil(bottom - player.getBoundingClientRect().height) + 2;
    if (Math.abs(besides - (parseFloat(review.style.getPropertyValue('--chrome')) || 0)) > 2)
      review.style.setProperty('--chrome', `${besides}px`);
  }
  function fit() {
    canvas.width = video.clientWidth;
    canvas.height = video.clientHeight;
    if (current >= 0) draw(current);
    fitHeight();
  }
  let seeked = false;  // a seek before the metadata came is kept
  video.addEventListener('loadedmetadata', () => { fit(); if (!seeked) seek(0); });
  new ResizeObserver(fit).observe(video);
  function seek(frame) {
    frame = Math.min(frames - 1, Math.max(0, frame));
    seeked = true;
    video.pause();
    video.currentTime = midOf(frame);
    if (!hasRVFC) draw(frame);
  }

  // An added box on a frame as the redactor draws it: interpolated between
  // its keys, held hold_s before the first and after the last.
  const hold = Math.round((pkg.privacy && pkg.privacy.hold_s !== undefined ? pkg.privacy.hold_s : 0.5) * fps);
  function addedBoxAt(m, f) {
    const keys = [...m.keys].sort((a, b) => a[0] - b[0]);
    if (!keys.length || f < keys[0][0] - hold || f > keys[keys.length - 1][0] + hold) return null;
    let k = 0;
    while (k + 1 < keys.length && keys[k + 1][0] <= f) k++;
    const a = keys[k], b = k + 1 < keys.length && f > a[0] ? keys[k + 1] : a;
    const t = b === a ? 0 : (f - a[0]) / (b[0] - a[0]);
    const at = (i) => a[i] + t * (b[i] - a[i]);
    return { x: at(1), y: at(2), w: at(3), h: at(4) };
  }

  // Drawing a box to redact: armed by "Hide a face/plate" (or "Key here" on
  // an added box), then a drag on the paused video; else a swipe on the
  // video: right approves, left rejects.
  let drawing = null, dragBox = null;
  function arm(what) {
    drawing = what;
    video.pause();
    player.classList.add('drawing');
    // The buttons that arm it sit below a long track list: bring the video
    // back into view, or the operator's drag lands on nothing.
    player.scrollIntoView({ block: 'nearest' });
    toast(what.mark ? `Drag over box #${what.mark} on this frame`
      : what.label ? `Drag a box around the ${what.label} the detector missed`
        : what.track !== undefined ? `Drag track #${what.track}'s box on this frame`
          : `Drag over the ${what.what} to hide`);
  }
  let down = null;
  player.addEventListener('pointerdown', (e) => {
    down = { x: e.clientX, y: e.clientY };
    if (drawing) player.setPointerCapture(e.pointerId);
  });
  player.addEventListener('pointermove', (e) => {
    if (!drawing || !down) return;
    const r = canvas.getBoundingClientRect();
    const x0 = down.x - r.left, y0 = down.y - r.top, x1 = e.clientX - r.left, y1 = e.clientY - r.top;
    dragBox = { x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0) };
    draw(current);
  });
  player.addEventListener('pointerup', (e) => {
    if (!down) return;
    const dx = e.clientX - down.x, dy = e.clientY - down.y;
    if (drawing) {
      const r = canvas.getBoundingClientRect(), scale = canvas.width / pkg.width;
      const clampX = (v) => Math.min(pkg.width, Math.max(0, v)), clampY = (v) => Math.min(pkg.height, Math.max(0, v));
      const x0 = clampX((Math.min(down.x, e.clientX) - r.left) / scale), y0 = clampY((Math.min(down.y, e.clientY) - r.top) / scale);
      const x1 = clampX((Math.max(down.x, e.clientX) - r.left) / scale), y1 = clampY((Math.max(down.y, e.clientY) - r.top) / scale);
      const what = drawing;
      down = null; drawing = null; dragBox = null;
      player.classList.remove('drawing');
      draw(current);
      if (x1 - x0 < 4 || y1 - y0 < 4) return toast('Too small: drag a box over it');
      const box = [Math.round(x0), Math.round(y0), Math.round(x1 - x0), Math.round(y1 - y0)];
      // An object's box (a new one, or a key on a track) or a box to hide.
      const labelling = what.label !== undefined || what.track !== undefined;
      edit({ [labelling ? 'add_box' : 'add_redaction']: { ...what, frame: current, box } });
      return;
    }
    down = null;
    // A deliberate swipe: across 40 % of the video (160 px at least), three times more sideways than up or down.
    const swipe = Math.max(160, 0.4 * player.getBoundingClientRect().width);
    if (Math.abs(dx) >= swipe && Math.abs(dx) > 3 * Math.abs(dy)) (dx > 0 ? approve : askReject)();
    else if (Math.abs(dx) < 10 && Math.abs(dy) < 10) (video.paused ? video.play() : video.pause());
  });

  const relabel = Object.fromEntries(Object.entries(clip.edits.relabel || {}).map(([k, v]) => [Number(k), v]));
  const deleted = new Set(clip.edits.deleted || []);
  const editable = clip.editable;
  const stateBadge = h('span', { class: `state ${clip.state}` }, clip.state);

  // Every decision and edit names the version this screen shows: if the clip
  // changed meanwhile (another operator, another tab) the server refuses it
  // (409) and the screen shows the clip as it is now.
  async function act(verb, body = {}) {
    try {
      return await api(`/clips/${encodeURIComponent(uid)}/${verb}`, { method: 'POST', body: { ...body, version: clip.version } });
    } catch (e) {
      const changed = /changed since this page showed it/.test(e.message);
      toast(e.message, { sticky: changed });
      if (changed) render();
      return null;
    }
  }
  async function next() {
    const page = await api('/clips?state=review&per_page=2').catch(() => ({ clips: [] }));
    const n = page.clips.find((c) => c.uid !== uid);
    route(n ? `#/clip/${encodeURIComponent(n.uid)}` : '#/queue');
  }
  // While an edit is built no decision is taken here (the server refuses one too, 409).
  let building = false;
  // A clip is decided only once it has been on screen for a moment: a second
  // tap 600 ms after Approve had approved the next clip, never seen.
  let shownAt = Infinity;
  function tooSoon() {
    if (performance.now() - shownAt >= 1000) return false;
    toast('Just opened: look at this clip before deciding');
    return true;
  }
  const decisions = [
    h('button', { class: 'approve', onclick: approve, disabled: clip.state !== 'review' }, 'Approve'),
    h('button', { class: 'reject', onclick: askReject, disabled: clip.state !== 'review' }, 'Reject')];
  async function approve() {
    if (building) return toast('The edit is still being built: decide when it is done', { sticky: true });
    if (clip.state !== 'review') return toast(`This clip is ${clip.state}`);
    if (tooSoon()) return;
    if (await act('approve')) { undoBar(uid, 'approved'); next(); }
  }
  function askReject() {
    if (building) return toast('The edit is still being built: decide when it is done', { sticky: true });
    if (clip.state !== 'review') return toast(`This clip is ${clip.state}`);
    if (tooSoon()) return;
    const modal = h('div', { class: 'modal', role: 'dialog', 'aria-label': 'Reject: why?' },
      h('div', { class: 'box' }, h('h2', {}, 'Reject: why?'),
        clip.reject_reasons.map((r) => h('button', { class: 'reject', onclick: async () => {
          modal.remove();
          if (await act('reject', { reason: r })) { undoBar(uid, `rejected: ${r}`); next(); }
        } }, r)),
        h('button', { class: 'quiet', onclick: () => modal.remove() }, 'Cancel')));
    document.body.append(modal);
  }
  async function edit(body) {
    if (building) return toast('An edit is still being built', { sticky: true });
    building = true;
    for (const b of decisions) b.disabled = true;
    toast('Rebuilding the package… (Approve and Reject wait for it)', { sticky: true });
    const done = await act('edit', body);
    building = false;
    for (const b of decisions) b.disabled = clip.state !== 'review';
    if (done) { toast('Package rebuilt'); render(); }
  }

  // Objects the operator drew (their boxes are keys, interpolated between).
  const drawnBy = new Map((clip.edits.added || []).map((a) => [a.track, a.keys.map((k) => k[0] - clip.start_frame)]));
  const trackRows = boxes.tracks.map((t) => {
    const picker = h('select', { 'aria-label': `class of track ${t.track}`, disabled: !editable,
      onchange: (ev) => edit({ relabel: { [t.track]: ev.target.value } }) },
    clip.allowed_labels.map((l) => h('option', { value: l, selected: (relabel[t.track] || t.label) === l }, l)));
    const keys = drawnBy.get(t.track);
    return h('div', { class: `track${deleted.has(t.track) ? ' deleted' : ''}`, dataset: { track: t.track } },
      h('span', { class: 'swatch', style: `background:${colorOf(t.track)}` }),
      h('span', {}, `#${t.track} `, picker, keys ? ` drawn, keys at ${keys.join(', ')}` : ` ${t.boxes.length} boxes`),
      h('button', { class: 'quiet', disabled: !editable || deleted.has(t.track), 'aria-label': `box of track ${t.track} here`,
        onclick: () => arm({ track: t.track }) }, 'Box here'),
      h('button', { class: 'quiet', disabled: !editable,
        onclick: () => edit(deleted.has(t.track) ? { restore: [t.track] } : { delete: [t.track] }) },
      deleted.has(t.track) ? 'Restore' : 'Delete'));
  });
  // A pedestrian or car the detector missed: drawn on this frame, then keyed on later ones.
  const missedClass = h('select', { 'aria-label': 'class of the missed object', disabled: !editable },
    clip.allowed_labels.map((l) => h('option', { value: l, selected: l === 'person' }, l)));
  const addMissed = h('div', { class: 'row' }, missedClass,
    h('button', { disabled: !editable, onclick: () => arm({ label: missedClass.value }) }, 'Add a missed object'));
  // Privacy: what the package hides, the original (on the box only) and the operator's boxes.
  const privacy = pkg.privacy || {};
  const redacted = privacy.faces && (privacy.faces !== 'none' || privacy.plates !== 'none' || privacy.added_marks > 0);
  let showingOriginal = false;
  const originalBadge = h('span', { class: 'original-badge', hidden: true }, 'ORIGINAL · stays on this box, never uploaded');
  player.append(originalBadge);
  const toggle = clip.original ? h('button', { 'aria-label': 'show the original', onclick: () => {
    showingOriginal = !showingOriginal;
    const at = current;
    seeked = true;
    video.addEventListener('loadedmetadata', () => seek(at), { once: true });
    video.src = showingOriginal ? clip.original : `/api/v1/clips/${encodeURIComponent(uid)}/files/clip.mp4`;
    toggle.textContent = showingOriginal ? 'Show redacted' : 'Show original';
    originalBadge.hidden = !showingOriginal;
  } }, 'Show original') : null;
  const boxesDrawn = Object.values(privacy.boxes || {}).reduce((a, b) => a + b, 0);
  const privacyRows = clip.redactions.map((m) =>
    h('div', { class: 'row', dataset: { redaction: m.id } },
      h('span', {}, `#${m.id} ${m.what}, keys at frame ${m.keys.map((k) => k[0]).join(', ')}`),
      h('button', { class: 'quiet', disabled: !editable, onclick: () => arm({ mark: m.id }) }, 'Key here'),
      h('button', { class: 'quiet', disabled: !editable, onclick: () => edit({ remove_redaction: [m.id] }) }, 'Remove')));
  const privacySection = h('section', {}, h('h2', {}, 'Privacy'),
    h('p', { class: 'muted' }, !redacted ? 'Not redacted (this camera\'s policy is off)'
      : `Redacted: ${privacy.faces === 'none' && privacy.plates === 'none' ? 'only the boxes added here (this camera\'s policy is off)'
        : `faces ${privacy.faces}, plates ${privacy.plates}`} · ${boxesDrawn} boxes on ${privacy.frames_redacted} of ${privacy.frames} frames`),
    h('div', { class: 'row' },
      h('button', { disabled: !editable, onclick: () => arm({ what: 'face' }) }, 'Hide a face'),
      h('button', { disabled: !editable, onclick: () => arm({ what: 'plate' }) }, 'Hide a plate'),
      toggle),
    privacyRows);

  // Cut points span the clip as planned: a trim can be widened again (negative: before the start now).
  const cutOptions = (sel) => clip.cut_points.map((f) => h('option', { value: f, selected: f === sel },
    f < 0 ? `${(-f / fps).toFixed(1)} s before the start (frame ${f})` : `${(f / fps).toFixed(1)} s (frame ${f})`));
  const trimStart = h('select', { 'aria-label': 'trim start', disabled: !editable }, cutOptions(0));
  const trimEnd = h('select', { 'aria-label': 'trim end', disabled: !editable }, cutOptions(frames));

  shownAt = performance.now();
  screen.replaceChildren(h('div', { class: 'review-screen' },
    h('div', {},
      h('h1', {}, uid, ' ', stateBadge),
      player,
      h('div', { class: 'scrub' }, scrub, marks),
      legend,
      h('div', { class: 'controls' },
        h('button', { onclick: () => seek(current - 1), 'aria-label': 'previous frame' }, '◀ frame'),
        h('button', { class: 'primary', onclick: () => (video.paused ? video.play() : video.pause()) }, 'Play / pause'),
        h('button', { onclick: () => seek(current + 1), 'aria-label': 'next frame' }, 'frame ▶'),
        frameLabel),
      h('p', { class: 'muted info' }, `${clip.camera} · ${fmtS(clip.duration_s)} · ${pkg.width}×${pkg.height} @ ${fps} fps · `,
        `${clip.rules.join(', ')} · ~${clip.effort_minutes.toFixed(1)} min to label · swipe right to approve, left to reject`)),
    h('div', { class: 'panel' },
      h('section', {}, h('div', { class: 'decide' },
        ...decisions),
      ['approved', 'rejected'].includes(clip.state)
        ? h('button', { onclick: async () => { if (await act('reopen')) render(); } }, 'Back to review') : null),
      h('section', {}, h('h2', {}, `Priority ${clip.priority.toFixed(2)}`), h('div', { class: 'row' },
        // The one an operator set shows pressed; a planner's priority is none of them.
        [['Low', 0.2], ['Normal', 0.5], ['High', 0.9]].map(([l, p]) =>
          h('button', { 'aria-pressed': String(Math.abs(clip.priority - p) < 0.005),
            onclick: async () => { if (await act('priority', { priority: p })) render(); } }, l)))),
      h('section', {}, h('h2', {}, 'Tracks'), trackRows.length ? trackRows : h('p', { class: 'muted' }, 'none'), addMissed),
      privacySection,
      h('section', {}, h('h2', {}, 'Trim to keyframes'), h('div', { class: 'row' }, trimStart, trimEnd,
        h('button', { disabled: !editable, onclick: () => edit({ trim: { start: Number(trimStart.value), end: Number(trimEnd.value) } }) }, 'Trim'))),
      // One entry a move: when, the move and who on a line, the reason
      // below it, wrapped by word (a table of four equal columns broke words).
      h('section', {}, h('h2', {}, 'History'), h('ol', { class: 'history' }, clip.audit.map((a) =>
        h('li', {}, h('span', { class: 'when' }, `${a.at_utc.slice(5, 19).replace('T', ' ')} · ${a.from || 'new'} → ${a.to} · ${a.actor}`),
          a.reason ? h('span', {}, a.reason) : null)))))));

  listeners.add((e) => {
    if (e.type === 'clip.state' && e.clip === uid && e.state !== clip.state) {
      clip.state = e.state;
      stateBadge.className = `state ${e.state}`;
      stateBadge.textContent = e.state;
    }
  });
}

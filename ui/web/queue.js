// The queue screen: filters from the catalog, cards, pages, batch review.
import { api, fmtS, h, listeners, screen, session, toast, undoBar } from './lib.js';

const queueState = { state: 'review', camera: '', class: '', from: '', to: '', order: 'priority', page: 1 };

export async function queueScreen() {
  // The filters offer what the clips have (cameras, classes), with a count per state.
  const facets = await api('/facets').catch(() => ({ cameras: session.cameras, classes: [], counts: {} }));
  if (['clip', 'station'].includes((location.hash || '#/queue').split('/')[1])) return;  // gone elsewhere meanwhile
  const changed = (key) => (ev) => { queueState[key] = ev.target.value; queueState.page = 1; load(); };
  const select = (key, options) => h('select', { name: key, onchange: changed(key) },
    options.map(([v, label]) => h('option', { value: v, selected: queueState[key] === v }, label)));
  const day = (key) => h('input', { name: key, type: 'date', value: queueState[key], onchange: changed(key) });
  const cards = h('div', { class: 'cards' });
  const pager = h('div', { class: 'pager' });
  // Batch review, as Frigate's review page has it: a long press selects a
  // clip in review; while any is selected a tap selects or unselects, and a
  // bar approves or rejects them together, with the same Undo.
  const selected = new Set();
  const batchBar = h('div', { class: 'batch', role: 'toolbar', 'aria-label': 'selected clips', hidden: true });
  function showBatch() {
    batchBar.hidden = selected.size === 0;
    for (const el of cards.querySelectorAll('.card')) {
      el.classList.toggle('selected', selected.has(el.dataset.uid));
      el.setAttribute('aria-selected', String(selected.has(el.dataset.uid)));
    }
    batchBar.replaceChildren(h('span', { class: 'big' }, `${selected.size} selected`),
      h('button', { class: 'approve', onclick: () => decideAll('approve', {}, 'approved') }, 'Approve all'),
      h('button', { class: 'reject', onclick: askRejectAll }, 'Reject all…'),
      h('button', { class: 'quiet', onclick: () => { selected.clear(); showBatch(); } }, 'Clear'));
  }
  function toggle(c) {
    if (c.state !== 'review') return toast(`${c.uid} is ${c.state}: only clips in review are decided together`);
    if (!selected.delete(c.uid)) selected.add(c.uid);
    showBatch();
  }
  async function decideAll(verb, body, what) {
    const done = [], refused = [];
    for (const uid of selected) {
      try {
        await api(`/clips/${encodeURIComponent(uid)}/${verb}`, { method: 'POST', body });
        done.push(uid);
      } catch (e) { refused.push(e.message); }
    }
    selected.clear();
    showBatch();
    if (done.length) undoBar(done, what);
    if (refused.length) toast(`${refused.length} not decided: ${refused.join('; ')}`, { sticky: true });
    load();
  }
  function askRejectAll() {
    const modal = h('div', { class: 'modal', role: 'dialog', 'aria-label': 'Reject all: why?' },
      h('div', { class: 'box' }, h('h2', {}, `Reject ${selected.size} clips: why?`),
        session.reject_reasons.map((r) => h('button', { class: 'reject', onclick: () => {
          modal.remove();
          decideAll('reject', { reason: r }, `rejected: ${r}`);
        } }, r)),
        h('button', { class: 'quiet', onclick: () => modal.remove() }, 'Cancel')));
    document.body.append(modal);
  }
  screen.replaceChildren(
    h('h1', {}, 'Review queue'),
    h('div', { class: 'filters' },
      h('label', {}, 'State', select('state', [['', 'any'],
        ...session.states.map((s) => [s, `${s} (${facets.counts[s] ?? 0})`])])),
      h('label', {}, 'Camera', select('camera', [['', 'any'], ...facets.cameras.map((c) => [c, c])])),
      h('label', {}, 'Class', select('class', [['', 'any'], ...facets.classes.map((c) => [c, c])])),
      h('label', {}, 'Made from', day('from')),
      h('label', {}, 'to', day('to')),
      h('label', {}, 'Order', select('order', [['priority', 'priority'], ['newest', 'newest']]))),
    batchBar, cards, pager);

  async function load() {
    const q = new URLSearchParams({ order: queueState.order, page: queueState.page, per_page: 24 });
    for (const k of ['state', 'camera', 'class', 'from', 'to']) if (queueState[k]) q.set(k, queueState[k]);
    let page;
    try { page = await api('/clips?' + q); } catch (e) { return toast(e.message); }
    cards.replaceChildren(...page.clips.map(card));
    showBatch();
    if (!page.clips.length) cards.append(h('p', { class: 'muted' }, 'No clips match.'));
    const pages = Math.max(1, Math.ceil(page.total / page.per_page));
    pager.replaceChildren(
      h('button', { disabled: queueState.page <= 1, onclick: () => { queueState.page--; load(); } }, '‹ Newer'),
      h('span', {}, `page ${queueState.page} of ${pages} · ${page.total} clips`),
      h('button', { disabled: queueState.page >= pages, onclick: () => { queueState.page++; load(); } }, 'Older ›'));
  }

  function card(c) {
    let timer = null, pressed = false, at = null;
    const cancel = () => { clearTimeout(timer); timer = null; };
    return h('a', { class: 'card', href: `#/clip/${encodeURIComponent(c.uid)}`, dataset: { uid: c.uid },
      onpointerdown: (e) => { pressed = false; at = [e.clientX, e.clientY]; cancel();
        timer = setTimeout(() => { pressed = true; toggle(c); }, 500); },
      onpointermove: (e) => { if (at && Math.hypot(e.clientX - at[0], e.clientY - at[1]) > 10) cancel(); },
      onpointerup: cancel, onpointercancel: cancel,
      oncontextmenu: (e) => e.preventDefault(),  // a long press is a selection, not the browser's menu
      onclick: (e) => {
        if (!pressed && !selected.size) return;  // a plain tap opens the clip
        e.preventDefault();
        if (!pressed) toggle(c);
        pressed = false;
      } },
      // A clip not cut or not redacted yet has no picture to show (the server refuses it).
      c.state === 'planned' || c.state === 'packaged'
        ? h('div', { class: 'nothumb' }, c.state === 'planned' ? 'being cut' : 'being pre-labelled and redacted')
        : h('img', { src: c.thumbnail, alt: '', loading: 'lazy' }),
      h('div', { class: 'body' },
        h('span', { class: 'uid' }, c.uid),
        h('span', {}, h('span', { class: `state ${c.state}` }, c.state), ` ${fmtS(c.duration_s)} · ${c.camera}`),
        h('span', {}, c.classes.length ? c.classes.join(', ') : 'no objects'),
        h('span', { class: 'muted' }, `priority ${c.priority.toFixed(2)} · ~${c.effort_minutes.toFixed(1)} min to label`)));
  }

  let pending = null;
  listeners.add((e) => {
    if (e.type !== 'clip.state') return;
    const el = cards.querySelector(`[data-uid="${CSS.escape(e.clip)}"] .state`);
    if (el) { el.className = `state ${e.state}`; el.textContent = e.state; }
    clearTimeout(pending);
    pending = setTimeout(load, 800);  // new clips and new order, once a burst is over
  });
  await load();
}

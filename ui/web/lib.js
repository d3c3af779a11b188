// What every screen of the depot UI shares: the page's main element and
// session, live-event listeners, making elements, calling the API, toasts,
// the Undo bar and formatting.
import { render, route } from './app.js';

export const screen = document.getElementById('screen');
export const session = { name: '', csrf: '', states: [], cameras: [], reasons: [] };
export const listeners = new Set();  // screens that want live events

// --- helpers ---------------------------------------------------------------

// An element with attributes (on* are listeners) and children: text is always text, never HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') el.style.cssText = v;  // CSSOM: allowed by the page's CSP, unlike a style attribute
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = session.csrf;
  const res = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/login' && path !== '/session') { session.name = ''; route('#/login'); }
  if (!res.ok) throw Object.assign(new Error(data.error || `HTTP ${res.status}`), { data });
  return data;
}

// sticky: stays until the next toast (an edit being built says so until it ends).
export function toast(text, { sticky = false } = {}) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  if (!sticky) toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}

// A decision can be taken back for a few seconds (it is made at once, so a
// closed page never loses it; Undo puts the clip back in review, audited).
// `uids`: one clip (Undo opens it again) or a batch (Undo reopens them all).
export function undoBar(uids, what) {
  uids = [].concat(uids);
  document.getElementById('undo')?.remove();
  const bar = h('div', { id: 'undo', role: 'status' }, `${uids.length === 1 ? uids[0] : `${uids.length} clips`} ${what}`,
    h('button', { onclick: async () => {
      bar.remove();
      const failed = [];
      for (const uid of uids) {
        try {
          await api(`/clips/${encodeURIComponent(uid)}/reopen`, { method: 'POST', body: { note: `${what}, undone` } });
        } catch (e) { failed.push(e.message); }
      }
      if (failed.length) toast(failed.join('; '), { sticky: true });
      if (uids.length === 1 && !failed.length) route(`#/clip/${encodeURIComponent(uids[0])}`);
      else render();
    } }, 'Undo'));
  document.body.append(bar);
  setTimeout(() => bar.remove(), 6000);
}

export const fmtS = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
export const fmtBytes = (b) => b > 1e9 ? `${(b / 1e9).toFixed(1)} GB` : `${(b / 1e6).toFixed(1)} MB`;
// Hues a golden angle apart: neighbouring track numbers differ most, and no
// two of the first few dozen tracks share a colour (a palette of 8 repeated).
export const colorOf = (track) => `hsl(${Math.round((track * 137.508) % 360)}, 100%, ${track % 2 ? 60 : 50}%)`;

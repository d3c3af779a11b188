// The depot UI: plain ES modules, no build step, no library. This one routes
// between the screens (login here; queue.js, review.js with the clip's tracked
// boxes drawn over the video, station.js) and keeps the live events
// (server-sent, /api/v1/events, fed by the bus); lib.js is what they share.

import { api, h, listeners, screen, session } from './lib.js';
import { queueScreen } from './queue.js';
import { reviewScreen } from './review.js';
import { stationScreen } from './station.js';

// --- live events -----------------------------------------------------------

let events = null;
function connectEvents() {
  if (events) return;
  events = new EventSource('/api/v1/events');
  const live = document.getElementById('live');
  events.onopen = () => { live.textContent = 'live'; live.classList.add('on'); };
  events.onerror = () => { live.textContent = 'reconnecting'; live.classList.remove('on'); };
  events.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    for (const fn of listeners) fn(e);
  };
}

// --- routing ---------------------------------------------------------------

export function route(hash) {
  if (location.hash !== hash) location.hash = hash; else render();
}

export async function render() {
  listeners.clear();
  if (!session.name) {
    try { Object.assign(session, await api('/session')); } catch { /* the server is gone */ }
  }
  const hash = location.hash || '#/queue';
  document.getElementById('bar').hidden = !session.name;
  if (!session.name) return loginScreen();
  connectEvents();
  document.getElementById('who').textContent = session.name;
  const [, name, arg] = hash.split('/');
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('on', a.dataset.screen === name);
  if (name === 'clip' && arg) {
    window.scrollTo(0, 0);  // a clip opens at its top, not where the last screen was scrolled to
    return reviewScreen(decodeURIComponent(arg));
  }
  if (name === 'station') return stationScreen();
  return queueScreen();
}

window.addEventListener('hashchange', render);
document.getElementById('logout').addEventListener('click', async () => {
  await api('/logout', { method: 'POST', body: {} }).catch(() => {});
  session.name = '';
  if (events) { events.close(); events = null; }
  route('#/login');
});

// --- login -----------------------------------------------------------------

function loginScreen() {
  const error = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { name: 'name', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  // Shown when the password was a one-time one: the login that replaces it spends it.
  const fresh = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', minlength: 10 });
  const again = h('input', { name: 'new_password_again', type: 'password', autocomplete: 'new-password', minlength: 10 });
  const freshFields = h('div', { class: 'new-password', hidden: true },
    h('label', {}, 'New password (at least 10 characters)', fresh),
    h('label', {}, 'New password again', again));
  const form = h('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const body = { name: name.value, password: password.value };
    if (!freshFields.hidden) {
      if (fresh.value !== again.value) { error.textContent = 'the two new passwords differ'; return; }
      body.new_password = fresh.value;
    }
    try {
      const r = await api('/login', { method: 'POST', body });
      session.name = r.name;
      session.csrf = r.csrf;
      Object.assign(session, await api('/session'));
      route(location.hash && location.hash !== '#/login' ? location.hash : '#/queue');
    } catch (e) {
      error.textContent = e.message;
      if (e.data && e.data.new_password_required) {
        freshFields.hidden = false;
        fresh.required = again.required = true;
        fresh.focus();
      }
    }
  } },
  h('h1', {}, 'Dashloop depot'),
  h('label', {}, 'Operator', name),
  h('label', {}, 'Password', password),
  freshFields,
  h('button', { class: 'primary', type: 'submit' }, 'Log in'),
  error);
  screen.replaceChildren(form);
}

render();

// The station screen: each camera's state, the queue, disk, sync, recent errors.
import { api, fmtBytes, h, listeners, screen, toast } from './lib.js';

export async function stationScreen() {
  const body = h('div', {});
  screen.replaceChildren(h('h1', {}, 'Station'), body);
  async function load() {
    let s;
    try { s = await api('/station'); } catch (e) { return toast(e.message); }
    const live = s.status || {};
    const sync = s.sync || {};
    const stamp = Date.now();
    body.replaceChildren(
      h('p', {}, s.running ? `Running: ${live.drives_analysed ?? 0} drives analysed${live.analysing ? `, analysing ${live.analysing}` : ''}`
        : 'The station is not running (catalog view).'),
      h('div', { class: 'grid2' },
        s.cameras.map((c) => h('div', { class: 'tile', dataset: { camera: c.name } },
          h('span', { class: 'big' }, c.name, ' ', h('span', { class: `state ${c.live?.state === 'up' ? 'approved' : 'failed'}` }, c.live?.state || 'not running')),
          c.live?.reason ? h('span', { class: 'error' }, c.live.reason) : null,
          c.keyframe ? h('img', { src: `${c.keyframe}?t=${stamp}`, alt: `last keyframe of ${c.name}` }) : null,
          c.last_drive ? h('span', {}, `last drive ${c.last_drive.id}: ${c.last_drive.frames} frames in, `,
            `${c.last_drive.detection_skipped} dropped by the detector`) : h('span', { class: 'muted' }, 'no drive yet'),
          c.live ? h('span', {}, `${c.live.segments} segments recorded, ${c.live.reconnects} reconnects`) : null)),
        h('div', { class: 'tile' }, h('span', { class: 'big' }, 'Queue'),
          h('table', {}, Object.entries(s.queue).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v))))),
        h('div', { class: 'tile' }, h('span', { class: 'big' }, 'Disk'),
          h('span', {}, `${fmtBytes(s.disk.free_bytes)} free of ${fmtBytes(s.disk.total_bytes)}`),
          h('span', { class: 'muted' }, s.disk.path)),
        h('div', { class: 'tile' }, h('span', { class: 'big' }, 'Sync'),
          h('span', {}, sync.target ? `to ${sync.target}` : 'no pass yet'),
          sync.network ? h('span', {}, `network: ${sync.network}`) : null,
          sync.last_pass ? h('span', {}, `last pass: ${sync.last_pass.uploaded ?? 0} uploaded, ${sync.last_pass.acked ?? 0} acked`) : null),
        h('div', { class: 'tile' }, h('span', { class: 'big' }, 'Recent errors'),
          s.errors.length ? s.errors.map((e) => h('span', { class: 'error' }, `${e.utc?.slice(11, 19) || ''} ${e.type}: ${e.reason || e.error || e.camera || ''}`))
            : h('span', { class: 'muted' }, 'none'))));
  }
  let pending = null;
  listeners.add((e) => {
    if (!['health', 'camera.state', 'sync.pass', 'clip.state', 'analysis.failed', 'segment.closed'].includes(e.type)) return;
    clearTimeout(pending);
    pending = setTimeout(load, 500);
  });
  await load();
}

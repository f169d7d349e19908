import { html, page, raw, type SafeHtml } from '@ltilaunch/service-kit'
import type { StoredLaunch } from '../launches/records.js'

export interface ProgressPageOptions {
  launch: StoredLaunch
  /** Path of this service's routes (no trailing slash), for the stream and the form. */
  base: string
  retryToken: string
  /** Seconds between plain refreshes when scripts are off. */
  refreshSeconds: number
  /** Milliseconds since the epoch that "elapsed" counts to (now, unless a test fixes it). */
  nowMs?: number
}

// Follows the launch with server-sent events and ticks the elapsed time; with
// scripts off the meta refresh re-renders all of it on the server.
const SCRIPT = `
(function () {
  var root = document.getElementById('launch');
  if (!root || !window.EventSource) return;
  var started = Date.parse(root.dataset.started);
  var list = document.getElementById('progress');
  var status = document.getElementById('status');
  var bar = document.getElementById('bar');
  var percent = document.getElementById('percent');
  var elapsed = document.getElementById('elapsed');
  function seconds (ms) { return Math.max(0, ms / 1000).toFixed(1) + ' s'; }
  function duration (ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }
  function tick () { elapsed.textContent = duration(Date.now() - started); }
  var timer = setInterval(tick, 1000);
  tick();
  var source = new EventSource(root.dataset.events);
  source.addEventListener('update', function (e) {
    var data = JSON.parse(e.data);
    status.textContent = data.status;
    list.textContent = '';
    var value = 0;
    var since = root.dataset.attemptStarted || '';
    data.progress.forEach(function (p) {
      var li = document.createElement('li');
      var at = document.createElement('time');
      at.dateTime = p.at;
      at.textContent = '+' + seconds(Date.parse(p.at) - started);
      li.appendChild(at);
      li.appendChild(document.createTextNode(' ' + p.message + (typeof p.percent === 'number' ? ' (' + p.percent + '%)' : '')));
      list.appendChild(li);
      if (typeof p.percent === 'number' && p.at >= since && p.percent > value) value = p.percent;
    });
    if (data.status === 'ready') value = 100;
    bar.value = value;
    bar.textContent = value + '%';
    percent.textContent = value + '%';
    if (data.status === 'ready' && data.redirectUrl) { source.close(); clearInterval(timer); window.location.replace(data.redirectUrl); }
    else if (data.status === 'ready' || data.status === 'failed') { source.close(); clearInterval(timer); window.location.reload(); }
  });
  source.addEventListener('gone', function () { source.close(); clearInterval(timer); window.location.reload(); });
})();
`

// Classes only: the CSP blocks style attributes.
const PROGRESS_STYLE = `
  .bar { display: flex; align-items: center; gap: .75rem; margin: 1rem 0 }
  .bar progress { flex: 1; height: 1.25rem }
  ol.steps { padding-left: 1.5rem }
  ol.steps time { font-family: ui-monospace, monospace; font-size: .85rem; opacity: .7; margin-right: .5rem }
`

function courseName (launch: StoredLaunch): string | undefined {
  return launch.course ? (launch.course.title ?? launch.course.label ?? launch.course.id) : undefined
}

/**
 * The launch's progress in percent: the highest any step of this attempt
 * reported (the hub's own, once it spawns), so that the hub's "Server
 * requested" at 0% after the broker's first steps does not move it back;
 * 100 once ready.
 */
export function progressPercent (launch: StoredLaunch): number {
  if (launch.status === 'ready') return 100
  const since = launch.attemptStartedAt ?? ''
  return launch.progress.reduce((highest, p) => p.at >= since && p.percent !== undefined && p.percent > highest ? p.percent : highest, 0)
}

/** "+1.2 s": a step's time, counted from the launch's start. */
function offset (launch: StoredLaunch, at: string): string {
  return `+${(Math.max(0, Date.parse(at) - launch.createdMs) / 1000).toFixed(1)} s`
}

/** "12 s", "2 min 5 s": how long the launch has been going. */
export function formatElapsed (ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

function progressList (launch: StoredLaunch): SafeHtml {
  return html`<ol id="progress" class="steps">${launch.progress.map((p) =>
    html`<li><time datetime="${p.at}">${offset(launch, p.at)}</time> ${p.message}${p.percent !== undefined ? ` (${p.percent}%)` : ''}</li>`)}</ol>`
}

function facts (launch: StoredLaunch): SafeHtml {
  const course = courseName(launch)
  return html`<table>
${course ? html`<tr><th>Course</th><td>${course}</td></tr>` : ''}
<tr><th>Image</th><td>${launch.alias ? `${launch.alias} (${launch.image})` : launch.image}</td></tr>
<tr><th>Server</th><td>${launch.serverName || 'default'}</td></tr>
<tr><th>User</th><td>${launch.username} (${launch.role})</td></tr>
<tr><th>Status</th><td id="status">${launch.status}</td></tr>
</table>`
}

/**
 * The page while the launch waits or spawns: a progress bar, the steps with
 * their times (the hub's own spawn events among them), the elapsed time;
 * live with scripts, a plain refresh without.
 */
export function progressPage (options: ProgressPageOptions): string {
  const { launch, base } = options
  const events = `${base}/launches/${launch.id}/events`
  const percent = progressPercent(launch)
  const elapsed = formatElapsed((options.nowMs ?? Date.now()) - launch.createdMs)
  return page({
    title: 'Starting your notebook server',
    head: html`<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}"></noscript>
<style>${raw(PROGRESS_STYLE)}</style>`,
    body: html`<main id="launch" data-events="${events}" data-started="${new Date(launch.createdMs).toISOString()}" data-attempt-started="${launch.attemptStartedAt ?? ''}">
<h1>Starting your notebook server</h1>
<div class="bar"><progress id="bar" max="100" value="${percent}">${percent}%</progress><span id="percent">${percent}%</span></div>
<p>Elapsed: <span id="elapsed">${elapsed}</span></p>
${facts(launch)}
<h2>Progress</h2>
${progressList(launch)}
<noscript><p>Scripts are off: this page reloads itself every ${options.refreshSeconds} seconds.</p></noscript>
</main>
<script>${raw(SCRIPT)}</script>`
  })
}

/** The dry-run result: what would have started, since no hub is configured. */
export function dryRunPage (options: ProgressPageOptions): string {
  const { launch } = options
  const d = launch.dryRun
  return page({
    title: 'Dry run: your server would start now',
    head: html`<style>${raw(PROGRESS_STYLE)}</style>`,
    body: html`<h1>Dry run: your server would start now</h1>
<p>No JupyterHub is configured (SPAWN_DRIVER=dry-run), so nothing was started. With a hub, this is what the broker would start:</p>
<table>
<tr><th>User</th><td>${d?.user ?? launch.username}</td></tr>
<tr><th>Role</th><td>${d?.role ?? launch.role}${d?.admin ? ' (hub admin)' : ''}</td></tr>
${d?.course ?? courseName(launch) ? html`<tr><th>Course</th><td>${d?.course ?? courseName(launch)}</td></tr>` : ''}
<tr><th>Image</th><td>${d?.image ?? launch.image}</td></tr>
<tr><th>Server name</th><td>${launch.serverName || '(the default server)'}</td></tr>
<tr><th>Hub groups</th><td>${d?.groups.length ? d.groups.join(', ') : 'left as they are (HUB_SYNC_GROUPS is off)'}</td></tr>
<tr><th>user_options</th><td class="code">${JSON.stringify(d?.userOptions ?? {})}</td></tr>
</table>
<h2>Progress</h2>
${progressList(launch)}
<p class="hint">Set HUB_URL and HUB_API_TOKEN to start servers on a real hub.</p>`
  })
}

/** A failed launch: what failed, and a button to try again. */
export function failedPage (options: ProgressPageOptions): string {
  const { launch, base } = options
  return page({
    title: 'Your server could not be started',
    head: html`<style>${raw(PROGRESS_STYLE)}</style>`,
    body: html`<h1>Your server could not be started</h1>
<p>${launch.reason ?? 'The launch failed.'}</p>
${facts(launch)}
<form method="post" action="${base}/launches/${launch.id}/retry">
<input type="hidden" name="token" value="${options.retryToken}">
<button type="submit">Try again</button>
</form>
<h2>What happened</h2>
${progressList(launch)}
<p class="code">Launch ${launch.id}</p>`
  })
}

import { html, page, raw, type SafeHtml } from '@ltilaunch/service-kit'
import type { StoredLaunch } from '../launches/records.js'

export interface ProgressPageOptions {
  launch: StoredLaunch
  /** Path of this service's routes (no trailing slash), for the stream and the form. */
  base: string
  retryToken: string
  /** Seconds between plain refreshes when scripts are off. */
  refreshSeconds: number
}

// Follows the launch with server-sent events; with scripts off the meta refresh does it.
const SCRIPT = `
(function () {
  var root = document.getElementById('launch');
  if (!root || !window.EventSource) return;
  var list = document.getElementById('progress');
  var status = document.getElementById('status');
  var source = new EventSource(root.dataset.events);
  source.addEventListener('update', function (e) {
    var data = JSON.parse(e.data);
    status.textContent = data.status;
    list.textContent = '';
    data.progress.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.message + (typeof p.percent === 'number' ? ' (' + p.percent + '%)' : '');
      list.appendChild(li);
    });
    if (data.status === 'ready' && data.redirectUrl) { source.close(); window.location.replace(data.redirectUrl); }
    else if (data.status === 'ready' || data.status === 'failed') { source.close(); window.location.reload(); }
  });
  source.addEventListener('gone', function () { source.close(); window.location.reload(); });
})();
`

function courseName (launch: StoredLaunch): string | undefined {
  return launch.course ? (launch.course.title ?? launch.course.label ?? launch.course.id) : undefined
}

function progressList (launch: StoredLaunch): SafeHtml {
  return html`<ol id="progress">${launch.progress.map((p) =>
    html`<li>${p.message}${p.percent !== undefined ? ` (${p.percent}%)` : ''}</li>`)}</ol>`
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

/** The page while the launch waits or spawns: live progress, and a refresh without scripts. */
export function progressPage (options: ProgressPageOptions): string {
  const { launch, base } = options
  const events = `${base}/launches/${launch.id}/events`
  return page({
    title: 'Starting your notebook server',
    head: html`<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}"></noscript>`,
    body: html`<main id="launch" data-events="${events}">
<h1>Starting your notebook server</h1>
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

/**
 * The pages of a launch bound through the platform's postMessage storage, the
 * refusal that offers a new window, and the page a framed launch ends on.
 * Scripts are inline blocks with addEventListener (the CSP allows blocks by
 * hash, never event-handler attributes); data reaches them as data-*
 * attributes, escaped like any other attribute.
 */
import { html, page, raw } from '@ltilaunch/service-kit'

/*
 * Talks to the platform per LTI Client Side postMessages: asks lti.capabilities
 * of the storage frame (the answer may name the frame of each message), then sends
 * lti.put_data or lti.get_data. Only answers from the platform's origin with
 * our message_id count; every wait has a timeout. `put`: then go on to the
 * authorization endpoint. `get`: put the value in the form and submit it to
 * ourselves. On any failure the refusal part of the page is shown.
 */
const SCRIPT = `
(function () {
  var box = document.getElementById('lti-storage');
  if (!box) return;
  var d = box.dataset;
  var timeout = Number(d.timeout) || 5000;
  var framed = window.parent !== window;

  function fail (reason) {
    if (d.mode === 'put' && !framed) { window.location.replace(d.next); return; }
    document.getElementById('working').hidden = true;
    document.getElementById('failed').hidden = false;
    document.getElementById('reason').textContent = reason;
  }
  function frameNamed (name) {
    if (!framed) return undefined;
    if (name === '_parent') return window.parent;
    try { return window.parent.frames[name] || undefined; } catch (e) { return undefined; }
  }
  function newId () {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return String(Date.now()) + '-' + String(Math.random()).slice(2);
  }
  function ask (target, message) {
    return new Promise(function (resolve, reject) {
      var id = newId();
      var timer = setTimeout(function () {
        window.removeEventListener('message', onMessage);
        reject(new Error('the platform did not answer ' + message.subject + ' within ' + (timeout / 1000) + ' seconds'));
      }, timeout);
      function onMessage (event) {
        if (event.origin !== d.platformOrigin) return;
        var data = event.data;
        if (!data || typeof data !== 'object' || data.subject !== message.subject + '.response' || data.message_id !== id) return;
        clearTimeout(timer);
        window.removeEventListener('message', onMessage);
        if (data.error) reject(new Error('the platform refused ' + message.subject + ': ' + (data.error.message || data.error.code || 'no reason given')));
        else resolve(data);
      }
      window.addEventListener('message', onMessage);
      message.message_id = id;
      target.postMessage(message, d.platformOrigin);
    });
  }
  function frameFor (subject) {
    var storage = frameNamed(d.target);
    if (!framed) return Promise.reject(new Error('this page is not inside the platform'));
    // Asked of the storage frame: it is on the platform's origin (Canvas's
    // post_message_forwarding is; its course page may not be).
    return ask(storage || window.parent, { subject: 'lti.capabilities' }).then(function (answer) {
      var offered = (answer.supported_messages || []).filter(function (m) { return m && m.subject === subject; })[0];
      if (!offered) throw new Error('the platform does not offer ' + subject);
      var named = offered.frame ? frameNamed(offered.frame) : undefined;
      if (named) return named;
      if (storage) return storage;
      throw new Error('the platform\\'s storage frame "' + d.target + '" is not on the page');
    }, function () {
      // A platform without lti.capabilities: try the storage target it named.
      if (storage) return storage;
      throw new Error('the platform\\'s storage frame "' + d.target + '" is not on the page');
    });
  }

  if (d.mode === 'put') {
    frameFor('lti.put_data').then(function (target) {
      return ask(target, { subject: 'lti.put_data', key: d.key, value: d.value });
    }).then(function () { window.location.replace(d.next); }, function (err) { fail(err.message); });
  } else {
    frameFor('lti.get_data').then(function (target) {
      return ask(target, { subject: 'lti.get_data', key: d.key });
    }).then(function (answer) {
      if (typeof answer.value !== 'string' || answer.value === '') throw new Error('the platform keeps nothing for this launch in this browser');
      var form = document.getElementById('bound');
      form.elements.namedItem('storage_binding').value = answer.value;
      form.submit();
    }).catch(function (err) { fail(err.message); });
  }
})();
`

/** The link that restarts the login in a new, top-level window. */
function newWindowLink (restart: string | undefined) {
  if (restart === undefined) return html`<p>Launch the tool again from your course, in a new window: where the course offers it, choose to open the tool in a new window or tab.</p>`
  return html`<p><a id="new-window" href="${restart}" target="_blank" rel="noopener">Open in a new window</a> — the launch starts again there, where this browser keeps the tool's cookies.</p>`
}

export interface StorePageOptions {
  platformName: string
  platformOrigin: string
  target: string
  key: string
  value: string
  /** The authorization request to go on to. */
  next: string
  restart: string
  timeoutMs: number
}

/** Login initiation with platform storage: keep the state's secret in the platform, then go on. */
export function storePage (options: StorePageOptions): string {
  return page({
    title: 'Connecting to your course',
    body: html`<div id="lti-storage" data-mode="put" data-platform-origin="${options.platformOrigin}" data-target="${options.target}"
 data-key="${options.key}" data-value="${options.value}" data-next="${options.next}" data-timeout="${options.timeoutMs}"></div>
<div id="working"><p>Connecting to ${options.platformName}…</p></div>
<div id="failed" hidden>
<h1>This launch cannot continue in this frame</h1>
<p>The launch must be tied to this browser, and here it cannot be: <span id="reason"></span>.</p>
${newWindowLink(options.restart)}
<p class="code">Error code: TOOL_AUTH_LAUNCH_UNBOUND</p>
</div>
<noscript><p>Scripts are off in this browser. ${newWindowLink(options.restart)}</p></noscript>
<script>${raw(SCRIPT)}</script>`
  })
}

export interface ReadPageOptions {
  platformOrigin: string
  target: string
  key: string
  /** Where the form goes: this callback again. */
  action: string
  fields: Record<string, string>
  restart: undefined
  timeoutMs: number
}

/** Callback without the state cookie, for a state kept in platform storage: read it back, then post it to ourselves. */
export function readPage (options: ReadPageOptions): string {
  return page({
    title: 'Checking your launch',
    body: html`<div id="lti-storage" data-mode="get" data-platform-origin="${options.platformOrigin}" data-target="${options.target}"
 data-key="${options.key}" data-timeout="${options.timeoutMs}"></div>
<div id="working"><p>Checking that this launch began in this browser…</p></div>
<form id="bound" method="post" action="${options.action}">
${Object.entries(options.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="storage_binding" value="">
</form>
<div id="failed" hidden>
<h1>This launch cannot be tied to your browser</h1>
<p>Nothing was opened: <span id="reason"></span>.</p>
${newWindowLink(options.restart)}
<p class="code">Error code: TOOL_AUTH_LAUNCH_UNBOUND</p>
</div>
<noscript><p>Scripts are off in this browser. ${newWindowLink(options.restart)}</p></noscript>
<script>${raw(SCRIPT)}</script>`
  })
}

/** A refusal (unbound launch) for a person: what happened, the new-window path, and the code. */
export function unboundPage (options: { title: string, message: string, code: string, restart: string | undefined }): string {
  return page({
    title: options.title,
    body: html`<h1>${options.title}</h1>
<p>${options.message}</p>
${newWindowLink(options.restart)}
<p class="code">Error code: ${options.code}</p>`
  })
}

/**
 * Where a launch inside a frame ends: the hub needs first-party cookies, so
 * the notebook opens in a new tab, which first takes over this launch's
 * session there (one click: browsers allow a new tab only on a click).
 */
export function framedLaunchPage (options: { toolName: string, resumeUrl: string, spawning: boolean }): string {
  return page({
    title: `${options.toolName} opens in a new tab`,
    body: html`<h1>${options.spawning ? 'Your notebook server is starting' : `You are signed in to ${options.toolName}`}</h1>
<p>${options.toolName} works in its own tab, not inside the course page.</p>
<p><a id="open-tab" href="${options.resumeUrl}" target="_blank" rel="noopener"><strong>Open JupyterLab in a new tab</strong></a></p>
<p class="hint">The link works once and for a few minutes. If it has expired, launch the tool again from your course.</p>`
  })
}

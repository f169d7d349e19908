/**
 * The platform's page that shows a tool in a frame, as an LMS course page
 * does, and (when PLATFORM_STORAGE is on) the storage side of the 1EdTech
 * LTI Client Side postMessages and Platform Storage specs for that tool:
 * lti.capabilities, lti.put_data and lti.get_data, answered only to the
 * framed tool's origins, kept per origin in this page for a limited time.
 * The script is an inline block with addEventListener (the CSP hashes
 * blocks; event-handler attributes would be blocked).
 */
import { html, page, raw } from '@ltilaunch/service-kit'

/** The frame name the tool posts to: `_parent`, this page itself. */
export const STORAGE_TARGET = '_parent'

/*
 * Values live in this page's memory only: the frame's navigations (login,
 * authorization, callback) all happen under it, and nothing outlives it.
 */
const SCRIPT = `
(function () {
  var box = document.getElementById('lti-platform');
  var frame = document.getElementById('lti-tool');
  if (!box || !frame) return;
  var d = box.dataset;
  var origins = d.toolOrigins.split(' ');
  var ttl = Number(d.ttl) * 1000;
  var storage = d.storage === 'on';
  var kept = {};
  var MAX_KEYS = 50, MAX_KEY = 1024, MAX_VALUE = 4096;

  function area (origin) {
    var now = Date.now();
    var values = kept[origin] || (kept[origin] = {});
    Object.keys(values).forEach(function (key) { if (values[key].expires <= now) delete values[key]; });
    return values;
  }
  function answer (event, data, fields) {
    var reply = { subject: data.subject + '.response', message_id: data.message_id };
    Object.keys(fields).forEach(function (name) { reply[name] = fields[name]; });
    event.source.postMessage(reply, event.origin);
  }
  function refuse (event, data, code, message) {
    answer(event, data, { error: { code: code, message: message } });
  }

  window.addEventListener('message', function (event) {
    // Only the framed tool, from one of its registered origins.
    if (event.source !== frame.contentWindow || origins.indexOf(event.origin) < 0) return;
    var data = event.data;
    if (!data || typeof data !== 'object' || typeof data.subject !== 'string' || typeof data.message_id !== 'string') return;
    if (data.subject === 'lti.capabilities') {
      var supported = [{ subject: 'lti.capabilities' }];
      if (storage) supported.push({ subject: 'lti.put_data', frame: d.target }, { subject: 'lti.get_data', frame: d.target });
      answer(event, data, { supported_messages: supported });
      return;
    }
    if (data.subject !== 'lti.put_data' && data.subject !== 'lti.get_data') {
      refuse(event, data, 'unsupported_subject', 'this platform does not handle ' + data.subject);
      return;
    }
    if (!storage) { refuse(event, data, 'unsupported_subject', 'this platform offers no storage'); return; }
    if (typeof data.key !== 'string' || data.key === '' || data.key.length > MAX_KEY) {
      refuse(event, data, 'bad_request', 'key must be a string of 1 to ' + MAX_KEY + ' characters');
      return;
    }
    var values = area(event.origin);
    if (data.subject === 'lti.put_data') {
      if (typeof data.value !== 'string' || data.value.length > MAX_VALUE) {
        refuse(event, data, 'bad_request', 'value must be a string of at most ' + MAX_VALUE + ' characters');
        return;
      }
      if (!values[data.key] && Object.keys(values).length >= MAX_KEYS) {
        refuse(event, data, 'bad_request', 'too many values are kept for this tool');
        return;
      }
      values[data.key] = { value: data.value, expires: Date.now() + ttl };
      answer(event, data, { key: data.key, value: data.value });
      return;
    }
    var entry = values[data.key];
    if (!entry) { refuse(event, data, 'bad_request', 'nothing is kept under this key'); return; }
    answer(event, data, { key: data.key, value: entry.value });
  });

  var form = document.getElementById('lti-login');
  if (form) form.submit();
})();
`

const FRAME_STYLE = raw(`<style>
  body { max-width: none; margin: 1rem 2rem }
  .course-bar { display: flex; gap: 1rem; align-items: baseline; justify-content: space-between }
  #lti-tool { width: 100%; height: 75vh; border: 1px solid #8884; border-radius: 4px }
</style>`)

export interface FramedLaunchOptions {
  platformName: string
  toolName: string
  courseTitle?: string
  /** The origins the tool's pages are on (login, redirect and target URLs). */
  toolOrigins: string[]
  /** The login initiation: a URL for GET, or a form for POST. */
  initiation: { method: 'get', url: string } | { method: 'post', action: string, fields: Record<string, string> }
  storage: boolean
  storageTtlSeconds: number
  backUrl: string
}

/** A course page with the tool in a frame, and the storage the tool may use. */
export function framedLaunchPage (options: FramedLaunchOptions): string {
  const { initiation } = options
  return page({
    title: `${options.toolName} · ${options.platformName}`,
    head: FRAME_STYLE,
    body: html`<div class="course-bar">
<h1>${options.courseTitle === undefined ? options.toolName : html`${options.courseTitle}: ${options.toolName}`}</h1>
<a href="${options.backUrl}">Back to ${options.platformName}</a>
</div>
<div id="lti-platform" data-tool-origins="${options.toolOrigins.join(' ')}" data-target="${STORAGE_TARGET}"
 data-storage="${options.storage ? 'on' : 'off'}" data-ttl="${options.storageTtlSeconds}"></div>
<iframe id="lti-tool" name="lti-tool" title="${options.toolName}" src="${initiation.method === 'get' ? initiation.url : 'about:blank'}"
 allow="clipboard-read; clipboard-write; fullscreen"></iframe>
${initiation.method === 'post'
  ? html`<form id="lti-login" method="post" action="${initiation.action}" target="lti-tool">
${Object.entries(initiation.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
</form>`
  : ''}
<script>${raw(SCRIPT)}</script>`
  })
}

/** The origins of a registration's URLs: where its framed pages may post from. */
export function toolOrigins (urls: string[]): string[] {
  return [...new Set(urls.map((url) => new URL(url).origin))]
}

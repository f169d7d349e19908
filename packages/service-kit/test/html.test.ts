import t from 'tap'
import { autoSubmitPage, escapeHtml, html, page, raw } from '../src/html.js'

t.test('escapeHtml escapes the five characters', async (t) => {
  t.equal(escapeHtml('<a href="x">\'&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

t.test('html escapes values but not nested fragments or raw markup', async (t) => {
  const name = '<b>Ada</b>'
  const out = html`<p>${name}</p>${html`<i>${'&'}</i>`}${raw('<hr>')}${[html`<li>1</li>`, '<2>']}${undefined}${false}`
  t.equal(out.value, '<p>&lt;b&gt;Ada&lt;/b&gt;</p><i>&amp;</i><hr><li>1</li>&lt;2&gt;')
})

t.test('page escapes its title', async (t) => {
  t.match(page({ title: '<x>', body: html`<p>hi</p>` }), '<title>&lt;x&gt;</title>')
})

t.test('a page names an empty icon, so that browsers do not ask each service for a /favicon.ico it lacks (a 404 in the console)', async (t) => {
  t.match(page({ title: 'x', body: html`<p>hi</p>` }), '<link rel="icon" href="data:,">')
})

t.test('an auto-submit page posts every field, and works with scripts off', async (t) => {
  const out = autoSubmitPage({ title: 'Launching', action: 'https://tool.example/cb?a=1&b=2', fields: { id_token: 'a.b.c', state: '"s"' } })
  t.match(out, '<form id="autosubmit" method="post" action="https://tool.example/cb?a=1&amp;b=2">')
  t.match(out, '<input type="hidden" name="id_token" value="a.b.c">')
  t.match(out, '<input type="hidden" name="state" value="&quot;s&quot;">')
  t.match(out, '<button type="submit">Continue</button>')
  t.match(out, "document.getElementById('autosubmit').submit()")
})

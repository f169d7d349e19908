import t from 'tap'
import { isHttpUrl } from '../src/index.js'

t.test('only http(s) URLs without credentials are URLs a browser may be sent to', async (t) => {
  t.ok(isHttpUrl('https://lms.example.edu/deep-link/return?x=1'))
  t.ok(isHttpUrl('http://127.0.0.1:3000/'))
  for (const bad of ['javascript:alert(1)', 'data:text/html,<script>1</script>', 'ftp://x.example/', 'https://user:pw@lms.example.edu/', '/relative', '', 42, undefined]) {
    t.notOk(isHttpUrl(bad), String(bad))
  }
})

import t from 'tap'
import { Browser, build, formOf, IMAGES, launchCsrf, signIn, startLaunch, TOOL } from '../helper.js'

t.test('the launch page asks an anonymous browser to sign in', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await new Browser(app).get('/')
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, '/login')
})

t.test('a demo user signs in and sees their courses, the tools and the images', async (t) => {
  const app = await build(t, { store: 'memory' })
  const browser = new Browser(app)
  await signIn(browser, 'grace')
  const page = await browser.get('/')
  t.equal(page.statusCode, 200)
  t.match(page.body, /Grace Hopper/)
  t.match(page.body, /Data Science 101/)
  t.match(page.body, /Machine Learning 201/)
  t.match(page.body, /Test tool/)
  for (const image of IMAGES) t.ok(page.body.includes(image))
  const cookie = browser.jar.get('ltilaunch_platform_session') as string
  t.ok(cookie)
  t.notOk(cookie.includes('grace'), 'the cookie holds an opaque id')
})

t.test('the launch form names and describes each image, and says which role the user has in the chosen course', async (t) => {
  const app = await build(t, { store: 'memory' })
  const browser = new Browser(app)
  await signIn(browser, 'grace')
  const page = await browser.get('/')
  t.match(page.body, `<option value="${IMAGES[0]}" data-description="Python &amp; JupyterLab, &lt;nothing&gt; more">Minimal</option>`, 'the label as the name, the description escaped')
  t.match(page.body, `<option value="${IMAGES[1]}" data-description="">${IMAGES[1]}</option>`, 'a plain string is its own name')
  t.match(page.body, '<p id="image-description" class="hint">Python &amp; JupyterLab, &lt;nothing&gt; more</p>', 'the default image\'s description')
  t.match(page.body, '<noscript><dl><dt>Minimal</dt><dd>Python &amp; JupyterLab, &lt;nothing&gt; more</dd></dl></noscript>', 'without scripts, every description')
  // grace teaches ds101 and takes ml201; her institution role (Faculty) does not decide in a course.
  t.match(page.body, '<option value="ds101" data-role="staff" data-roles="Instructor">Data Science 101 (DS101) — staff</option>')
  t.match(page.body, '<option value="ml201" data-role="learner" data-roles="Learner">Machine Learning 201 (ML201) — learner</option>')
  t.match(page.body, 'In this course you are <strong id="course-role">staff</strong> (<span id="course-roles">Instructor</span>).', 'the default course\'s role, rendered on the server')
  const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? ''
  t.match(script, "addEventListener('change'", 'scripts follow the course and image choices')
  t.doesNotThrow(() => new Function(script)) // eslint-disable-line no-new-func
  t.notMatch(page.body, / on[a-z]+="/, 'no inline event handler: the CSP would block it')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /script-src[^;]*'sha256-/, 'the inline script is allowed by its hash')

  const learner = new Browser(app)
  await signIn(learner, 'ada')
  t.match((await learner.get('/')).body, 'In this course you are <strong id="course-role">learner</strong> (<span id="course-roles">Learner</span>).')
})

t.test('the session cookie is HttpOnly and SameSite=Lax', async (t) => {
  const app = await build(t, { store: 'memory' })
  const browser = new Browser(app)
  const form = formOf((await browser.get('/login')).body)
  const res = await browser.post('/login', { ...form.fields, username: 'ada', password: 'ada-test-pw' })
  const cookie = String(res.headers['set-cookie'])
  t.match(cookie, /ltilaunch_platform_session=/)
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Lax/)
})

t.test('a wrong password or an unknown user is refused with the same answer', async (t) => {
  const app = await build(t, { store: 'memory' })
  for (const [username, password] of [['ada', 'wrong'], ['nobody', 'ada-test-pw'], ['ada', '']]) {
    const browser = new Browser(app)
    const form = formOf((await browser.get('/login')).body)
    const res = await browser.post('/login', { ...form.fields, username: username as string, password: password as string }, { accept: 'application/json' })
    t.equal(res.statusCode, 401, `${username}/${password}`)
    t.equal(res.json().code, 'PLATFORM_INVALID_CREDENTIALS')
    t.notOk(browser.jar.has('ltilaunch_platform_session'))
  }
  const browser = new Browser(app)
  const form = formOf((await browser.get('/login')).body)
  const page = await browser.post('/login', { ...form.fields, username: 'ada', password: 'nope' })
  t.equal(page.statusCode, 401)
  t.match(page.body, /not right/, 'a browser sees the form again with the reason')
})

t.test('usernames are matched case-insensitively', async (t) => {
  const app = await build(t, { store: 'memory' })
  await signIn(new Browser(app), 'ADA', 'ada-test-pw')
})

t.test('the sign-in form is protected against login CSRF', async (t) => {
  const app = await build(t, { store: 'memory' })
  const browser = new Browser(app)
  const form = formOf((await browser.get('/login')).body)
  const forged = await browser.post('/login', { ...form.fields, csrf: 'forged', username: 'ada', password: 'ada-test-pw' }, { accept: 'application/json' })
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'PLATFORM_CSRF_FAILED')
  const noCookie = new Browser(app)
  const res = await noCookie.post('/login', { csrf: form.fields.csrf as string, username: 'ada', password: 'ada-test-pw' }, { accept: 'application/json' })
  t.equal(res.statusCode, 403, 'a token without its cookie (another site posting) is refused')
})

t.test('the launch form is protected against CSRF', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  for (const csrf of ['', 'forged-token']) {
    const res = await browser.post('/launch', { csrf, client_id: TOOL.clientId, course: 'ds101' }, { accept: 'application/json' })
    t.equal(res.statusCode, 403)
    t.equal(res.json().code, 'PLATFORM_CSRF_FAILED')
  }
  const missing = await browser.post('/launch', { client_id: TOOL.clientId, course: 'ds101' }, { accept: 'application/json' })
  t.equal(missing.statusCode, 400)

  // Another user's token does not work in this session.
  const grace = new Browser(app)
  await signIn(grace, 'grace')
  const theirs = await launchCsrf(grace)
  const res = await browser.post('/launch', { csrf: theirs, client_id: TOOL.clientId, course: 'ds101' }, { accept: 'application/json' })
  t.equal(res.statusCode, 403)
})

t.test('launching needs a sign-in', async (t) => {
  const app = await build(t, { store: 'memory' })
  const res = await new Browser(app).post('/launch', { csrf: 'x', client_id: TOOL.clientId, course: 'ds101' }, { accept: 'application/json' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'PLATFORM_SIGN_IN_REQUIRED')
})

t.test('a user launches only in their own courses, only registered tools, only offered images', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const csrf = await launchCsrf(browser)
  const cases: Array<[Record<string, string>, number, string]> = [
    [{ course: 'ml201' }, 403, 'PLATFORM_UNKNOWN_COURSE'],
    [{ course: 'nope' }, 403, 'PLATFORM_UNKNOWN_COURSE'],
    [{ client_id: 'nope' }, 404, 'PLATFORM_UNKNOWN_TOOL'],
    [{ image: 'docker.io/evil/miner:latest' }, 422, 'PLATFORM_IMAGE_NOT_OFFERED']
  ]
  for (const [change, status, code] of cases) {
    const res = await browser.post('/launch', { csrf, client_id: TOOL.clientId, course: 'ds101', ...change }, { accept: 'application/json' })
    t.equal(res.statusCode, status, code)
    t.equal(res.json().code, code)
  }
})

t.test('without a chosen image the tool\'s first image is sent', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const login = await startLaunch(browser, { image: '' })
  t.ok(login.lti_message_hint)
})

t.test('a registration that asks for it gets the login initiation as an auto-submitted POST', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const csrf = await launchCsrf(browser)
  const res = await browser.post('/launch', { csrf, client_id: 'post-tool', course: 'ds101' })
  t.equal(res.statusCode, 200)
  const form = formOf(res.body)
  t.equal(form.action, 'https://post.example/login')
  t.equal(form.method, 'post')
  t.equal(form.fields.client_id, 'post-tool')
  t.equal(form.fields.target_link_uri, 'https://post.example/launch')
})

t.test('signing out ends the session everywhere (it is in the store)', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const csrf = await launchCsrf(browser)
  const stolen = browser.jar.get('ltilaunch_platform_session') as string
  const forged = await browser.post('/logout', { csrf: 'forged' }, { accept: 'application/json' })
  t.equal(forged.statusCode, 403)
  const out = await browser.post('/logout', { csrf })
  t.equal(out.statusCode, 303)
  const replay = new Browser(app)
  replay.jar.set('ltilaunch_platform_session', stolen)
  t.equal((await replay.get('/')).statusCode, 303, 'the old cookie no longer signs anyone in')
})

t.test('a tampered session cookie signs no one in', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const value = browser.jar.get('ltilaunch_platform_session') as string
  browser.jar.set('ltilaunch_platform_session', value.replace(/^./, (c) => c === 'a' ? 'b' : 'a'))
  t.equal((await browser.get('/')).statusCode, 303)
})

t.test('signing in again ends the previous session and gives a new id', async (t) => {
  const app = await build(t)
  const browser = new Browser(app)
  await signIn(browser, 'ada')
  const before = browser.jar.get('ltilaunch_platform_session') as string
  await signIn(browser, 'grace')
  const after = browser.jar.get('ltilaunch_platform_session') as string
  t.not(after, before)
  t.match((await browser.get('/')).body, /Grace Hopper/)
  const old = new Browser(app)
  old.jar.set('ltilaunch_platform_session', before)
  t.equal((await old.get('/')).statusCode, 303, 'the previous session no longer works')
})

t.test('password guessing is slowed down: sign-in attempts are rate limited', async (t) => {
  const app = await build(t, { store: 'memory' })
  const browser = new Browser(app)
  const form = formOf((await browser.get('/login')).body)
  const codes: number[] = []
  for (let i = 0; i < 22; i++) {
    const res = await browser.post('/login', { ...form.fields, username: 'ada', password: `guess-${i}` }, { accept: 'application/json' })
    codes.push(res.statusCode)
  }
  t.equal(codes[0], 401)
  t.equal(codes.at(-1), 429)
  const limited = await browser.post('/login', { ...form.fields, username: 'ada', password: 'ada-test-pw' }, { accept: 'application/json' })
  t.equal(limited.statusCode, 429, 'even the right password waits')
  t.equal(limited.json().code, 'PLATFORM_RATE_LIMITED')
})

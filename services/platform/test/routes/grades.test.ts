import { LTI_CLAIM } from '@ltilaunch/claims'
import t from 'tap'
import { API_KEY, Browser, signIn } from '../helper.js'
import { accessToken, call, launch, score, SCORE_TYPE, setup, type ToolKeys } from '../lti-services.js'

t.test('staff see every score on the course page, a learner only their own; the host API reads them with its key', async (t) => {
  const { app, keys } = await setup(t)
  const ada = await launch(app, 'ada', 'grader')
  const grace = await launch(app, 'grace', 'grader')
  const lineItem = (ada[LTI_CLAIM.agsEndpoint] as { lineitem: string }).lineitem
  const token = await accessToken(app, keys.grader as ToolKeys, 'grader')
  t.equal((await call(app, token, 'POST', `${lineItem}/scores`, score(ada.sub as string, { scoreGiven: 7.5, scoreMaximum: 10 }), SCORE_TYPE)).statusCode, 200)
  t.equal((await call(app, token, 'POST', `${lineItem}/scores`, score(grace.sub as string, { scoreGiven: 3, scoreMaximum: 4, activityProgress: 'Submitted', gradingProgress: 'PendingManual' }), SCORE_TYPE)).statusCode, 200)

  const staff = new Browser(app)
  await signIn(staff, 'grace')
  const book = (await staff.get('/courses/ds101')).body
  t.match(book, /<h2>Gradebook<\/h2>/)
  t.match(book, /<td>Ada Lovelace<\/td><td>grader tool<\/td><td>7\.5 \/ 10<\/td><td>Completed, FullyGraded<\/td>/)
  t.match(book, /<td>Grace Hopper<\/td><td>grader tool<\/td><td>3 \/ 4<\/td><td>Submitted, PendingManual<\/td>/)

  const learner = new Browser(app)
  await signIn(learner, 'ada')
  const own = (await learner.get('/courses/ds101')).body
  t.match(own, /<h2>Your grades<\/h2>/)
  t.match(own, /<td>grader tool<\/td><td>7\.5 \/ 10<\/td>/)
  t.notMatch(own, /3 \/ 4/, 'another learner\'s score is not shown')
  t.notMatch(own, /Grace Hopper/)

  const refused = await app.inject({ url: '/api/v1/courses/ds101/scores', headers: { authorization: 'Bearer wrong-key' } })
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'PLATFORM_UNAUTHORIZED')
  const api = await app.inject({ url: '/api/v1/courses/ds101/scores', headers: { authorization: `Bearer ${API_KEY}` } })
  t.equal(api.statusCode, 200, api.body)
  t.match(api.json(), {
    course: 'ds101',
    scores: [
      { lineItem: { id: lineItem, label: 'grader tool', scoreMaximum: 100 }, clientId: 'grader', user: { sub: ada.sub, name: 'Ada Lovelace' }, scoreGiven: 7.5, scoreMaximum: 10, gradingProgress: 'FullyGraded' },
      { user: { sub: grace.sub }, scoreGiven: 3, scoreMaximum: 4 }
    ]
  })
})

t.test('a host site\'s learner (launch API) can be scored; the API gives back the host\'s own user id', async (t) => {
  const { app, keys } = await setup(t)
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/launches',
    headers: { authorization: `Bearer ${API_KEY}` },
    payload: { client_id: 'grader', user: { id: 'learn-42', name: 'Host Learner', roles: ['Learner'] }, context: { id: 'host-course', title: 'Host course' }, resource_link: { id: 'nb-1', title: 'Notebook 1' } }
  })
  t.equal(created.statusCode, 201, created.body)
  const browser = new Browser(app)
  const started = await browser.get(new URL(created.json().launchUrl as string).pathname)
  t.equal(started.statusCode, 303, 'the one-time URL starts the launch, which records the learner')
  const token = await accessToken(app, keys.grader as ToolKeys, 'grader')
  const roster = (await call(app, token, 'GET', 'http://platform.test/lti/courses/host-course/memberships')).json()
  t.match(roster, { context: { id: 'host-course', title: 'Host course' }, members: [{ name: 'Host Learner', roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'] }] })
  const sub = roster.members[0].user_id as string
  const items = (await call(app, token, 'GET', 'http://platform.test/lti/courses/host-course/lineitems')).json()
  t.match(items, [{ label: 'Notebook 1', resourceLinkId: 'nb-1' }])
  t.equal((await call(app, token, 'POST', `${items[0].id as string}/scores`, score(sub), SCORE_TYPE)).statusCode, 200)
  const api = (await app.inject({ url: '/api/v1/courses/host-course/scores', headers: { authorization: `Bearer ${API_KEY}` } })).json()
  t.match(api.scores, [{ user: { sub, hostUserId: 'learn-42', name: 'Host Learner' }, scoreGiven: 7, scoreMaximum: 10 }])
})

import { LTI_CLAIM, SERVICE_SCOPE } from '@ltilaunch/claims'
import { logCapture } from '@ltilaunch/service-kit/testing'
import t from 'tap'
import { accessToken, assertion, call, launch, LINEITEM_TYPE, PLATFORM, score, SCORE_TYPE, setup, tokenRequest, type ToolKeys } from '../lti-services.js'

t.test('a launch carries the AGS and NRPS claims; a tool gets a token, posts a score to its default line item and reads results and the roster', async (t) => {
  const { app, keys } = await setup(t)
  const claims = await launch(app, 'ada', 'grader')
  const ags = claims[LTI_CLAIM.agsEndpoint] as { scope: string[], lineitems: string, lineitem: string }
  t.same(ags.scope, [SERVICE_SCOPE.lineItem, SERVICE_SCOPE.lineItemReadOnly, SERVICE_SCOPE.resultReadOnly, SERVICE_SCOPE.score])
  t.equal(ags.lineitems, `${PLATFORM}/lti/courses/ds101/lineitems`)
  t.match(ags.lineitem, /^http:\/\/platform\.test\/lti\/courses\/ds101\/lineitems\/rl-/)
  t.same(claims[LTI_CLAIM.nrps], { context_memberships_url: `${PLATFORM}/lti/courses/ds101/memberships`, service_versions: ['2.0'] })

  const tokenRes = await tokenRequest(app, await assertion(keys.grader as ToolKeys, 'grader'), `${SERVICE_SCOPE.score} ${SERVICE_SCOPE.resultReadOnly} ${SERVICE_SCOPE.lineItem} ${SERVICE_SCOPE.contextMembershipReadOnly}`)
  t.equal(tokenRes.statusCode, 200, tokenRes.body)
  t.equal(tokenRes.headers['cache-control'], 'no-store')
  const granted = tokenRes.json()
  t.match(granted, { token_type: 'Bearer', expires_in: 3600, access_token: /^[A-Za-z0-9_-]{40,}$/ })
  t.same(granted.scope.split(' ').sort(), [SERVICE_SCOPE.score, SERVICE_SCOPE.resultReadOnly, SERVICE_SCOPE.lineItem, SERVICE_SCOPE.contextMembershipReadOnly].sort())
  const token = granted.access_token as string

  const item = await call(app, token, 'GET', ags.lineitem)
  t.equal(item.statusCode, 200)
  t.match(item.headers['content-type'], 'application/vnd.ims.lis.v2.lineitem+json')
  t.match(item.json(), { id: ags.lineitem, label: 'grader tool', scoreMaximum: 100, resourceLinkId: 'ds101:grader' })

  const posted = await call(app, token, 'POST', `${ags.lineitem}/scores`, score(claims.sub as string, { comment: 'well done' }), SCORE_TYPE)
  t.equal(posted.statusCode, 200, posted.body)
  const results = await call(app, token, 'GET', `${ags.lineitem}/results`)
  t.match(results.headers['content-type'], 'application/vnd.ims.lis.v2.resultcontainer+json')
  t.same(results.json(), [{ id: `${ags.lineitem}/results/${encodeURIComponent(claims.sub as string)}`, scoreOf: ags.lineitem, userId: claims.sub, resultScore: 70, resultMaximum: 100, comment: 'well done' }])
  t.same((await call(app, token, 'GET', `${ags.lineitem}/results?user_id=someone-else`)).json(), [])

  // The container: create, filter by tag, page with Link.
  for (const tag of ['quiz', 'quiz', 'exam']) {
    const created = await call(app, token, 'POST', ags.lineitems, { label: `A ${tag}`, scoreMaximum: '20', tag, resourceId: 'nb-1' }, LINEITEM_TYPE)
    t.equal(created.statusCode, 201, created.body)
    t.equal(created.headers.location, created.json().id)
    t.equal(created.json().scoreMaximum, 20, 'a number sent as a string is read as a number')
  }
  const quizzes = await call(app, token, 'GET', `${ags.lineitems}?tag=quiz&limit=1`)
  t.match(quizzes.headers['content-type'], 'application/vnd.ims.lis.v2.lineitemcontainer+json')
  t.equal(quizzes.json().length, 1)
  const next = /<([^>]+)>; rel="next"/.exec(String(quizzes.headers.link))?.[1] as string
  t.match(next, /tag=quiz/)
  const second = await call(app, token, 'GET', next)
  t.equal(second.json().length, 1)
  t.equal(second.json()[0].tag, 'quiz')
  t.notOk(second.headers.link, 'the last page has no next')
  t.equal((await call(app, token, 'GET', `${ags.lineitems}?resource_link_id=ds101:grader`)).json().length, 1)

  const updated = await call(app, token, 'PUT', second.json()[0].id, { label: 'Renamed', scoreMaximum: 5 }, LINEITEM_TYPE)
  t.match(updated.json(), { label: 'Renamed', scoreMaximum: 5 })
  t.equal((await call(app, token, 'DELETE', second.json()[0].id)).statusCode, 204)
  t.equal((await call(app, token, 'GET', second.json()[0].id)).json().code, 'PLATFORM_LINEITEM_NOT_FOUND')

  // NRPS: the course's members, user_id = the sub the launch carried, roles in full, filtered by a short name, paged.
  const roster = await call(app, token, 'GET', `${PLATFORM}/lti/courses/ds101/memberships`)
  t.equal(roster.statusCode, 200, roster.body)
  t.match(roster.headers['content-type'], 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json')
  const body = roster.json()
  t.match(body.context, { id: 'ds101', label: 'DS101', title: 'Data Science 101' })
  t.equal(body.members.length, 3)
  const ada = body.members.find((member: { user_id: string }) => member.user_id === claims.sub)
  t.match(ada, { status: 'Active', name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@example.edu', roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'] })
  const learners = (await call(app, token, 'GET', `${PLATFORM}/lti/courses/ds101/memberships?role=Learner`)).json()
  t.same(learners.members.map((member: { user_id: string }) => member.user_id), [claims.sub])
  const instructors = (await call(app, token, 'GET', `${PLATFORM}/lti/courses/ds101/memberships?role=${encodeURIComponent('http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor')}`)).json()
  t.equal(instructors.members.length, 1)
  const paged = await call(app, token, 'GET', `${PLATFORM}/lti/courses/ds101/memberships?limit=2`)
  t.equal(paged.json().members.length, 2)
  t.match(String(paged.headers.link), /offset=2.*rel="next"/)
})

t.test('the services refuse: no token, a token without the scope, another tool\'s course or line item, a non-member, a bad media type, malformed and older scores', async (t) => {
  const { app, keys } = await setup(t)
  const claims = await launch(app, 'ada', 'grader')
  const lineItem = (claims[LTI_CLAIM.agsEndpoint] as { lineitem: string }).lineitem
  const scores = `${lineItem}/scores`
  const full = await accessToken(app, keys.grader as ToolKeys, 'grader')
  const refused = (res: Awaited<ReturnType<typeof call>>, status: number, code: string) => {
    t.equal(res.statusCode, status, res.body)
    t.equal(res.json().code, code)
  }
  refused(await call(app, undefined, 'POST', scores, score(claims.sub as string), SCORE_TYPE), 401, 'PLATFORM_SERVICE_TOKEN_INVALID')
  refused(await call(app, 'made-up-token', 'GET', lineItem), 401, 'PLATFORM_SERVICE_TOKEN_INVALID')
  const readOnly = await accessToken(app, keys.grader as ToolKeys, 'grader', SERVICE_SCOPE.resultReadOnly)
  const noScore = await call(app, readOnly, 'POST', scores, score(claims.sub as string), SCORE_TYPE)
  refused(noScore, 403, 'PLATFORM_SERVICE_SCOPE_MISSING')
  t.match(noScore.headers['www-authenticate'], /insufficient_scope/)

  // Another tool, never launched in ds101, cannot read its roster or its line items.
  const other = await accessToken(app, keys.other as ToolKeys, 'other')
  refused(await call(app, other, 'GET', `${PLATFORM}/lti/courses/ds101/memberships`), 403, 'PLATFORM_SERVICE_CONTEXT_NOT_GRANTED')
  refused(await call(app, other, 'GET', `${PLATFORM}/lti/courses/ds101/lineitems`), 403, 'PLATFORM_SERVICE_CONTEXT_NOT_GRANTED')
  // Launched there, it still does not see grader's line item, nor post to it.
  await launch(app, 'ada', 'other')
  refused(await call(app, other, 'GET', lineItem), 404, 'PLATFORM_LINEITEM_NOT_FOUND')
  refused(await call(app, other, 'POST', scores, score(claims.sub as string), SCORE_TYPE), 404, 'PLATFORM_LINEITEM_NOT_FOUND')
  t.equal((await call(app, other, 'GET', `${PLATFORM}/lti/courses/ds101/lineitems`)).json().length, 1, 'only its own default line item')

  // grace is in ml201 only as a learner... and in ds101 as staff; a sub nobody has is not a member.
  refused(await call(app, full, 'POST', scores, score('someone-else'), SCORE_TYPE), 422, 'PLATFORM_SCORE_USER_NOT_MEMBER')
  refused(await call(app, full, 'POST', scores, score(claims.sub as string), 'text/plain'), 415, 'PLATFORM_SERVICE_MEDIA_TYPE')
  refused(await call(app, full, 'POST', scores, score(claims.sub as string), LINEITEM_TYPE), 415, 'PLATFORM_SERVICE_MEDIA_TYPE')
  refused(await call(app, full, 'POST', scores, score(claims.sub as string), 'application/xml'), 415, 'PLATFORM_SERVICE_MEDIA_TYPE')
  refused(await call(app, full, 'POST', `${PLATFORM}/lti/courses/ds101/lineitems`, { label: 'x', scoreMaximum: 1 }, SCORE_TYPE), 415, 'PLATFORM_SERVICE_MEDIA_TYPE')
  refused(await call(app, full, 'POST', scores, '{"userId": ', SCORE_TYPE), 400, 'PLATFORM_BAD_REQUEST')
  for (const [what, bad] of [
    ['a negative scoreGiven', { scoreGiven: -1 }],
    ['scoreGiven without scoreMaximum', { scoreMaximum: undefined }],
    ['a zero scoreMaximum', { scoreMaximum: 0 }],
    ['an unknown activityProgress', { activityProgress: 'Done' }],
    ['an unknown gradingProgress', { gradingProgress: 'Graded' }],
    ['a timestamp that is no date', { timestamp: '2026-13-45T12:00:00Z' }],
    ['a timestamp in words', { timestamp: 'yesterday' }],
    ['no timestamp', { timestamp: undefined }],
    ['no userId', { userId: undefined }]
  ] as const) {
    const res = await call(app, full, 'POST', scores, score(claims.sub as string, bad), SCORE_TYPE)
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
    t.equal(res.json().code, 'PLATFORM_SCORE_INVALID', what)
  }
  refused(await call(app, full, 'POST', `${PLATFORM}/lti/courses/ds101/lineitems`, { label: '', scoreMaximum: 1 }, LINEITEM_TYPE), 400, 'PLATFORM_LINEITEM_INVALID')
  refused(await call(app, full, 'POST', `${PLATFORM}/lti/courses/ds101/lineitems`, { label: 'x', scoreMaximum: -3 }, LINEITEM_TYPE), 400, 'PLATFORM_LINEITEM_INVALID')

  // A score only progress (no scoreGiven) is fine; an older one than the kept one is refused.
  t.equal((await call(app, full, 'POST', scores, score(claims.sub as string, { scoreGiven: undefined, scoreMaximum: undefined, activityProgress: 'Started', gradingProgress: 'NotReady', timestamp: '2026-12-02T12:00:00Z' }), SCORE_TYPE)).statusCode, 200)
  t.equal((await call(app, full, 'POST', scores, score(claims.sub as string, { timestamp: '2026-12-02T12:01:00.123456' }), SCORE_TYPE)).statusCode, 200, 'a timestamp without a zone is read as UTC')
  t.equal((await call(app, full, 'POST', scores, score(claims.sub as string, { scoreGiven: '8', scoreMaximum: '10', timestamp: '2026-12-02T12:05:00+0000' }), SCORE_TYPE)).statusCode, 200, 'numbers as strings are read')
  refused(await call(app, full, 'POST', scores, score(claims.sub as string, { timestamp: '2026-12-02T12:04:00Z' }), SCORE_TYPE), 409, 'PLATFORM_SCORE_OUT_OF_ORDER')
  const kept = (await call(app, full, 'GET', `${lineItem}/results`)).json()
  t.equal(kept[0].resultScore, 80, 'the newer score stays')
})

t.test('NRPS leaves names and e-mail out for a tool registered without them, and a tool without a service scope gets no service claims', async (t) => {
  const { app, keys } = await setup(t)
  const claims = await launch(app, 'ada', 'quiet')
  t.same((claims[LTI_CLAIM.agsEndpoint] as { scope: string[] }).scope, [SERVICE_SCOPE.resultReadOnly], 'the AGS claim lists only the scopes the registration allows')
  const token = await accessToken(app, keys.quiet as ToolKeys, 'quiet')
  const members = (await call(app, token, 'GET', `${PLATFORM}/lti/courses/ds101/memberships`)).json().members as Array<Record<string, unknown>>
  t.equal(members.length, 3)
  for (const member of members) {
    t.same(Object.keys(member).sort(), ['roles', 'status', 'user_id'])
  }
  const plain = await launch(app, 'ada', 'test-tool')
  t.notOk(LTI_CLAIM.agsEndpoint in plain, 'no jwks_uri: no services')
  t.notOk(LTI_CLAIM.nrps in plain)
})

t.test('a score kept and a score refused each leave an audit event (platform.grades.score) naming the tool, course and line item', async (t) => {
  const log = logCapture()
  const { app, keys } = await setup(t, { LOG_LEVEL: 'warn' }, undefined, {}, log.stream)
  const claims = await launch(app, 'ada', 'grader')
  const lineItem = (claims[LTI_CLAIM.agsEndpoint] as { lineitem: string }).lineitem
  const token = await accessToken(app, keys.grader as ToolKeys, 'grader')
  t.equal((await call(app, token, 'POST', `${lineItem}/scores`, score(claims.sub as string), SCORE_TYPE)).statusCode, 200)
  t.equal((await call(app, token, 'POST', `${lineItem}/scores`, score('not-a-member'), SCORE_TYPE)).statusCode, 422)
  const events = log.audit().filter((event) => event.type === 'platform.grades.score')
  t.match(events, [
    { outcome: 'success', actor: { client_id: 'grader' }, target: { client_id: 'grader', context_id: 'ds101', line_item: lineItem.split('/').pop() } },
    { outcome: 'failure', error_code: 'PLATFORM_SCORE_USER_NOT_MEMBER' }
  ])
  t.equal(events.length, 2)
  t.notOk(JSON.stringify(events).includes(token), 'the access token is in no event')
})

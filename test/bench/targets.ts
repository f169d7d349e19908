/**
 * The Redis commands one launch needs by the design (DESIGN.md: every
 * one-time value taken atomically, all state in Redis), counted per
 * service step. The bench compares INFO commandstats per launch with this.
 * Two commands that could travel together (one pipeline or MULTI) still
 * count as two commands here, but one round trip.
 */
export const REDIS_NEEDED_PER_LAUNCH: Array<{ step: string, commands: number, why: string }> = [
  { step: 'platform launch API', commands: 1, why: 'SET EX the one-time launch URL' },
  { step: 'platform one-time URL', commands: 2, why: 'GETDEL the launch URL; SET EX the lti_message_hint context' },
  { step: 'tool-auth login', commands: 1, why: 'SET EX state -> {nonce, iss, client_id, target, next}' },
  { step: 'platform authorize', commands: 2, why: 'GETDEL the message hint; SET NX EX the nonce for this client' },
  { step: 'tool-auth callback', commands: 3, why: 'GETDEL state; SET NX EX nonce; SET EX session' },
  { step: 'broker intake', commands: 3, why: 'SET NX idempotency key; SET launch record; XADD (one MULTI: one round trip)' },
  { step: 'broker worker (dry-run)', commands: 4, why: 'XREADGROUP; SET spawning; SET ready; XACK' },
  { step: 'broker status', commands: 1, why: 'GET the record, once per poll or page view' },
  { step: 'tool-auth oauth2 authorize', commands: 2, why: 'GET session; SET EX code' },
  { step: 'tool-auth token', commands: 3, why: 'GETDEL code; SET EX access token; SET EX refresh token (pipelined)' },
  { step: 'tool-auth userinfo', commands: 1, why: 'GET access token' }
]

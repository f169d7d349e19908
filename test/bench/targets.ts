/**
 * The Redis work one launch needs by the design (DESIGN.md: every one-time
 * value taken atomically, all state in Redis, any replica can serve any
 * step), per service step: the commands, and the round trips once the
 * commands that can travel together do (one pipeline). A command that needs
 * the answer of another, or that must not run before a check between them,
 * is a round trip of its own. INFO commandstats also counts the commands a
 * script runs (the lease's release: GET and DEL inside EVAL).
 *
 * The bench compares the round trips of launches made one at a time with
 * this table, and prints the commands per launch under load beside it.
 */
export interface RedisStep { step: string, commands: number, roundTrips: number, why: string }

export const REDIS_NEEDED_PER_LAUNCH: RedisStep[] = [
  { step: 'platform launch API', commands: 1, roundTrips: 1, why: 'SET EX the one-time launch URL' },
  { step: 'platform one-time URL', commands: 3, roundTrips: 2, why: 'GETDEL the URL; then SET EX the launch session + SET EX the message hint' },
  { step: 'tool-auth login', commands: 1, roundTrips: 1, why: 'SET EX state -> {nonce, iss, client_id, target}' },
  { step: 'platform authorize', commands: 3, roundTrips: 2, why: 'GET session + GETDEL hint; then SET NX EX the nonce' },
  { step: 'tool-auth callback', commands: 5, roundTrips: 3, why: 'GETDEL state; (verify) SET NX EX nonce + EVALSHA bind the username to (issuer, sub); (broker) SET EX session + SET EX latest launch' },
  { step: 'broker intake', commands: 4, roundTrips: 3, why: 'SET NX idempotency key + SET NX record; XADD (queue connection); then SET queued marker' },
  { step: 'broker worker (dry run)', commands: 10, roundTrips: 6, why: 'XREADGROUP; SET NX PX lease; GET record; SET spawning; SET ready; XACK + XDEL + EVAL release (GET, DEL)' },
  { step: 'broker progress', commands: 2, roundTrips: 2, why: 'GET the record for the page, and per poll of its event stream' },
  { step: 'tool-auth oauth2 authorize', commands: 2, roundTrips: 2, why: 'GET session; SET EX code' },
  { step: 'tool-auth token', commands: 6, roundTrips: 3, why: 'GETDEL code; SET code-used (reuse revokes); SET grant + GET revoked + SET access + SET refresh token' },
  { step: 'tool-auth userinfo', commands: 3, roundTrips: 2, why: 'GET access token; GET grant + GET latest launch' }
]

// The atomic steps of JobStore, as Lua. Each script that changes a job also appends the matching event and
// publishes it on the job's live channel, so a reader never sees a status without its event (or the reverse).
// Event ids come from the job hash's `eventSeq` counter: stream ids are `<seq>-0`, so they increase by one.
// Scripts assume a single Redis (not Cluster): some keys are derived inside the script.
import { LuaScript } from './lua-script.ts';

const APPEND_EVENT = `
local function append_event(job_key, stream_key, channel, maxlen, job_id, etype, at, data)
  local seq = redis.call('HINCRBY', job_key, 'eventSeq', 1)
  redis.call('XADD', stream_key, 'MAXLEN', '~', maxlen, seq .. '-0', 'type', etype, 'at', at, 'data', data)
  redis.call('PUBLISH', channel, '{"id":' .. seq .. ',"jobId":"' .. job_id .. '","type":"' .. etype .. '","at":"' .. at .. '","data":' .. data .. '}')
  return seq
end
local function is_terminal(s)
  return s == 'succeeded' or s == 'failed' or s == 'cancelled'
end
`;

/**
 * KEYS: job, tenantJobs, countsByStatus, idempotencyKey (or the job key when unused), events
 * ARGV: jobId, (unused), idempotencyValue ('' = none), idempotencyTtlSeconds, liveChannel, maxlen, at,
 *       statusEventData, field1, value1, …
 * Returns {1, jobId} when created, {0, existingIdempotencyValue} when the key was already used.
 */
export const createJobScript = new LuaScript(
  'createJob',
  `${APPEND_EVENT}
if ARGV[3] ~= '' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR job ' .. ARGV[1] .. ' already exists') end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
-- Every member has score 0, so the index is ordered by id, and ids are time-ordered (ids.ts): ZREVRANGEBYLEX
-- pages newest first with an exact, tie-free cursor.
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HINCRBY', KEYS[3], 'queued', 1)
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4]) end
append_event(KEYS[1], KEYS[5], ARGV[5], ARGV[6], ARGV[1], 'status_changed', ARGV[7], ARGV[8])
return {1, ARGV[1]}
`,
);

/**
 * KEYS: job, countsByStatus, events
 * ARGV: to, allowedSourcesCsv, at, isTerminal ('1'|'0'), liveChannel, maxlen, jobId, reasonJson ('' = none),
 *       errorJson ('' = none), resumedFromStep ('' = unchanged)
 * Returns {'ok'|'same'|'invalid'|'missing', previousStatus}.
 */
export const transitionScript = new LuaScript(
  'transition',
  `${APPEND_EVENT}
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {'missing', ''} end
if cur == ARGV[1] then return {'same', cur} end
if not string.find(',' .. ARGV[2] .. ',', ',' .. cur .. ',', 1, true) then return {'invalid', cur} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[3])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[3])
elseif redis.call('HGET', KEYS[1], 'startedAt') == '' and ARGV[1] ~= 'queued' then
  redis.call('HSET', KEYS[1], 'startedAt', ARGV[3])
end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'resumedFromStep', ARGV[10]) end
redis.call('HINCRBY', KEYS[2], cur, -1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[9])
  append_event(KEYS[1], KEYS[3], ARGV[5], ARGV[6], ARGV[7], 'error', ARGV[3], ARGV[9])
end
local data = '{"from":"' .. cur .. '","to":"' .. ARGV[1] .. '"'
if ARGV[8] ~= '' then data = data .. ',"reason":' .. ARGV[8] end
append_event(KEYS[1], KEYS[3], ARGV[5], ARGV[6], ARGV[7], 'status_changed', ARGV[3], data .. '}')
return {'ok', cur}
`,
);

/**
 * KEYS: job, events
 * ARGV: type, at, dataJson, liveChannel, maxlen, jobId, progressJson ('' = not a progress write)
 * Returns the new event id, or 0 when the job does not exist, or -1 when it is terminal and this is progress.
 */
export const appendEventScript = new LuaScript(
  'appendEvent',
  `${APPEND_EVENT}
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return 0 end
if ARGV[7] ~= '' then
  if is_terminal(cur) then return -1 end
  redis.call('HSET', KEYS[1], 'progress', ARGV[7], 'updatedAt', ARGV[2])
end
return append_event(KEYS[1], KEYS[2], ARGV[4], ARGV[5], ARGV[6], ARGV[1], ARGV[2], ARGV[3])
`,
);

/**
 * KEYS: job, artifacts, events
 * ARGV: name, artifactJson, at, liveChannel, maxlen, jobId
 * Returns the event id, or 0 when the job does not exist.
 */
export const addArtifactScript = new LuaScript(
  'addArtifact',
  `${APPEND_EVENT}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
return append_event(KEYS[1], KEYS[3], ARGV[4], ARGV[5], ARGV[6], 'artifact', ARGV[3], ARGV[2])
`,
);

/**
 * KEYS: job, artifacts, events
 * ARGV: name, at, liveChannel, maxlen, jobId, eventDataJson
 * Returns the event id, 0 when the job does not exist, or -1 when the job has no artifact of that name.
 */
export const removeArtifactScript = new LuaScript(
  'removeArtifact',
  `${APPEND_EVENT}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
return append_event(KEYS[1], KEYS[3], ARGV[3], ARGV[4], ARGV[5], 'artifact_removed', ARGV[2], ARGV[6])
`,
);

/**
 * KEYS: job, countsByStatus, events
 * ARGV: at, liveChannel, maxlen, jobId, cancelChannel
 * Returns {'cancelled'} (was queued, now cancelled), {'requested'} (running: flag set and published),
 * {'terminal', status} or {'missing'}.
 */
export const requestCancelScript = new LuaScript(
  'requestCancel',
  `${APPEND_EVENT}
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {'missing'} end
if cur == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelRequested', '1', 'updatedAt', ARGV[1], 'finishedAt', ARGV[1])
  redis.call('HINCRBY', KEYS[2], 'queued', -1)
  redis.call('HINCRBY', KEYS[2], 'cancelled', 1)
  append_event(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4], 'status_changed', ARGV[1], '{"from":"queued","to":"cancelled","reason":"cancelled before it started"}')
  return {'cancelled'}
end
if is_terminal(cur) then return {'terminal', cur} end
local already = redis.call('HGET', KEYS[1], 'cancelRequested') == '1'
redis.call('HSET', KEYS[1], 'cancelRequested', '1', 'updatedAt', ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[4])
if not already then
  append_event(KEYS[1], KEYS[3], ARGV[2], ARGV[3], ARGV[4], 'log', ARGV[1], '{"level":"info","message":"cancellation requested"}')
end
return {'requested'}
`,
);

/**
 * KEYS: job, events, artifacts, countsByStatus, tenantJobs, idempotencyKey (or the job key when none)
 * ARGV: jobId, tenant
 * Returns 1 when deleted, 0 when missing or owned by another tenant.
 */
export const deleteJobScript = new LuaScript(
  'deleteJob',
  `
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if not tenant or tenant ~= ARGV[2] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if KEYS[6] ~= KEYS[1] then
  local idem = redis.call('GET', KEYS[6])
  if idem and string.sub(idem, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then redis.call('DEL', KEYS[6]) end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[4], status, -1)
return 1
`,
);

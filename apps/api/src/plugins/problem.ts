// One error path for the whole app: every error, Fastify's own included, leaves as an RFC 9457 problem
// (`application/problem+json`) with {type, title, status, detail, instance, code, requestId}, plus `errors`
// (field paths) for validation failures. Unknown errors become a generic 500; their details go to the log
// under the request id, never to the client.
import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { MaxRetriesPerRequestError } from 'ioredis';
import { ERROR_CATALOGUE, HifiError, problemType, type ErrorCode } from '@hifi/jobs';
import { InvalidRangeError, NotFoundError, StorageUnavailableError } from '@hifi/storage';
import { fieldErrors } from '../validation.ts';
import type { Problem } from '../schemas.ts';

/** Fastify and plugin error codes → our catalogue. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_ERR_NOT_FOUND: 'NOT_FOUND',
};

function instanceOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, code: ErrorCode, detail: string, extra: Partial<Problem> = {}): FastifyReply {
  const def = ERROR_CATALOGUE[code];
  const problem: Problem = {
    type: problemType(code),
    title: def.title,
    status: def.status,
    detail,
    instance: instanceOf(request),
    code,
    requestId: String(request.id),
    ...extra,
  };
  return reply.code(def.status).type('application/problem+json').send(problem);
}

function isRedisConnectionError(err: Error): boolean {
  return /^(Connection is closed|Stream isn't writeable|connect ECONNREFUSED)/.test(err.message);
}

function isSyntaxErrorFromParser(err: FastifyError): boolean {
  // secure-json-parse throws a SyntaxError that Fastify marks with statusCode 400.
  return err instanceof SyntaxError && err.statusCode === 400;
}

export const problemPlugin = fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.validation) {
        const part = (err.validationContext ?? 'body') as 'body' | 'querystring' | 'params' | 'headers';
        const errors = fieldErrors(err.validation as Parameters<typeof fieldErrors>[0], part);
        const summary = errors
          .slice(0, 3)
          .map((e) => `${e.path} ${e.message}`)
          .join('; ');
        return sendProblem(reply, request, 'VALIDATION_FAILED', `the ${part} is not valid: ${summary}${errors.length > 3 ? '; …' : ''}`, { errors });
      }
      if (err instanceof HifiError) {
        if (err.headers) reply.headers(err.headers);
        if (err.statusCode >= 500) request.log.error({ err }, err.message);
        return sendProblem(reply, request, err.code, err.message, {
          ...(err.param === undefined ? {} : { param: err.param }),
          ...(err.errors === undefined ? {} : { errors: err.errors }),
        });
      }
      const mapped = FASTIFY_CODES[err.code] ?? (isSyntaxErrorFromParser(err) ? 'MALFORMED_JSON' : undefined);
      if (mapped) {
        const detail = mapped === 'MALFORMED_JSON' ? `the body is not valid JSON: ${err.message}` : err.message;
        return sendProblem(reply, request, mapped, detail);
      }
      if (err.statusCode === 429) return sendProblem(reply, request, 'RATE_LIMITED', err.message);
      // Dependencies that are away are a 503 (retry later), not a bug.
      if (err instanceof MaxRetriesPerRequestError || isRedisConnectionError(err)) {
        request.log.warn({ err: err.message }, 'Redis is not available');
        return sendProblem(reply, request, 'NOT_READY', 'Redis is not available; try again shortly');
      }
      if (err instanceof StorageUnavailableError) {
        request.log.warn({ err: err.message }, 'object storage is not available');
        return sendProblem(reply, request, 'STORAGE_UNAVAILABLE', 'object storage is not available; try again shortly');
      }
      if (err instanceof NotFoundError) return sendProblem(reply, request, 'NOT_FOUND', 'the file is not in storage');
      if (err instanceof InvalidRangeError) return sendProblem(reply, request, 'RANGE_NOT_SATISFIABLE', err.message);
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        // A client error from Fastify or a plugin that has no entry of its own: keep its status.
        const code: ErrorCode = err.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : err.statusCode === 415 ? 'UNSUPPORTED_MEDIA' : err.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED';
        return sendProblem(reply, request, code, err.message);
      }
      request.log.error({ err }, 'unhandled error');
      return sendProblem(reply, request, 'INTERNAL', `an internal error occurred; quote request id ${String(request.id)} when reporting it`);
    });

    app.setNotFoundHandler((request, reply) => {
      sendProblem(reply, request, 'NOT_FOUND', `no route ${request.method} ${instanceOf(request)}`);
    });
  },
  { name: 'hifi-problem', fastify: '5.x' },
);


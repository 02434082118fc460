// One error envelope for every failure: {"error": {"code", "message", "request_id", "details"}}.
// Anything unexpected becomes INTERNAL_ERROR without a stack trace; the log keeps the details.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newId } from '../lib/ids.js';
import { API_ERRORS, type ApiErrorCode } from './error-codes.js';

export type ErrorDetail = Record<string, unknown> & { message: string };

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = API_ERRORS[code].status;
  }
}

export const notFound = (what: string) => new ApiError('NOT_FOUND', `${what} not found`);

export function sendError(reply: FastifyReply, req: FastifyRequest, e: ApiError) {
  return reply
    .code(e.status)
    .headers(e.headers)
    .type('application/json; charset=utf-8')
    .send({ error: { code: e.code, message: e.message, request_id: req.id, details: e.details } });
}

type AjvIssue = { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> };

function validationDetails(error: FastifyError): ErrorDetail[] {
  const part = error.validationContext ?? 'body';
  return ((error.validation ?? []) as AjvIssue[]).map((v) => {
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const field = [part, path].filter(Boolean).join('.');
    if (v.keyword === 'additionalProperties') {
      const name = String(v.params['additionalProperty']);
      return { field: `${field ? `${field}.` : ''}${name}`, message: `unknown field "${name}"` };
    }
    if (v.keyword === 'required') {
      const name = String(v.params['missingProperty']);
      return { field: `${field ? `${field}.` : ''}${name}`, message: 'is required' };
    }
    return { field, message: v.message ?? 'is invalid' };
  });
}

/** Maps framework errors (bad JSON, oversize body, schema failures) to documented codes. */
export function toApiError(error: FastifyError | ApiError | Error): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const e = error as FastifyError;
  if (e.validation) {
    const details = validationDetails(e);
    return new ApiError('VALIDATION_FAILED', details.map((d) => `${d['field']}: ${d.message}`).join('; ') || 'invalid request', details);
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('MALFORMED_JSON', 'the body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('VALIDATION_FAILED', 'Content-Length does not match the body');
  }
  if (e.statusCode === 429) return new ApiError('RATE_LIMITED', e.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError('VALIDATION_FAILED', e.message);
  }
  return undefined;
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const known = toApiError(error);
    if (known) {
      if (known.status >= 500) req.log.error({ err: error }, known.message);
      return sendError(reply, req, known);
    }
    req.log.error({ err: error }, 'unhandled error');
    return sendError(reply, req, new ApiError('INTERNAL_ERROR', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, req, new ApiError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
}

/**
 * Errors Fastify raises before routing (Fastify's `frameworkErrors` option), which would otherwise answer in
 * Fastify's own shape without a request id: a path that is not valid percent-encoding or a path parameter
 * over the router's length limit names no object, so it is a 404 like any other unknown id.
 */
export function frameworkError(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  reply.header('x-request-id', req.id);
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendError(reply, req, new ApiError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  }
  req.log.error({ err: error }, 'framework error');
  return sendError(reply, req, new ApiError('INTERNAL_ERROR', 'internal error'));
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (Fastify's `clientErrorHandler` option): an
 * invalid Content-Length, Content-Length together with Transfer-Encoding, an unknown method, bytes that are
 * not HTTP. Fastify's default answers those in its own shape without a request id; this answers them with the
 * error envelope. A timeout (408) and oversized headers (431) keep their statuses, which no API code has yet.
 */
export function clientError(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = newId('request');
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, undefined, 'the request did not arrive in time']
    : error.code === 'HPE_HEADER_OVERFLOW' ? [431, undefined, 'the request headers are too large']
    : [400, 'VALIDATION_FAILED' as const, 'the request is not valid HTTP'];
  const body = JSON.stringify(
    code
      ? { error: { code, message, request_id: requestId, details: [] } }
      : { error: STATUS_CODES[status], message, statusCode: status, request_id: requestId },
  );
  this.log.debug({ err: error, request_id: requestId }, 'client error');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nx-request-id: ${requestId}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

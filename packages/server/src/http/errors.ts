/**
 * The one place where errors become Google's REST envelope:
 * `{"error":{"code":404,"message":"Resource not found (resource=t1).","status":"NOT_FOUND"}}`
 * (reference/pubsub.md, "Errors"). Anything that is not an ApiError is a bug: it is logged and
 * answered as INTERNAL without its message.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, HTTP_STATUS, type Status } from '../domain/errors.ts';

export interface ErrorEnvelope {
  error: { code: number; message: string; status: Status; details?: Record<string, unknown>[] };
}

/**
 * Errors with per-item detail (exactly-once ack failures) carry google.rpc.ErrorInfo in
 * `details`, as Google's REST front end writes it; others have no details.
 */
export function envelope(error: ApiError): ErrorEnvelope {
  const body: ErrorEnvelope['error'] = { code: HTTP_STATUS[error.status], message: error.message, status: error.status };
  if (error.reason && error.metadata) {
    body.details = [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: error.reason, domain: 'pubsub.googleapis.com', metadata: error.metadata },
    ];
  }
  return { error: body };
}

/** Maps what Fastify itself refuses (body too large, bad URL, ...) to Google's statuses. */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const fastify = error as Partial<FastifyError>;
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Google's text for an oversized request.
      return new ApiError('INVALID_ARGUMENT', `Request payload size exceeds the limit: ${BODY_LIMIT_TEXT} bytes.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new ApiError('INVALID_ARGUMENT', fastify.message ?? 'Invalid request.');
  }
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return new ApiError('INVALID_ARGUMENT', fastify.message ?? 'Invalid request.');
  }
  return undefined;
}

export const BODY_LIMIT = 16 * 1024 * 1024;
const BODY_LIMIT_TEXT = String(BODY_LIMIT);

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = toApiError(error);
  if (known) return reply.code(known.httpStatus).type('application/json').send(envelope(known));
  request.log.error({ err: error }, 'internal error');
  const internal = new ApiError('INTERNAL', 'Internal error encountered.');
  return reply.code(500).type('application/json').send(envelope(internal));
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers too large, malformed
 * request line): answered in Google's envelope too, then the connection is closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const message =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'The request line and headers are larger than the server accepts.'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'The request was not received in time.'
        : 'The request could not be parsed as HTTP.';
  const body = JSON.stringify(envelope(new ApiError('INVALID_ARGUMENT', message)));
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

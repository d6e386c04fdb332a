/**
 * Unary handlers: decode the request into the domain's shape, call the broker, encode the
 * answer; every error goes through toServiceError.
 */
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { fromProto, toProto } from './convert.ts';
import { toServiceError } from './errors.ts';

export type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/**
 * A unary method from request type to response type. A null request type passes the request
 * as proto-loader decoded it (for Publish, whose messages need no conversion: the generic walk
 * cost a few percent of publish CPU).
 */
export function unary(
  logger: Logger,
  requestType: string | null,
  responseType: string,
  fn: (request: Record<string, any>, call: ServerUnaryCall<unknown, unknown>) => Promise<unknown>,
): UnaryHandler {
  return (call, callback) => {
    let request: Record<string, any>;
    try {
      request = requestType === null ? (call.request as Record<string, any>) : fromProto(requestType, call.request);
    } catch (error) {
      callback(toServiceError(error, logger) as never);
      return;
    }
    fn(request, call).then(
      (result) => callback(null, toProto(responseType, result ?? {})),
      (error: unknown) => callback(toServiceError(error, logger) as never),
    );
  };
}


export function page<T>(key: string, result: { items: T[]; nextPageToken?: string }, encode: (after: string) => string) {
  return { [key]: result.items, ...(result.nextPageToken ? { nextPageToken: encode(result.nextPageToken) } : {}) };
}

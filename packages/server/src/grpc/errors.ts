/**
 * The one place where errors become gRPC statuses: the canonical code of the ApiError's status
 * (@google-cloud/pubsub relies on NOT_FOUND = 5 and ALREADY_EXISTS = 6, reference/pubsub.md),
 * its message as details, and google.rpc.ErrorInfo in `grpc-status-details-bin` when the
 * error carries per-item metadata (exactly-once ack failures, read by the client's
 * ack-metadata.ts).
 */
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ApiError, GRPC_CODE } from '../domain/errors.ts';
import { loadProtoRoot } from '../protos.ts';

export function toServiceError(error: unknown, logger: Logger): Partial<ServiceError> {
  if (!(error instanceof ApiError)) {
    logger.error({ err: error }, 'grpc: internal error');
    return { code: GrpcStatus.INTERNAL, details: 'Internal error encountered.' };
  }
  const code = GRPC_CODE[error.status];
  const metadata = new Metadata();
  if (error.metadata || error.reason) {
    const root = loadProtoRoot();
    const info = root.lookupType('google.rpc.ErrorInfo');
    const status = root.lookupType('google.rpc.Status');
    // protobufjs bundles google.protobuf.Any with its proto field names (type_url).
    const any = {
      type_url: 'type.googleapis.com/google.rpc.ErrorInfo',
      value: info.encode({ reason: error.reason ?? error.status, domain: 'pubsub.googleapis.com', metadata: error.metadata ?? {} }).finish(),
    };
    // encode() without fromObject(): protobufjs' Any wrapper would drop the type url.
    const encoded = status.encode({ code, message: error.message, details: [any] }).finish();
    metadata.set('grpc-status-details-bin', Buffer.from(encoded));
  }
  return { code, details: error.message, metadata };
}

/**
 * The one error type of the domain. Status names are Google's canonical codes
 * (google/rpc/code.proto); each transport converts them to the wire in one place.
 */
export type Status =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

/** Canonical gRPC code numbers, google/rpc/code.proto. */
export const GRPC_CODE: Record<Status, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** HTTP status for each canonical code, as Google's REST front end maps them. */
export const HTTP_STATUS: Record<Status, number> = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

export interface ApiErrorOptions {
  /** Extra detail for transports that carry it (Gmail's `errors[].reason`, gRPC ErrorInfo). */
  reason?: string;
  /** google.rpc.ErrorInfo metadata, e.g. per-ack-id failures under exactly-once delivery. */
  metadata?: Record<string, string>;
  cause?: unknown;
}

export class ApiError extends Error {
  readonly status: Status;
  readonly reason?: string;
  readonly metadata?: Record<string, string>;

  constructor(status: Status, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.reason = options.reason;
    this.metadata = options.metadata;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.status];
  }
}

export const invalidArgument = (message: string): ApiError => new ApiError('INVALID_ARGUMENT', message);

/** Pub/Sub's production wording for a missing resource: "Resource not found (resource=t1)." */
export const resourceNotFound = (id: string): ApiError =>
  new ApiError('NOT_FOUND', `Resource not found (resource=${id}).`);

/** Pub/Sub's production wording, e.g. nodejs-getting-started#351. */
export const resourceExists = (id: string): ApiError =>
  new ApiError('ALREADY_EXISTS', `Resource already exists in the project (resource=${id}).`);

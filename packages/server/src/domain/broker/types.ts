/**
 * Domain shapes of the broker. Resources keep the field names of the proto (camelCase) so that
 * updates by field mask apply directly; durations stay in their canonical JSON form ("600s")
 * and are read with durationMs(). Message data is a Buffer, times are epoch milliseconds.
 */
export interface Topic {
  name: string;
  labels?: Record<string, string>;
  messageRetentionDuration?: string;
  messageStoragePolicy?: Record<string, unknown>;
  kmsKeyName?: string;
  schemaSettings?: Record<string, unknown>;
  satisfiesPzs?: boolean;
  state?: string;
  ingestionDataSourceSettings?: Record<string, unknown>;
  messageTransforms?: unknown[];
  [field: string]: unknown;
}

export interface PushConfig {
  pushEndpoint?: string;
  attributes?: Record<string, string>;
  oidcToken?: { serviceAccountEmail?: string; audience?: string };
  pubsubWrapper?: Record<string, never>;
  noWrapper?: { writeMetadata?: boolean };
}

export interface DeadLetterPolicy {
  deadLetterTopic?: string;
  maxDeliveryAttempts?: number;
}

export interface RetryPolicy {
  minimumBackoff?: string;
  maximumBackoff?: string;
}

export interface Subscription {
  name: string;
  topic: string;
  pushConfig: PushConfig;
  ackDeadlineSeconds: number;
  retainAckedMessages?: boolean;
  messageRetentionDuration: string;
  labels?: Record<string, string>;
  enableMessageOrdering?: boolean;
  expirationPolicy?: { ttl?: string };
  filter?: string;
  deadLetterPolicy?: DeadLetterPolicy;
  retryPolicy?: RetryPolicy;
  detached?: boolean;
  enableExactlyOnceDelivery?: boolean;
  topicMessageRetentionDuration?: string;
  state: 'ACTIVE' | 'RESOURCE_ERROR';
  [field: string]: unknown;
}

export interface NewMessage {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey?: string;
}

export interface Message extends NewMessage {
  /** Decimal string of the broker-wide sequence number. */
  messageId: string;
  publishTime: number;
}

export interface ReceivedMessage {
  ackId: string;
  message: Message;
  /** 1 + nacks + expiries; reported only when a dead-letter policy is set. */
  deliveryAttempt: number;
}

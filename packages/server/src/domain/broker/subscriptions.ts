/**
 * Subscription resources: the defaults Google fills in, the bounds it enforces, and what an
 * update mask may change. Facts from reference/pubsub.md ("Defaults and limits") and the
 * emulator probes in test/differential/EMULATOR_NOTES.md; texts are production's where known.
 */
import { DAY, MINUTE, durationMs } from '../duration.ts';
import { ApiError, invalidArgument } from '../errors.ts';
import { parseFilter } from './filter.ts';
import { invalidName, parseName } from './names.ts';
import { DEFAULT_MAX_BACKOFF, DEFAULT_MIN_BACKOFF } from './retry.ts';
import { camel, stripDefaults } from './topics.ts';
import type { PushConfig, Subscription } from './types.ts';

export const DEFAULT_ACK_DEADLINE_SECONDS = 10;
export const MAX_ACK_DEADLINE_SECONDS = 600;
export const DEFAULT_RETENTION = '604800s';
/** Production's default: a subscription expires after 31 days without activity. */
export const DEFAULT_EXPIRATION_TTL = '2678400s';
export const DEFAULT_MAX_DELIVERY_ATTEMPTS = 5;

const MIN_RETENTION = 10 * MINUTE;
const MAX_RETENTION = 31 * DAY;
const MIN_TTL = DAY;
const MAX_BACKOFF = 600_000;

const MUTABLE = new Set([
  'ack_deadline_seconds',
  'push_config',
  'retain_acked_messages',
  'message_retention_duration',
  'labels',
  'expiration_policy',
  'dead_letter_policy',
  'retry_policy',
  'enable_exactly_once_delivery',
]);
const IMMUTABLE = new Set(['name', 'topic', 'enable_message_ordering', 'filter', 'detached']);
const OUTPUT_ONLY = ['detached', 'state', 'topicMessageRetentionDuration', 'analyticsHubSubscriptionInfo'];

/**
 * Validates a decoded Subscription for creation under `name` and fills in Google's defaults.
 * Topic and dead-letter topic existence are checked by the service, which knows the store.
 */
export function normalizeSubscription(name: string, input: Record<string, unknown>): Subscription {
  parseName(name, 'subscriptions');
  if (input.name !== undefined && input.name !== name) throw invalidName(String(input.name));
  const given = stripDefaults(input);
  for (const field of OUTPUT_ONLY) delete given[field];
  parseName(given.topic ?? '', 'topics');
  const sub = {
    ...given,
    name,
    pushConfig: (given.pushConfig as PushConfig | undefined) ?? {},
    ackDeadlineSeconds: given.ackDeadlineSeconds ?? DEFAULT_ACK_DEADLINE_SECONDS,
    messageRetentionDuration: given.messageRetentionDuration ?? DEFAULT_RETENTION,
    expirationPolicy: given.expirationPolicy ?? { ttl: DEFAULT_EXPIRATION_TTL },
    state: 'ACTIVE',
  } as Subscription;
  if (sub.filter !== undefined) parseFilter(sub.filter);
  return withPolicyDefaults(validated(sub));
}

/** The subscription after an update; `paths` are snake_case field paths. */
export function applySubscriptionUpdate(
  current: Subscription,
  patch: Record<string, unknown>,
  paths: readonly string[],
): Subscription {
  if (paths.length === 0) {
    throw invalidArgument('The update_mask in the UpdateSubscriptionRequest must be set, and must contain a non-empty paths list.');
  }
  if (patch.name !== undefined && patch.name !== current.name) throw invalidName(String(patch.name));
  const given = stripDefaults(patch);
  const next: Subscription = { ...current };
  for (const path of paths) {
    const field = path.split('.')[0];
    if (IMMUTABLE.has(field)) {
      throw invalidArgument(`Invalid update_mask provided in the UpdateSubscriptionRequest: the ${field} field in the Subscription is not mutable.`);
    }
    if (!MUTABLE.has(field)) {
      throw invalidArgument(
        `Invalid update_mask provided in the UpdateSubscriptionRequest: ${path} is not a known Subscription field. Note that field paths must be of the form 'push_config' rather than 'pushConfig'.`,
      );
    }
    const key = camel(field);
    const value = given[key];
    // A path without a value resets the field to its default (EMULATOR_NOTES.md).
    if (value !== undefined) next[key] = value;
    else if (key === 'pushConfig') next.pushConfig = {};
    else if (key === 'ackDeadlineSeconds') next.ackDeadlineSeconds = DEFAULT_ACK_DEADLINE_SECONDS;
    else if (key === 'messageRetentionDuration') next.messageRetentionDuration = DEFAULT_RETENTION;
    else delete next[key];
  }
  return withPolicyDefaults(validated(next));
}

/** Validates the push config of a modifyPushConfig request or a subscription. */
export function validatePushConfig(config: PushConfig): PushConfig {
  if (config.pushEndpoint !== undefined && config.pushEndpoint !== '') {
    let url: URL | undefined;
    try {
      url = new URL(config.pushEndpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw invalidArgument(
        `Invalid push endpoint given (endpoint=${config.pushEndpoint}). Refer to https://cloud.google.com/pubsub/docs/create-push-subscription#properties_of_a_push_subscription for more information.`,
      );
    }
  }
  if (config.oidcToken && !config.oidcToken.serviceAccountEmail) {
    throw invalidArgument('An OIDC token needs a service_account_email to sign as.');
  }
  return config;
}

function validated(sub: Subscription): Subscription {
  const ack = sub.ackDeadlineSeconds;
  if (!Number.isInteger(ack) || ack < DEFAULT_ACK_DEADLINE_SECONDS || ack > MAX_ACK_DEADLINE_SECONDS) {
    throw invalidArgument(
      `Invalid ack deadline given (ack_deadline=${ack}). The ack deadline must be between ${DEFAULT_ACK_DEADLINE_SECONDS} and ${MAX_ACK_DEADLINE_SECONDS} seconds.`,
    );
  }
  const retention = durationMs(sub.messageRetentionDuration);
  if (retention < MIN_RETENTION || retention > MAX_RETENTION) {
    throw invalidArgument(
      `Invalid message_retention_duration given (message_retention_duration=${sub.messageRetentionDuration}). It must be between 10 minutes and 31 days.`,
    );
  }
  const ttl = sub.expirationPolicy?.ttl;
  if (ttl !== undefined && durationMs(ttl) < MIN_TTL) {
    throw invalidArgument(`Invalid expiration_policy given (ttl=${ttl}). The TTL must be at least 1 day.`);
  }
  validatePushConfig(sub.pushConfig);
  const dlq = sub.deadLetterPolicy;
  if (dlq?.maxDeliveryAttempts !== undefined) {
    // The emulator's texts and status (EMULATOR_NOTES.md); production also uses OUT_OF_RANGE.
    const n = dlq.maxDeliveryAttempts;
    if (n < 5) {
      throw new ApiError('OUT_OF_RANGE', `The value for max_delivery_attempts is too small. You passed ${n} in the request, but the minimum value is 5.`);
    }
    if (n > 100) {
      throw new ApiError('OUT_OF_RANGE', `The value for max_delivery_attempts is too large. You passed ${n} in the request, but the maximum value is 100.`);
    }
  }
  const retry = sub.retryPolicy;
  if (retry) {
    for (const [field, value] of [
      ['minimum_backoff', retry.minimumBackoff],
      ['maximum_backoff', retry.maximumBackoff],
    ] as const) {
      if (value === undefined) continue;
      const ms = durationMs(value);
      if (ms < 0 || ms > MAX_BACKOFF) {
        throw invalidArgument(`The value for ${field} is out of bounds. You passed ${value} in the request, but the value must be between 0s and 600s.`);
      }
    }
    const min = retry.minimumBackoff ?? DEFAULT_MIN_BACKOFF;
    const max = retry.maximumBackoff ?? DEFAULT_MAX_BACKOFF;
    if (durationMs(max) < durationMs(min)) {
      throw invalidArgument(`The value for maximum_backoff is too small. You passed ${max} in the request, but the minimum value is ${min}.`);
    }
  }
  return sub;
}

function withPolicyDefaults(sub: Subscription): Subscription {
  const next = { ...sub };
  if (next.deadLetterPolicy) {
    next.deadLetterPolicy = { maxDeliveryAttempts: DEFAULT_MAX_DELIVERY_ATTEMPTS, ...next.deadLetterPolicy };
  }
  if (next.retryPolicy) {
    next.retryPolicy = { minimumBackoff: DEFAULT_MIN_BACKOFF, maximumBackoff: DEFAULT_MAX_BACKOFF, ...next.retryPolicy };
  }
  return next;
}

/** When the subscription expires if nothing happens from `now` on; null = never. */
export function expiresAt(sub: Subscription, now: number): number | null {
  const ttl = sub.expirationPolicy?.ttl;
  return ttl === undefined ? null : now + durationMs(ttl);
}

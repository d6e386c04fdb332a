/**
 * Broker shapes <-> proto3 JSON as Google's REST front end writes it: bytes in standard padded
 * base64, timestamps RFC 3339 in UTC, fields at their default value left out, and an empty
 * response `{}` (reference/pubsub.md, "JSON mapping").
 */
import type { Policy } from '../../domain/broker/iam.ts';
import { encodePageToken } from '../../domain/broker/page-token.ts';
import type { Snapshot } from '../../domain/broker/snapshots.ts';
import type { Page } from '../../storage/ports.ts';
import type { NewMessage, ReceivedMessage, Subscription, Topic } from '../../domain/broker/types.ts';

export const EMPTY = Object.freeze({});

export function publishTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function wireTopic(topic: Topic): Record<string, unknown> {
  return topic;
}

export function wireSubscription(sub: Subscription): Record<string, unknown> {
  return sub;
}

export function wirePage<T>(key: string, page: Page<T>, map: (item: T) => unknown = (x) => x): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (page.items.length > 0) out[key] = page.items.map(map);
  if (page.nextPageToken) out.nextPageToken = encodePageToken(page.nextPageToken);
  return out;
}

export function wireReceived(received: ReceivedMessage, withDeliveryAttempt: boolean): Record<string, unknown> {
  const m = received.message;
  const message: Record<string, unknown> = {};
  if (m.data.length > 0) message.data = m.data.toString('base64');
  if (Object.keys(m.attributes).length > 0) message.attributes = m.attributes;
  message.messageId = m.messageId;
  message.publishTime = publishTime(m.publishTime);
  if (m.orderingKey) message.orderingKey = m.orderingKey;
  const out: Record<string, unknown> = { ackId: received.ackId, message };
  // deliveryAttempt only with a dead-letter policy (reference/pubsub.md, "Defaults and limits").
  if (withDeliveryAttempt) out.deliveryAttempt = received.deliveryAttempt;
  return out;
}

/** A decoded PubsubMessage (data as Buffer) as the broker takes it. */
export function readMessage(input: Record<string, unknown>): NewMessage {
  const data = input.data instanceof Buffer ? input.data : Buffer.alloc(0);
  const attributes = (input.attributes as Record<string, string> | undefined) ?? {};
  const orderingKey = typeof input.orderingKey === 'string' && input.orderingKey !== '' ? input.orderingKey : undefined;
  return orderingKey ? { data, attributes, orderingKey } : { data, attributes };
}

export function wirePolicy(policy: Policy): Record<string, unknown> {
  const out: Record<string, unknown> = { version: policy.version };
  if (policy.bindings.length > 0) out.bindings = policy.bindings;
  out.etag = policy.etag.toString('base64');
  return out;
}

export function wireSnapshot(snapshot: Snapshot): Record<string, unknown> {
  return {
    name: snapshot.name,
    topic: snapshot.topic,
    expireTime: publishTime(snapshot.expireTime),
    ...(snapshot.labels ? { labels: snapshot.labels } : {}),
  };
}

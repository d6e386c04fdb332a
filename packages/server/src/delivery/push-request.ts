/**
 * One push attempt: the HTTP request Pub/Sub sends to a push endpoint for one message, and
 * what the endpoint's answer means. buildPushRequest is pure; sendPush takes fetch as a
 * parameter so tests can stand in for the network.
 *
 * Sources for the wire format:
 * - Wrapped body: https://cloud.google.com/pubsub/docs/push ("Receive messages"), and bodies
 *   captured from production, e.g. GoogleCloudPlatform/functions-framework-python#170 (a message
 *   with an ordering key and no attributes) and influxdata/telegraf's google_cloud_iot test
 *   fixture (a message with attributes). Both are compact JSON in this key order.
 * - Unwrapped: https://cloud.google.com/pubsub/docs/payload-unwrapping and the proto comment on
 *   PushConfig.NoWrapper.write_metadata: "writes the Pub/Sub message metadata to
 *   x-goog-pubsub-<KEY>:<VAL> headers ... Writes the Pub/Sub message attributes to <KEY>:<VAL>
 *   headers of the HTTP request."
 */

export interface PushConfig {
  pushEndpoint: string;
  /**
   * Endpoint attributes. The only one Google supports is `x-goog-version`: "v1beta1" selects the
   * v1beta1 push format, "v1" or "v1beta2" the v1 format (proto comment on
   * PushConfig.attributes). mailwatch always sends the v1 format: the v1beta1 format is not
   * documented anywhere we found. These attributes are configuration, never sent as headers.
   */
  attributes?: Record<string, string>;
  oidcToken?: { serviceAccountEmail?: string; audience?: string };
  noWrapper?: { writeMetadata?: boolean };
}

export interface PushMessage {
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey?: string;
  /** Milliseconds since the epoch. */
  publishTime: number;
}

export interface PushRequest {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

/**
 * The user agent of Google's push deliveries. Google documents it without the semicolon
 * ("User-Agent: APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)",
 * https://developers.google.com/search/docs/crawling-indexing/apis-user-agent), but requests
 * from Pub/Sub push as logged by receivers carry "APIs-Google; (+...)" (an nginx access log of a
 * Play RTDN push, Cloud Run request logs, DataDog/dd-trace-js push tests). We send what arrives.
 */
export const PUSH_USER_AGENT = 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)';

/** Pub/Sub counts these statuses as an ack; anything else is a nack (https://cloud.google.com/pubsub/docs/push). */
const ACK_STATUSES: ReadonlySet<number> = new Set([102, 200, 201, 202, 204]);

export function isAckStatus(status: number): boolean {
  return ACK_STATUSES.has(status);
}

/**
 * Builds the request Pub/Sub would send. `deliveryAttempt` is given only when the subscription
 * has a dead-letter policy; Google leaves the field out otherwise. `authorization` is a signed
 * OIDC token (see oidc.ts) and becomes `Authorization: Bearer <jwt>`.
 */
export function buildPushRequest(
  subscription: string,
  config: PushConfig,
  message: PushMessage,
  deliveryAttempt: number | undefined,
  authorization?: string,
): PushRequest {
  const publishTime = formatPublishTime(message.publishTime);
  let headers: Record<string, string>;
  let body: string | Buffer;

  if (config.noWrapper) {
    // The body is the raw data. No delivery attempt is written: Google documents no header for it.
    headers = {};
    if (config.noWrapper.writeMetadata) {
      // Attributes first, so that the metadata and the headers below win over an attribute of
      // the same name.
      for (const [key, value] of Object.entries(message.attributes)) {
        if (isWritableAttributeHeader(key)) headers[key] = headerValue(value);
      }
      headers['x-goog-pubsub-subscription-name'] = subscription;
      headers['x-goog-pubsub-message-id'] = message.messageId;
      headers['x-goog-pubsub-publish-time'] = publishTime;
      if (message.orderingKey) headers['x-goog-pubsub-ordering-key'] = headerValue(message.orderingKey);
    }
    body = message.data;
  } else {
    headers = { 'content-type': 'application/json' };
    body = JSON.stringify(wrappedBody(subscription, message, publishTime, deliveryAttempt));
  }

  headers['user-agent'] = PUSH_USER_AGENT;
  if (authorization !== undefined) headers['authorization'] = `Bearer ${authorization}`;
  return { url: config.pushEndpoint, headers, body };
}

/**
 * The wrapped body, keys in Google's order. Like proto3 JSON, empty fields are left out:
 * `attributes` when there are none (functions-framework-python#170 shows such a body from
 * production) and `data` when it is empty (an attribute-only message; see
 * functions-framework-nodejs#782). `messageId`/`publishTime` are repeated in snake_case, as
 * Google does for older receivers.
 */
function wrappedBody(
  subscription: string,
  message: PushMessage,
  publishTime: string,
  deliveryAttempt: number | undefined,
): object {
  const inner: Record<string, unknown> = {};
  if (Object.keys(message.attributes).length > 0) inner.attributes = message.attributes;
  if (message.data.length > 0) inner.data = message.data.toString('base64');
  inner.messageId = message.messageId;
  inner.message_id = message.messageId;
  if (message.orderingKey) inner.orderingKey = message.orderingKey;
  inner.publishTime = publishTime;
  inner.publish_time = publishTime;

  const outer: Record<string, unknown> = { message: inner, subscription };
  if (deliveryAttempt !== undefined) outer.deliveryAttempt = deliveryAttempt;
  return outer;
}

/**
 * RFC 3339 in UTC with millisecond precision, as in Google's examples and captured bodies
 * ("2021-02-26T19:13:55.749Z"). We store milliseconds, so three digits are all there is; we keep
 * them even at a whole second (".000Z") because receivers parse with a fixed fractional format.
 */
function formatPublishTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers an attribute may not set: connection framing (a wrong Content-Length or Host would
 * break the request) and the headers this module owns. Any other attribute name that is a valid
 * HTTP token is written as is, including Content-Type, which an unwrapped push does not set.
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-connection',
  'user-agent',
  'authorization',
]);

function isWritableAttributeHeader(key: string): boolean {
  if (!TOKEN.test(key)) return false; // Not expressible as a header name; fetch would throw.
  const lower = key.toLowerCase();
  return !RESERVED_HEADERS.has(lower) && !lower.startsWith('x-goog-pubsub-');
}

/**
 * fetch takes header values as byte strings (no code point above 255) and rejects CR, LF and
 * NUL. We send the UTF-8 bytes of the value, which is what a receiver decoding UTF-8 expects,
 * and replace the three forbidden characters with a space.
 */
function headerValue(value: string): string {
  return Buffer.from(value.replace(/[\r\n\0]/g, ' '), 'utf8').toString('latin1');
}

export type PushOutcome = { ack: true; status: number } | { ack: false; status?: number; error?: string };

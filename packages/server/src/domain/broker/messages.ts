/**
 * Publish request limits (reference/pubsub.md, "Defaults and limits"): at most 1,000 messages
 * and 10 MB per request; each message carries data or at least one attribute; at most 100
 * attributes, keys up to 256 bytes, values up to 1,024 bytes; all messages of one request
 * share one ordering key (or none).
 */
import { ApiError, invalidArgument } from '../errors.ts';
import type { NewMessage } from './types.ts';

export const MAX_MESSAGES_PER_PUBLISH = 1000;
export const MAX_PUBLISH_BYTES = 10 * 1000 * 1000;
export const MAX_ATTRIBUTES = 100;
export const MAX_ATTRIBUTE_KEY_BYTES = 256;
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
export const MAX_ORDERING_KEY_BYTES = 1024;

export function validatePublish(messages: readonly NewMessage[]): void {
  // The emulator's texts for these two (EMULATOR_NOTES.md).
  if (messages.length === 0) throw invalidArgument('No messages to publish');
  if (messages.length > MAX_MESSAGES_PER_PUBLISH) {
    throw invalidArgument(`Too many messages to publish: ${messages.length} (at most ${MAX_MESSAGES_PER_PUBLISH}).`);
  }
  let bytes = 0;
  const key = messages[0].orderingKey ?? '';
  for (const message of messages) {
    const attributes = Object.entries(message.attributes);
    if (message.data.length === 0 && attributes.length === 0) throw invalidArgument('Some messages are empty');
    if (attributes.length > MAX_ATTRIBUTES) {
      throw invalidArgument(`Too many attributes in a message: ${attributes.length} (at most ${MAX_ATTRIBUTES}).`);
    }
    bytes += message.data.length + Buffer.byteLength(message.orderingKey ?? '');
    for (const [k, v] of attributes) {
      const keyBytes = Buffer.byteLength(k);
      if (keyBytes === 0) throw invalidArgument('Attribute keys must not be empty.');
      if (keyBytes > MAX_ATTRIBUTE_KEY_BYTES) {
        throw invalidArgument(`An attribute key is ${keyBytes} bytes long; the limit is ${MAX_ATTRIBUTE_KEY_BYTES} bytes.`);
      }
      const valueBytes = Buffer.byteLength(v);
      if (valueBytes > MAX_ATTRIBUTE_VALUE_BYTES) {
        throw invalidArgument(`The value of attribute ${k} is ${valueBytes} bytes long; the limit is ${MAX_ATTRIBUTE_VALUE_BYTES} bytes.`);
      }
      bytes += keyBytes + valueBytes;
    }
    if (Buffer.byteLength(message.orderingKey ?? '') > MAX_ORDERING_KEY_BYTES) {
      throw invalidArgument(`An ordering key is longer than ${MAX_ORDERING_KEY_BYTES} bytes.`);
    }
    if ((message.orderingKey ?? '') !== key) {
      // Production's status and text (yoshidan/google-cloud-rust#226).
      throw new ApiError(
        'FAILED_PRECONDITION',
        'In a single publish request, all messages must have no ordering key or they must all have the same ordering key.',
      );
    }
  }
  if (bytes > MAX_PUBLISH_BYTES) {
    throw new ApiError('INVALID_ARGUMENT', `Request payload size exceeds the limit: ${MAX_PUBLISH_BYTES} bytes.`);
  }
}

/**
 * Ack ids. Each delivery gets its own id, `<subscription id>-<message seq>-<delivery count>`,
 * so an ack or modack for an earlier delivery of the same message is recognised as stale and
 * ignored (invariant 5; the race pstest had, google-cloud-go#10707).
 */
import { ApiError } from '../errors.ts';
import type { AckRef } from '../../storage/ports.ts';

const ACK_ID = /^(\d{1,15})-(\d{1,15})-(\d{1,9})$/;

export function formatAckId(subscriptionId: number, seq: number, deliveryCount: number): string {
  return `${subscriptionId}-${seq}-${deliveryCount}`;
}

/** Production's wording for an ack id it cannot read. */
export const invalidAckId = (ackId: string): ApiError =>
  new ApiError('INVALID_ARGUMENT', `You have passed an invalid ack ID to the service (ack_id=${ackId}).`);

/**
 * Decodes every id or rejects the whole request: one bad id among good ones acknowledges
 * nothing (the emulator does the same; EMULATOR_NOTES.md). An id of another subscription is
 * invalid here too.
 */
export function parseAckIds(ackIds: readonly string[], subscriptionId: number): AckRef[] {
  return ackIds.map((ackId) => {
    const ref = parseAckId(ackId, subscriptionId);
    if (!ref) throw invalidAckId(ackId);
    return ref;
  });
}

/** One ack id, or undefined when it is malformed or of another subscription. */
export function parseAckId(ackId: string, subscriptionId: number): AckRef | undefined {
  const match = ACK_ID.exec(ackId);
  if (!match || Number(match[1]) !== subscriptionId) return undefined;
  return { seq: Number(match[2]), deliveryCount: Number(match[3]) };
}

/**
 * Exactly-once delivery: acks and modacks on ids that are expired, already used or malformed
 * fail one by one. The client reads google.rpc.ErrorInfo, whose metadata maps each failed id
 * to PERMANENT_FAILURE_INVALID_ACK_ID (@google-cloud/pubsub src/ack-metadata.ts; reference/
 * pubsub.md, "Exactly-once ack errors"); the ids that succeeded are not listed.
 */
export function exactlyOnceFailure(failed: readonly string[]): ApiError {
  return new ApiError(
    'INVALID_ARGUMENT',
    'Some acknowledgement ids in the request were invalid. This could be because the acknowledgement ids have expired or the acknowledgement ids were malformed.',
    {
      reason: 'EXACTLY_ONCE_ACKID_FAILURE',
      metadata: Object.fromEntries(failed.map((id) => [id, 'PERMANENT_FAILURE_INVALID_ACK_ID'])),
    },
  );
}

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
    const match = ACK_ID.exec(ackId);
    if (!match || Number(match[1]) !== subscriptionId) throw invalidAckId(ackId);
    return { seq: Number(match[2]), deliveryCount: Number(match[3]) };
  });
}

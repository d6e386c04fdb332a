/**
 * Snapshots and Seek: replaying a subscription. A snapshot holds the messages unacked in its
 * subscription when it was taken plus everything published to the topic since; it expires
 * when its oldest message is 7 days old ("a snapshot created from a subscription whose oldest
 * unacked message is 3 days old expires in 4 days", Pub/Sub docs on Seek). Seeking to a time
 * marks messages published before it acknowledged and the later ones unacknowledged, which
 * can bring back acked messages only where they were retained (retainAckedMessages).
 */
import { DAY } from '../duration.ts';
import { ApiError, invalidArgument, resourceExists, resourceNotFound } from '../errors.ts';
import type { SnapshotRow, SnapshotStore, Page } from '../../storage/ports.ts';
import { matchesFilter, parseFilter } from './filter.ts';
import { DELETED_TOPIC, lastSegment, parseName, parseProject } from './names.ts';
import type { PageRequest } from './service.ts';
import type { BrokerService } from './service.ts';

const MAX_AGE = 7 * DAY;
const MAX_PAGE_SIZE = 1000;

export interface Snapshot {
  name: string;
  topic: string;
  /** Epoch ms. */
  expireTime: number;
  labels?: Record<string, string>;
}

export interface SeekTarget {
  /** Epoch ms, or an RFC 3339 string. */
  time?: number | string;
  snapshot?: string;
}

const toSnapshot = (row: SnapshotRow): Snapshot => ({
  name: row.name,
  topic: row.topic,
  expireTime: row.expireAt,
  ...(row.labels ? { labels: row.labels } : {}),
});

export class Snapshots {
  readonly #broker: BrokerService;
  readonly #store: SnapshotStore;

  constructor(broker: BrokerService, store: SnapshotStore) {
    this.#broker = broker;
    this.#store = store;
  }

  async create(name: string, input: { subscription?: string; labels?: Record<string, string> }): Promise<Snapshot> {
    parseName(name, 'snapshots');
    const row = await this.#broker.subscriptionRow(input.subscription ?? '');
    const topic = row.subscription.topic;
    if (topic === DELETED_TOPIC || row.subscription.detached) {
      throw new ApiError('FAILED_PRECONDITION', `The subscription's topic was deleted or detached: cannot take a snapshot of ${row.subscription.name}.`);
    }
    const created = await this.#store.createSnapshot(name, topic, row.id, input.labels, this.#broker.clock.now(), MAX_AGE);
    if (!created) throw resourceExists(lastSegment(name));
    return toSnapshot(created);
  }

  async get(name: string): Promise<Snapshot> {
    return toSnapshot(await this.#row(name));
  }

  async list(project: string, page: PageRequest): Promise<Page<Snapshot>> {
    const result = await this.#store.listSnapshots(parseProject(project), pageSize(page), page.pageToken);
    const now = this.#broker.clock.now();
    return { items: result.items.filter((r) => r.expireAt > now).map(toSnapshot), nextPageToken: result.nextPageToken };
  }

  async listForTopic(topic: string, page: PageRequest): Promise<Page<string>> {
    parseName(topic, 'topics');
    return this.#store.listTopicSnapshots(topic, pageSize(page), page.pageToken);
  }

  /** UpdateSnapshot: labels and expire_time may change. */
  async update(name: string, patch: { labels?: Record<string, string>; expireTime?: number | string }, paths: readonly string[]): Promise<Snapshot> {
    const row = await this.#row(name);
    if (paths.length === 0) {
      throw invalidArgument('The update_mask in the UpdateSnapshotRequest must be set, and must contain a non-empty paths list.');
    }
    const next: SnapshotRow = { ...row };
    for (const path of paths) {
      if (path === 'labels') next.labels = patch.labels;
      else if (path === 'expire_time') {
        const at = patch.expireTime === undefined ? NaN : toMs(patch.expireTime);
        if (!Number.isFinite(at) || at <= this.#broker.clock.now()) throw invalidArgument('expire_time must be a time in the future.');
        next.expireAt = Math.min(at, row.expireAt);
      } else {
        throw invalidArgument(`Invalid update_mask provided in the UpdateSnapshotRequest: ${path} is not a known Snapshot field.`);
      }
    }
    await this.#store.updateSnapshot(next);
    return toSnapshot(next);
  }

  async delete(name: string): Promise<void> {
    parseName(name, 'snapshots');
    if (!(await this.#store.deleteSnapshot(name))) throw resourceNotFound(lastSegment(name));
  }

  async seek(subscription: string, target: SeekTarget): Promise<void> {
    const row = await this.#broker.subscriptionRow(subscription);
    const sub = row.subscription;
    const now = this.#broker.clock.now();
    if (target.snapshot) {
      const snapshot = await this.#row(target.snapshot);
      if (snapshot.topic !== sub.topic) {
        throw invalidArgument(
          `The subscription's topic (${sub.topic}) is not the snapshot's topic (${snapshot.topic}); seek needs both on the same topic.`,
        );
      }
      const filter = sub.filter ? parseFilter(sub.filter) : undefined;
      const seqs = (await this.#store.snapshotCandidates(snapshot.id)).filter((c) => matchesFilter(filter, c.attributes)).map((c) => c.seq);
      await this.#store.restoreBacklog(row.id, seqs, Boolean(sub.enableMessageOrdering), now, Boolean(sub.retainAckedMessages));
    } else if (target.time !== undefined) {
      const time = toMs(target.time);
      if (!Number.isFinite(time)) throw invalidArgument(`Invalid seek time given (time=${String(target.time)}).`);
      await this.#store.seekToTime(row.id, time, now, Boolean(sub.retainAckedMessages));
    } else {
      // The emulator's text (EMULATOR_NOTES.md).
      throw invalidArgument('No target was specified in the SeekRequest. Must specify either a time or a snapshot');
    }
    this.#broker.signals.deliverable([row.id]);
  }

  async #row(name: string): Promise<SnapshotRow> {
    parseName(name, 'snapshots');
    const row = await this.#store.getSnapshot(name);
    if (!row || row.expireAt <= this.#broker.clock.now()) throw resourceNotFound(lastSegment(name));
    return row;
  }
}

function toMs(value: number | string): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

function pageSize(page: PageRequest): number {
  const size = page.pageSize ?? 0;
  return size <= 0 || size > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : size;
}

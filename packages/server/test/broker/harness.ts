/**
 * The broker's services on a real SQLite file and a manual clock, for tests of delivery
 * semantics that need time to pass (deadlines, backoff, retention, expiration).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/domain/clock.ts';
import { Leases } from '../../src/domain/broker/leases.ts';
import { BrokerService } from '../../src/domain/broker/service.ts';
import { Signals } from '../../src/domain/broker/signals.ts';
import { Snapshots } from '../../src/domain/broker/snapshots.ts';
import type { ReceivedMessage } from '../../src/domain/broker/types.ts';
import type { Store } from '../../src/storage/ports.ts';
import { createSqliteStore } from '../../src/storage/sqlite/index.ts';

export interface Harness {
  clock: ManualClock;
  broker: BrokerService;
  leases: Leases;
  snapshots: Snapshots;
  store: Store;
  /** Pulls without waiting. */
  pull(sub: string, max?: number): Promise<ReceivedMessage[]>;
  /** Publishes messages with these data strings. */
  publish(topic: string, ...data: string[]): Promise<string[]>;
  close(): Promise<void>;
}

export function openHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'mailwatch-broker-'));
  const store = createSqliteStore({ dataDir: dir });
  const clock = new ManualClock();
  const broker = new BrokerService(store.broker, clock, new Signals());
  const leases = new Leases(broker);
  return {
    clock,
    broker,
    leases,
    snapshots: new Snapshots(broker, store.snapshots),
    store,
    pull: (sub, max = 100) => leases.pull(sub, { maxMessages: max, waitMs: 0 }),
    publish: (topic, ...data) => broker.publish(topic, data.map((d) => ({ data: Buffer.from(d), attributes: {} }))),
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const text = (received: readonly ReceivedMessage[]): string[] => received.map((r) => r.message.data.toString());

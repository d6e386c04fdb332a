/**
 * In-process wake-up hints: "these subscriptions may have deliverable messages". Sent after
 * the commit that made them deliverable (STYLE.md habit 6); a missed hint only delays work,
 * because pull waits are bounded and the push runner also polls.
 */
export type DeliverableListener = (subscriptionIds: readonly number[]) => void;
/** Ack ids of a subscription that were acked or nacked: their deliveries are no longer outstanding. */
export type ReleasedListener = (subscriptionId: number, ackIds: readonly string[]) => void;

export class Signals {
  readonly #listeners = new Set<DeliverableListener>();
  readonly #waiters = new Map<number, Set<() => void>>();
  readonly #released = new Set<ReleasedListener>();

  onReleased(listener: ReleasedListener): () => void {
    this.#released.add(listener);
    return () => this.#released.delete(listener);
  }

  released(subscriptionId: number, ackIds: readonly string[]): void {
    for (const listener of this.#released) listener(subscriptionId, ackIds);
  }

  /** Wakes every waiter (time moved: leases may have expired, backoffs ended). */
  wakeAll(): void {
    const all = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const waiters of all) for (const wake of waiters) wake();
  }

  onDeliverable(listener: DeliverableListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  deliverable(subscriptionIds: readonly number[]): void {
    if (subscriptionIds.length === 0) return;
    for (const listener of this.#listeners) listener(subscriptionIds);
    for (const id of subscriptionIds) {
      const waiters = this.#waiters.get(id);
      if (!waiters) continue;
      this.#waiters.delete(id);
      for (const wake of waiters) wake();
    }
  }

  /** Resolves on the next hint for the subscription, after `ms`, or when `signal` aborts. */
  waitFor(subscriptionId: number, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(subscriptionId);
      if (!waiters) this.#waiters.set(subscriptionId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#waiters.get(subscriptionId)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }
}

/**
 * Time is a parameter: the domain and the runners read it from a Clock, never from Date.now().
 * Tests use ManualClock and advance it instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  #now: number;
  readonly #listeners = new Set<(now: number) => void>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward and tells listeners (runners use it as a wake-up hint). */
  advance(ms: number): void {
    if (ms < 0) throw new Error('time only moves forward');
    this.#now += ms;
    for (const listener of this.#listeners) listener(this.#now);
  }

  set(ms: number): void {
    this.advance(ms - this.#now);
  }

  onAdvance(listener: (now: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

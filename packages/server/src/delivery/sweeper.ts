/**
 * Periodic clean-up: deletes expired subscriptions, messages past their subscription's
 * retention and messages no subscription holds. Reads are already correct without it
 * (expired subscriptions and messages are filtered when read); it only reclaims space.
 */
import type { Logger } from 'pino';
import type { BrokerService } from '../domain/broker/service.ts';
import { DAY } from '../domain/duration.ts';

export class Sweeper {
  readonly #broker: BrokerService;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(broker: BrokerService, logger: Logger, intervalMs: number) {
    this.#broker = broker;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#intervalMs);
    this.#timer.unref();
  }

  sweep(): Promise<void> {
    this.#running ??= this.#sweep().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #sweep(): Promise<void> {
    try {
      const result = await this.#broker.store.sweep(this.#broker.clock.now(), { defaultMs: 7 * DAY });
      if (result.subscriptions > 0 || result.messages > 0) this.#logger.info(result, 'sweeper: removed expired data');
    } catch (error) {
      this.#logger.error({ err: error }, 'sweeper failed');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}

/**
 * Push delivery: one worker per push subscription leases messages, POSTs them to the endpoint
 * and acks (102/200/201/202/204) or nacks with backoff. Each worker has its own slow-start
 * window (flow.ts) and its own requests, so a dead or slow endpoint holds up only its own
 * subscription. Wake-ups come from publish hints and clock advances; a poll is the truth.
 */
import type { Logger } from 'pino';
import { parseAckIds } from '../domain/broker/ack-ids.ts';
import type { Leases } from '../domain/broker/leases.ts';
import type { BrokerService } from '../domain/broker/service.ts';
import type { ReceivedMessage } from '../domain/broker/types.ts';
import type { SubscriptionRow } from '../storage/ports.ts';
import { INITIAL_WINDOW, nextWindow } from './flow.ts';
import type { OidcSigner } from './oidc.ts';
import type { SendPush } from './push-http.ts';
import { buildPushRequest } from './push-request.ts';

/** Most push requests a subscription may have in flight (Google does not publish its cap). */
export const MAX_PUSH_WINDOW = 64;
/** Tokens are valid for an hour; reuse one for 50 minutes. */
const TOKEN_REUSE_MS = 50 * 60_000;

export interface PushRunnerOptions {
  broker: BrokerService;
  leases: Leases;
  signer: OidcSigner;
  /** One push attempt (push-http.ts; tests may stand in). */
  send: SendPush;
  logger: Logger;
  /** How often to look for work without a hint (wall-clock ms). */
  pollMs: number;
}

export class PushRunner {
  readonly #options: PushRunnerOptions;
  readonly #workers = new Map<number, PushWorker>();
  readonly #tokens = new Map<string, { token: string; at: number }>();
  readonly #teardown: (() => void)[] = [];
  #refreshing: Promise<void> | undefined;
  #stopped = false;
  /** Aborts the pushes in flight at shutdown; their leases simply expire and they are redelivered. */
  readonly #abort = new AbortController();

  constructor(options: PushRunnerOptions) {
    this.#options = options;
  }

  get abortSignal(): AbortSignal {
    return this.#abort.signal;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    const { broker, pollMs } = this.#options;
    this.#teardown.push(
      broker.signals.onDeliverable((ids) => {
        if (ids.some((id) => !this.#workers.has(id))) void this.refresh();
        for (const id of ids) this.#workers.get(id)?.wake();
      }),
    );
    const timer = setInterval(() => void this.refresh(), pollMs);
    timer.unref();
    this.#teardown.push(() => clearInterval(timer));
    void this.refresh();
  }

  /** Re-reads the push subscriptions and wakes every worker (also the clock-advance hook). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    let rows: SubscriptionRow[];
    try {
      rows = await this.#options.broker.store.pushSubscriptions();
    } catch (error) {
      this.#options.logger.error({ err: error }, 'push: cannot list push subscriptions');
      return;
    }
    const seen = new Set<number>();
    for (const row of rows) {
      seen.add(row.id);
      let worker = this.#workers.get(row.id);
      if (!worker || worker.stopped) this.#workers.set(row.id, (worker = new PushWorker(this, row)));
      else worker.row = row;
      worker.wake();
    }
    for (const [id, worker] of this.#workers) {
      if (!seen.has(id)) {
        worker.stopped = true;
        this.#workers.delete(id);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const teardown of this.#teardown.reverse()) teardown();
    this.#abort.abort();
    await this.#refreshing;
    const workers = [...this.#workers.values()];
    for (const worker of workers) worker.stopped = true;
    await Promise.all(workers.map((w) => w.idle()));
    this.#workers.clear();
  }

  get options(): PushRunnerOptions {
    return this.#options;
  }

  async token(audience: string, serviceAccountEmail: string): Promise<string> {
    const key = `${audience}\n${serviceAccountEmail}`;
    const now = this.#options.broker.clock.now();
    const cached = this.#tokens.get(key);
    if (cached && now - cached.at < TOKEN_REUSE_MS && now >= cached.at) return cached.token;
    const token = await this.#options.signer.sign({ audience, serviceAccountEmail, now });
    this.#tokens.set(key, { token, at: now });
    return token;
  }
}

class PushWorker {
  row: SubscriptionRow;
  stopped = false;
  readonly #runner: PushRunner;
  #window = INITIAL_WINDOW;
  #inflight = 0;
  #pumping = false;
  #again = false;
  readonly #pending = new Set<Promise<void>>();

  constructor(runner: PushRunner, row: SubscriptionRow) {
    this.#runner = runner;
    this.row = row;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    const run = this.#pump().finally(() => {
      this.#pending.delete(run);
      this.#pumping = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
    this.#pending.add(run);
  }

  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #pump(): Promise<void> {
    const { broker, leases, logger } = this.#runner.options;
    // The subscription may have changed (push config, deadline) or gone since the last refresh.
    const current = await broker.store.getSubscription(this.row.subscription.name).catch(() => undefined);
    if (!current || current.id !== this.row.id) {
      this.stopped = true;
      return;
    }
    this.row = current;
    while (!this.stopped && this.#inflight < this.#window) {
      const sub = this.row.subscription;
      if (!sub.pushConfig.pushEndpoint || sub.detached) return;
      let batch: ReceivedMessage[];
      try {
        batch = await leases.lease(this.row, this.#window - this.#inflight, sub.ackDeadlineSeconds * 1000, true);
      } catch (error) {
        logger.error({ err: error, subscription: sub.name }, 'push: lease failed');
        return;
      }
      if (batch.length === 0) return;
      for (const received of batch) {
        this.#inflight++;
        const attempt = this.#deliver(received).finally(() => {
          this.#pending.delete(attempt);
          this.#inflight--;
          this.wake();
        });
        this.#pending.add(attempt);
      }
    }
  }

  async #deliver(received: ReceivedMessage): Promise<void> {
    const { broker, leases, logger } = this.#runner.options;
    const row = this.row;
    const sub = row.subscription;
    const config = sub.pushConfig;
    const endpoint = config.pushEndpoint ?? '';
    const [ref] = parseAckIds([received.ackId], row.id);
    let ack = false;
    try {
      const oidc = config.oidcToken;
      const authorization = oidc?.serviceAccountEmail
        ? await this.#runner.token(oidc.audience || endpoint, oidc.serviceAccountEmail)
        : undefined;
      const request = buildPushRequest(
        sub.name,
        { ...config, pushEndpoint: endpoint },
        received.message,
        sub.deadLetterPolicy ? received.deliveryAttempt : undefined,
        authorization,
      );
      // The request timeout is the ack deadline (reference/pubsub.md, "Push delivery").
      const outcome = await this.#runner.options.send(request, sub.ackDeadlineSeconds * 1000, this.#runner.abortSignal);
      // Cut short by shutdown: write nothing; the lease expires and the message is redelivered.
      if (this.#runner.stopped) return;
      ack = outcome.ack;
      if (ack) {
        await broker.store.acknowledge(row.id, [ref], broker.clock.now(), Boolean(sub.retainAckedMessages));
      } else {
        logger.debug({ subscription: sub.name, status: outcome.status, error: outcome.ack ? undefined : outcome.error }, 'push: nacked');
        await leases.changeDeadlines(row, [ref], 0, true);
      }
    } catch (error) {
      logger.error({ err: error, subscription: sub.name }, 'push: delivery bookkeeping failed');
    }
    this.#window = nextWindow(this.#window, ack, MAX_PUSH_WINDOW);
  }
}

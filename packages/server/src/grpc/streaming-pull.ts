/**
 * StreamingPull as @google-cloud/pubsub uses it (reference/pubsub.md, section 4): the first
 * request names the subscription, the stream ack deadline (10-600 s) and flow control
 * (maxOutstandingMessages/Bytes, 0 = unlimited); messages are leased to this stream alone
 * (a leased message is not leased again until its deadline passes, so no other stream gets
 * it); acks and modacks arrive on the stream or as unary calls, and either way free the
 * stream's capacity. At shutdown the stream ends UNAVAILABLE, which the client retries.
 */
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { ApiError, invalidArgument } from '../domain/errors.ts';
import type { SubscriptionRow } from '../storage/ports.ts';
import { fromProto, toProto } from './convert.ts';
import { toServiceError } from './errors.ts';
import { receivedToProto, type SubscriberDeps } from './subscriber.ts';

/** A stream looks for work this often even without a hint (hints are only hints). */
const POLL_MS = 1000;
const MAX_BATCH = 1000;

interface Outstanding {
  bytes: number;
  /** Lease end (clock ms): after it the delivery no longer counts against flow control. */
  until: number;
}

/**
 * The deliveries outstanding to one client on one subscription. The Node client opens 5
 * streams on one connection and sends its whole maxOutstandingMessages on each (reference/
 * pubsub.md, section 4), so counting per stream would lease it 5 times what it will take; the
 * streams of one connection share the count instead (never more than any one stream allows).
 * Measured: 11.5k -> 20.7k deliver+ack msgs/s with the client's defaults, because the client
 * no longer buffers and lease-extends thousands of excess messages.
 */
interface FlowGroup {
  outstanding: Map<string, Outstanding>;
  streams: number;
}

export function streamingPull(deps: SubscriberDeps) {
  const groups = new Map<string, FlowGroup>();
  return (call: ServerDuplexStream<unknown, unknown>) => new PullStream(deps, call, groups).start();
}

class PullStream {
  readonly #deps: SubscriberDeps;
  readonly #call: ServerDuplexStream<unknown, unknown>;
  readonly #abort = new AbortController();
  readonly #groups: Map<string, FlowGroup>;
  #group: FlowGroup = { outstanding: new Map(), streams: 1 };
  readonly #teardown: (() => void)[] = [];
  #row: SubscriptionRow | undefined;
  #deadlineMs = 10_000;
  #maxMessages = 0;
  #maxBytes = 0;
  #ended = false;
  #requests: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;

  constructor(deps: SubscriberDeps, call: ServerDuplexStream<unknown, unknown>, groups: Map<string, FlowGroup>) {
    this.#deps = deps;
    this.#call = call;
    this.#groups = groups;
  }

  get #outstanding(): Map<string, Outstanding> {
    return this.#group.outstanding;
  }

  /** Joins the flow-control group of this connection and subscription. */
  #join(subscriptionId: number): void {
    const key = `${this.#call.getPeer()}\n${subscriptionId}`;
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = { outstanding: new Map(), streams: 0 }));
    group.streams++;
    this.#group = group;
    this.#teardown.push(() => {
      if (--group.streams === 0) this.#groups.delete(key);
    });
  }

  start(): void {
    this.#call.on('data', (raw: unknown) => {
      this.#requests = this.#requests.then(() => this.#onRequest(raw)).catch((error: unknown) => this.#fail(error));
    });
    this.#call.on('end', () => this.#finish());
    this.#call.on('cancelled', () => this.#stop());
    this.#call.on('error', () => this.#stop());
    const onShutdown = () => this.#fail(new ApiError('UNAVAILABLE', 'The service is shutting down; reconnect.'));
    if (this.#deps.shutdown.aborted) return onShutdown();
    this.#deps.shutdown.addEventListener('abort', onShutdown, { once: true });
    this.#teardown.push(() => this.#deps.shutdown.removeEventListener('abort', onShutdown));
  }

  async #onRequest(raw: unknown): Promise<void> {
    if (this.#ended) return;
    const r = fromProto('google.pubsub.v1.StreamingPullRequest', raw);
    if (!this.#row) await this.#open(r);
    else if (r.streamAckDeadlineSeconds !== undefined) this.#deadlineMs = deadlineMs(r.streamAckDeadlineSeconds);
    const name = this.#row!.subscription.name;
    const { leases } = this.#deps;
    if (r.ackIds?.length) await leases.acknowledge(name, r.ackIds).catch(ignoreExactlyOnceFailure);
    const ids: string[] = r.modifyDeadlineAckIds ?? [];
    const seconds: number[] = r.modifyDeadlineSeconds ?? [];
    if (ids.length !== seconds.length) {
      throw invalidArgument(
        `modify_deadline_seconds and modify_deadline_ack_ids must be the same size (got ${seconds.length} and ${ids.length}).`,
      );
    }
    const bySeconds = new Map<number, string[]>();
    ids.forEach((id, i) => bySeconds.set(seconds[i], [...(bySeconds.get(seconds[i]) ?? []), id]));
    for (const [s, group] of bySeconds) await leases.modifyAckDeadline(name, group, s).catch(ignoreExactlyOnceFailure);
  }

  async #open(r: Record<string, any>): Promise<void> {
    const { broker } = this.#deps;
    this.#deadlineMs = deadlineMs(r.streamAckDeadlineSeconds ?? 0);
    this.#maxMessages = Math.max(0, Number(r.maxOutstandingMessages ?? 0));
    this.#maxBytes = Math.max(0, Number(r.maxOutstandingBytes ?? 0));
    const row = await broker.subscriptionRow(r.subscription ?? '');
    if (row.subscription.detached) throw new ApiError('FAILED_PRECONDITION', `Subscription ${row.subscription.name} is detached.`);
    this.#row = row;
    this.#join(row.id);
    this.#teardown.push(
      broker.signals.onReleased((subscriptionId, ackIds) => {
        if (subscriptionId !== row.id) return;
        for (const id of ackIds) this.#outstanding.delete(id);
        this.#wake?.();
      }),
    );
    void this.#deliver().catch((error: unknown) => this.#fail(error));
  }

  async #deliver(): Promise<void> {
    const { broker, leases } = this.#deps;
    while (!this.#ended) {
      const now = broker.clock.now();
      for (const [id, o] of this.#outstanding) if (o.until <= now) this.#outstanding.delete(id);
      const capacity = this.#capacity();
      if (capacity > 0) {
        const row = await broker.subscriptionRow(this.#row!.subscription.name);
        this.#row = row;
        const batch = await leases.lease(row, capacity, this.#deadlineMs);
        if (this.#ended) return; // leased after the stream ended: the leases simply expire
        if (batch.length > 0) {
          const sub = row.subscription;
          const until = broker.clock.now() + this.#deadlineMs;
          for (const m of batch) this.#outstanding.set(m.ackId, { bytes: m.message.data.length, until });
          this.#call.write(
            toProto('google.pubsub.v1.StreamingPullResponse', {
              receivedMessages: batch.map((m) => receivedToProto(m, sub.deadLetterPolicy !== undefined)),
              subscriptionProperties: {
                exactlyOnceDeliveryEnabled: Boolean(sub.enableExactlyOnceDelivery),
                messageOrderingEnabled: Boolean(sub.enableMessageOrdering),
              },
            }),
          );
          continue;
        }
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void broker.signals.waitFor(this.#row!.id, POLL_MS, this.#abort.signal).then(resolve);
      });
      this.#wake = undefined;
    }
  }

  #capacity(): number {
    let capacity = this.#maxMessages > 0 ? this.#maxMessages - this.#outstanding.size : MAX_BATCH;
    if (this.#maxBytes > 0) {
      let bytes = 0;
      for (const o of this.#outstanding.values()) bytes += o.bytes;
      if (bytes >= this.#maxBytes) capacity = 0;
    }
    return Math.max(0, Math.min(capacity, MAX_BATCH));
  }

  /** The client half-closed: answer OK. */
  #finish(): void {
    if (this.#ended) return;
    this.#stop();
    this.#call.end();
  }

  #fail(error: unknown): void {
    if (this.#ended) return;
    this.#stop();
    const status = toServiceError(error, this.#deps.logger);
    this.#call.emit('error', { code: status.code ?? GrpcStatus.INTERNAL, details: status.details, metadata: status.metadata });
  }

  #stop(): void {
    this.#ended = true;
    this.#abort.abort();
    this.#wake?.();
    for (const teardown of this.#teardown.splice(0)) teardown();
  }
}

/**
 * Per-id failures of acks sent on the stream are not an error of the stream: Google reports
 * them in acknowledge_confirmation, which the Node client ignores (reference/pubsub.md).
 */
function ignoreExactlyOnceFailure(error: unknown): void {
  if (error instanceof ApiError && error.reason === 'EXACTLY_ONCE_ACKID_FAILURE') return;
  throw error;
}

function deadlineMs(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 600) {
    throw invalidArgument(`Invalid stream_ack_deadline_seconds given (${seconds}). It must be between 10 and 600 seconds.`);
  }
  return seconds * 1000;
}

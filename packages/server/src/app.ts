/**
 * The composition root: the only file that knows both the services and the adapters. Every
 * resource registers its teardown as it starts; stop() releases them in reverse order.
 */
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';
import { createOidcSigner, type KeyStore, type StoredKey } from './delivery/oidc.ts';
import { sendPush, type SendPush } from './delivery/push-http.ts';
import { PushRunner } from './delivery/push-runner.ts';
import { Sweeper } from './delivery/sweeper.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { Leases } from './domain/broker/leases.ts';
import { BrokerService } from './domain/broker/service.ts';
import { Signals } from './domain/broker/signals.ts';
import { Snapshots } from './domain/broker/snapshots.ts';
import { createGrpcServer } from './grpc/server.ts';
import { createHttpServer } from './http/server.ts';
import { createOnePortServer } from './net/one-port.ts';
import type { KeyValueStore, Store } from './storage/ports.ts';
import { createSqliteStore } from './storage/sqlite/index.ts';

export interface AppOverrides {
  clock?: Clock & { onAdvance?: (listener: (now: number) => void) => () => void };
  /** Push transport (default: push-http.ts). */
  sendPush?: SendPush;
  logger?: Logger;
}

export interface App {
  /** `http://host:port`, known after start(). */
  readonly url: string;
  readonly port: number;
  readonly broker: BrokerService;
  readonly leases: Leases;
  readonly clock: Clock;
  readonly store: Store;
  readonly pushRunner: PushRunner;
  readonly sweeper: Sweeper;
  stop(): Promise<void>;
}

const SIGNING_KEY = 'oidc.signing-key';

function keyStore(settings: KeyValueStore): KeyStore {
  return {
    async load() {
      const text = await settings.get(SIGNING_KEY);
      return text ? (JSON.parse(text) as StoredKey) : undefined;
    },
    async save(key) {
      await settings.set(SIGNING_KEY, JSON.stringify(key));
    },
  };
}

/** Fastify waits for requests in flight; after a grace period the rest are cut. */
async function closeHttp(http: FastifyInstance): Promise<void> {
  // Requests in flight finish (and commit) before the store closes; after a grace period the
  // rest are cut.
  await (http as FastifyInstance & { drainRequests(ms: number): Promise<void> }).drainRequests(10_000);
  http.server.closeAllConnections();
  await http.close();
}

/** Lets calls in flight finish for a moment, then cuts the rest. */
function stopGrpc(server: GrpcServer): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

export async function startApp(config: Readonly<Config>, overrides: AppOverrides = {}): Promise<App> {
  const logger = overrides.logger ?? pino({ level: config.logLevel });
  const clock = overrides.clock ?? systemClock;
  const teardown: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    while (teardown.length > 0) {
      try {
        await teardown.pop()!();
      } catch (error) {
        logger.error({ err: error }, 'shutdown step failed');
      }
    }
  };

  try {
    const store = createSqliteStore({ dataDir: config.dataDir, memory: config.memory, fsync: config.fsync });
    teardown.push(() => store.close());

    const signer = await createOidcSigner(keyStore(store.settings), { clock });
    const signals = new Signals();
    const broker = new BrokerService(store.broker, clock, signals);
    const leases = new Leases(broker);
    const snapshots = new Snapshots(broker, store.snapshots);

    const shutdown = new AbortController();
    const http = createHttpServer({ broker, leases, snapshots, signer, logger, shutdown: shutdown.signal, pullWaitMs: config.pullWaitMs });
    await http.ready();
    const grpcServer = createGrpcServer({ broker, leases, snapshots, logger, shutdown: shutdown.signal, pullWaitMs: config.pullWaitMs });
    const listener = createOnePortServer(http.server, grpcServer);
    // The HTTP server receives its connections from the one-port listener and never listens
    // itself; Node starts tracking connections (which close() needs to end idle keep-alive
    // sockets) on 'listening', so it is told.
    http.server.emit('listening');
    // Teardown, in this order: stop accepting, wake long pulls and end streams (UNAVAILABLE),
    // let gRPC calls and HTTP requests in flight finish, close the store.
    teardown.push(() => closeHttp(http));
    teardown.push(() => stopGrpc(grpcServer));
    teardown.push(() => shutdown.abort());
    // Stop accepting; open connections end as the HTTP and gRPC servers close them.
    teardown.push(() => void listener.close());

    const pushRunner = new PushRunner({ broker, leases, signer, send: overrides.sendPush ?? sendPush, logger, pollMs: config.pushPollMs });
    pushRunner.start();
    teardown.push(() => pushRunner.stop());

    const sweeper = new Sweeper(broker, logger, config.sweepMs);
    sweeper.start();
    teardown.push(() => sweeper.stop());

    if (overrides.clock?.onAdvance) {
      // A test moving the clock is a wake-up: leases may have expired, backoffs ended.
      const off = overrides.clock.onAdvance(() => {
        signals.wakeAll();
        void pushRunner.refresh();
      });
      teardown.push(off);
    }

    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(config.port, config.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const address = listener.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    logger.info({ url, storage: config.memory ? 'memory' : `sqlite:${config.dataDir}` }, `mailwatch listening on ${url}`);
    return { url, port, broker, leases, clock, store, pushRunner, sweeper, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

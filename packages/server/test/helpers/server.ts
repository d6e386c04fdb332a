/**
 * Starts mailwatch in this process on a free port, for end-to-end tests. Each call is its own
 * server with its own store, so tests never share state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startApp, type App, type AppOverrides } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';

export interface StartOptions extends AppOverrides {
  /** In-memory store instead of a SQLite file in a fresh temporary directory. */
  memory?: boolean;
  config?: Partial<Config>;
}

export interface RunningServer extends App {
  dataDir: string;
  /** The app alone: stop() it to keep the data directory (a restart test). */
  app: App;
}

export async function startMailwatch(options: StartOptions = {}): Promise<RunningServer> {
  const dataDir = options.config?.dataDir ?? mkdtempSync(join(tmpdir(), 'mailwatch-test-'));
  const config = loadConfig(
    { port: 0, dataDir, memory: options.memory ?? false, logLevel: process.env.MAILWATCH_TEST_LOG ?? 'silent', pullWaitMs: 2000, ...options.config },
    {},
  );
  const app = await startApp(config, { ...options, logger: options.logger ?? pino({ level: config.logLevel }) });
  return {
    ...app,
    dataDir,
    app,
    url: app.url,
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

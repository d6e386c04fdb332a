/**
 * Configuration: command-line flags win over MAILWATCH_* environment variables, which win over
 * the defaults (DESIGN.md, "Conventions"). The result is validated and frozen.
 */
export interface Config {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Directory of the SQLite database. */
  dataDir: string;
  /** A throwaway in-memory store. */
  memory: boolean;
  logLevel: string;
  /** SQLite synchronous=FULL (survives power loss, not only crashes), slower. */
  fsync: boolean;
  /** How long a REST pull without returnImmediately waits for a message. */
  pullWaitMs: number;
  /** How often the push runner and sweeper look for work without a hint. */
  pushPollMs: number;
  sweepMs: number;
}

export const DEFAULTS: Readonly<Config> = Object.freeze({
  host: '127.0.0.1',
  port: 8085,
  dataDir: '.mailwatch',
  memory: false,
  logLevel: 'info',
  fsync: false,
  pullWaitMs: 10_000,
  pushPollMs: 1_000,
  sweepMs: 60_000,
});

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Environment variable of each setting: host -> MAILWATCH_HOST, dataDir -> MAILWATCH_DATA. */
export const ENV: Readonly<Record<keyof Config, string>> = Object.freeze({
  host: 'MAILWATCH_HOST',
  port: 'MAILWATCH_PORT',
  dataDir: 'MAILWATCH_DATA',
  memory: 'MAILWATCH_MEMORY',
  logLevel: 'MAILWATCH_LOG_LEVEL',
  fsync: 'MAILWATCH_FSYNC',
  pullWaitMs: 'MAILWATCH_PULL_WAIT_MS',
  pushPollMs: 'MAILWATCH_PUSH_POLL_MS',
  sweepMs: 'MAILWATCH_SWEEP_MS',
});

export class ConfigError extends Error {}

export function loadConfig(flags: Partial<Record<keyof Config, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const pick = (key: keyof Config): unknown => flags[key] ?? env[ENV[key]] ?? DEFAULTS[key];
  const config: Config = {
    host: str(pick('host'), 'host'),
    port: int(pick('port'), 'port', 0, 65535),
    dataDir: str(pick('dataDir'), 'data'),
    memory: bool(pick('memory'), 'memory'),
    logLevel: str(pick('logLevel'), 'log-level'),
    fsync: bool(pick('fsync'), 'fsync'),
    pullWaitMs: int(pick('pullWaitMs'), 'pull-wait-ms', 0, 600_000),
    pushPollMs: int(pick('pushPollMs'), 'push-poll-ms', 10, 3_600_000),
    sweepMs: int(pick('sweepMs'), 'sweep-ms', 100, 86_400_000),
  };
  if (!LOG_LEVELS.has(config.logLevel)) {
    throw new ConfigError(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}; got "${config.logLevel}"`);
  }
  return Object.freeze(config);
}

function str(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`--${name} must not be empty`);
  return value;
}

function int(value: unknown, name: string, min: number, max: number): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min || n > max || String(value).trim() === '') {
    throw new ConfigError(`--${name} must be an integer from ${min} to ${max}; got "${String(value)}"`);
  }
  return n;
}

function bool(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  throw new ConfigError(`--${name} must be true or false; got "${String(value)}"`);
}

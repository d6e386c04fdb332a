/**
 * Shared bits of the benchmarks: the two targets (mailwatch as a child process, durable on disk,
 * and Google's official emulator), one keep-alive HTTP client used for both, CPU accounting of
 * both sides, and the comparison table.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorMissingReason, startEmulator } from '../test/helpers/emulator.ts';

/** Scales workload sizes, e.g. BENCH_SCALE=0.1 for a smoke run. */
export const SCALE = positiveNumber('BENCH_SCALE', 1);

function positiveNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number; got "${text}"`);
  return n;
}

/** One row of a benchmark's table. */
export interface Result {
  metric: string;
  unit: string;
  mailwatch: number;
  /** Undefined when the emulator was not measured (not installed). */
  emulator?: number;
  /** How to compare: higher is better (throughput), lower is better, or not at all (context). */
  compare?: 'higher' | 'lower' | 'none';
}

export interface Target {
  name: string;
  url: string;
  /** The server's process, for CPU accounting (undefined if it could not be found). */
  pid?: number;
  /** Free text: storage mode and the like. */
  description: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Targets

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface MailwatchOptions {
  /** Extra `mailwatch serve` flags, e.g. ['--fsync']. Default: BENCH_MAILWATCH_FLAGS, split on spaces. */
  flags?: string[];
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. Default: from BENCH_CPU_PROF=<dir>. */
  nodeFlags?: string[];
}

/**
 * `mailwatch serve` as users run it: its own process, SQLite in a fresh temporary directory.
 * Log level info (request logging is off in mailwatch) so that the "listening" line gives the
 * URL and the storage mode.
 */
export async function startMailwatch(options: MailwatchOptions = {}): Promise<Target> {
  const flags = options.flags ?? (process.env.BENCH_MAILWATCH_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const profDir = process.env.BENCH_CPU_PROF;
  const nodeFlags = options.nodeFlags ?? (profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
  const dir = mkdtempSync(join(tmpdir(), 'mailwatch-bench-'));
  const child = spawn(process.execPath, [...nodeFlags, MAIN, 'serve', '--port', '0', '--data', dir, '--log-level', 'info', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onProcessExit = () => child.kill('SIGKILL');
  process.once('exit', onProcessExit);

  let listening: { url: string; storage: string };
  try {
    listening = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mailwatch did not start within ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS);
      const onData = () => {
        for (const line of log.split('\n')) {
          if (!line.includes('"url":"')) continue;
          try {
            const entry = JSON.parse(line) as { url?: string; storage?: string };
            if (entry.url) {
              clearTimeout(timer);
              child.stdout.off('data', onData);
              resolve({ url: entry.url, storage: entry.storage ?? 'unknown' });
              return;
            }
          } catch {
            // A partial line: wait for the rest.
          }
        }
      };
      child.stdout.on('data', onData);
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`mailwatch exited before listening:\n${log}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exit;
    process.removeListener('exit', onProcessExit);
    cleanup();
    throw error;
  }

  const durability = flags.includes('--fsync') ? 'synchronous=FULL' : 'synchronous=NORMAL';
  const storage = listening.storage.startsWith('sqlite:') ? `sqlite on disk (WAL, ${durability}) in ${dir}` : listening.storage;
  return {
    name: 'mailwatch',
    url: listening.url,
    pid: child.pid,
    description: flags.length > 0 ? `${storage}, flags ${flags.join(' ')}` : storage,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exit;
        clearTimeout(timer);
      }
      process.removeListener('exit', onProcessExit);
      cleanup();
    },
  };
}

/** The official emulator, or the reason it cannot run here. */
export async function startEmulatorTarget(): Promise<Target | { missing: string }> {
  const missing = emulatorMissingReason();
  if (missing) return { missing };
  const emulator = await startEmulator();
  return {
    name: 'emulator',
    url: emulator.url,
    pid: findPidByArg(`--port=${new URL(emulator.url).port}`, 'java'),
    description: `official emulator (JVM, in memory) at ${emulator.url}`,
    stop: () => emulator.stop(),
  };
}

/** A process whose command line has `arg` and mentions `program` (Linux /proc; undefined elsewhere). */
function findPidByArg(arg: string, program: string): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        if (argv.includes(arg) && argv[0].includes(program)) return Number(entry);
      } catch {
        // The process ended meanwhile.
      }
    }
  } catch {
    // No /proc.
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/** CPU seconds used so far by a process (all its threads), from /proc/<pid>/stat; undefined if unknown. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime (14) + stime (15)
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface Span {
  seconds: number;
  /** CPU used meanwhile, in cores (1 = one core busy the whole time). */
  clientCores: number;
  serverCores?: number;
}

/** Times fn and measures the CPU this process and the server process used meanwhile. */
export async function timed(serverPid: number | undefined, fn: () => Promise<void>): Promise<Span> {
  const server0 = processCpuSeconds(serverPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const server1 = processCpuSeconds(serverPid);
  return {
    seconds,
    clientCores: (client.user + client.system) / 1e6 / seconds,
    serverCores: server0 === undefined || server1 === undefined ? undefined : (server1 - server0) / seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP client, the same for both targets: node:http with a keep-alive agent, one socket per
// request in flight. On this workload it used about a third of the client CPU of global fetch
// (undici) for publishing (0.09 vs 0.3 cores at ~55k msgs/s); BENCH_HTTP=fetch selects fetch,
// to check that the figures do not depend on the client.

export interface Client {
  /** POSTs a JSON body; resolves with the parsed JSON response, rejects on a non-2xx status. */
  post(path: string, body: Buffer | string): Promise<any>;
  put(path: string, body: unknown): Promise<any>;
  delete(path: string): Promise<any>;
  close(): void;
}

const REQUEST_TIMEOUT_MS = 120_000;

export function createClient(baseUrl: string, connections: number): Client {
  return process.env.BENCH_HTTP === 'fetch' ? createFetchClient(baseUrl, connections) : createNodeHttpClient(baseUrl, connections);
}

function createFetchClient(baseUrl: string, connections: number): Client {
  const send = async (method: string, path: string, body: Buffer | string) => {
    const res = await fetch(baseUrl + path, {
      method,
      body: body.length > 0 ? body : undefined,
      headers: body.length > 0 ? { 'content-type': 'application/json' } : {},
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return text === '' ? {} : JSON.parse(text);
  };
  void connections;
  return {
    post: (path, body) => send('POST', path, body),
    put: (path, body) => send('PUT', path, JSON.stringify(body)),
    delete: (path) => send('DELETE', path, ''),
    close: () => {},
  };
}

function createNodeHttpClient(baseUrl: string, connections: number): Client {
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const send = (method: string, path: string, body: Buffer | string) =>
    new Promise<any>((resolve, reject) => {
      const payload = typeof body === 'string' ? Buffer.from(body) : body;
      const req = request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: payload.length > 0 ? { 'content-type': 'application/json', 'content-length': payload.length } : { 'content-length': 0 },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              reject(new Error(`${method} ${path}: ${status} ${text.slice(0, 500)}`));
              return;
            }
            try {
              resolve(text === '' ? {} : JSON.parse(text));
            } catch (error) {
              reject(new Error(`${method} ${path}: bad JSON (${String(error)}): ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  return {
    post: (path, body) => send('POST', path, body),
    put: (path, body) => send('PUT', path, JSON.stringify(body)),
    delete: (path) => send('DELETE', path, ''),
    close: () => agent.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// Output

export function describeMachine(): string {
  const list = cpus();
  return `machine: ${list.length} cpus (${list[0]?.model ?? 'unknown'}), node ${process.version}, ${process.platform}/${process.arch}, BENCH_SCALE=${SCALE}`;
}

/** mailwatch relative to the emulator, so that > 1 always means mailwatch is better; undefined if not comparable. */
export function ratio(result: Result): number | undefined {
  const { mailwatch, emulator, compare = 'higher' } = result;
  if (compare === 'none' || emulator === undefined || !Number.isFinite(emulator) || !Number.isFinite(mailwatch)) return undefined;
  if (compare === 'higher') return emulator > 0 ? mailwatch / emulator : undefined;
  return mailwatch > 0 ? emulator / mailwatch : undefined;
}

export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function formatTable(title: string, results: Result[], emulatorNote?: string): string {
  const rows = [['metric', 'mailwatch', 'emulator', 'ratio (mailwatch/emulator)']];
  for (const result of results) {
    const r = ratio(result);
    rows.push([
      `${result.metric} (${result.unit})`,
      formatNumber(result.mailwatch),
      result.emulator === undefined ? (emulatorNote ?? 'n/a') : formatNumber(result.emulator),
      r === undefined ? '-' : `${r.toFixed(2)}x`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ');
  return [title, line(rows[0]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

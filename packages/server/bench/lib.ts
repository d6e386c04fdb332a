/** Shared bits of the benchmarks: starting the peers, timing, and printing a comparison. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorMissingReason, startEmulator } from '../test/helpers/emulator.ts';

export interface Target {
  name: string;
  url: string;
  stop(): Promise<void>;
}

/** One figure of one target. */
export interface Measurement {
  metric: string;
  unit: string;
  value: number;
  lowerIsBetter?: boolean;
}

export interface Row {
  metric: string;
  unit: string;
  mailwatch: number;
  peer?: number;
  /** For latencies, smaller is better: the ratio is inverted so that > 1 means mailwatch wins. */
  lowerIsBetter?: boolean;
}

/** Scales workload sizes for smoke runs: BENCH_SCALE=0.1. */
export const SCALE = Number(process.env.BENCH_SCALE ?? '1');

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** mailwatch as users run it: the CLI, durable on disk (SQLite, WAL) in a fresh directory. */
export async function startMailwatchProcess(extraArgs: string[] = []): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'mailwatch-bench-'));
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--data', dir, '--log-level', 'info', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`mailwatch exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    name: 'mailwatch (sqlite, disk)',
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Google's official emulator, or undefined (with the reason printed) when it is not installed. */
export async function startPeer(): Promise<Target | undefined> {
  const missing = emulatorMissingReason();
  if (missing) {
    console.log(`peer: official emulator not available (${missing})`);
    return undefined;
  }
  const emulator = await startEmulator();
  return { name: 'official emulator', url: emulator.url, stop: () => emulator.stop() };
}

export function describeMachine(): string {
  return `${cpus().length} cpus (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, BENCH_SCALE=${SCALE}`;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  const lines = [['metric', 'mailwatch', 'emulator', 'ratio (mailwatch/emulator)']];
  for (const row of rows) {
    const ratio =
      row.peer === undefined || row.peer === 0 ? 'n/a' : (row.lowerIsBetter ? row.peer / row.mailwatch : row.mailwatch / row.peer).toFixed(2);
    lines.push([`${row.metric} (${row.unit})`, format(row.mailwatch), row.peer === undefined ? 'n/a' : format(row.peer), ratio]);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const line of lines) console.log(line.map((cell, i) => cell.padEnd(widths[i])).join('  '));
}

function format(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

export async function postJson(url: string, body: string): Promise<any> {
  const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function putJson(url: string, body: unknown = {}): Promise<void> {
  const response = await fetch(url, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(`PUT ${url}: ${response.status} ${await response.text()}`);
}

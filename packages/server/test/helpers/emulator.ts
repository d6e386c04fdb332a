/**
 * Starts Google's official Pub/Sub emulator (Debian package google-cloud-cli-pubsub-emulator)
 * for differential tests. The launcher is a shell script that execs java; it is spawned in its
 * own process group so that stop() can end the whole tree, whatever the script started.
 *
 * On a machine without the emulator (it is not in every Debian mirror), emulatorAvailable()
 * returns false and emulatorMissingReason() says why, so suites can skip with a clear message.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface RunningEmulator {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** `127.0.0.1:PORT`, the form PUBSUB_EMULATOR_HOST takes. */
  hostPort: string;
  stop(): Promise<void>;
}

const FIXED_PATH = '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';
const RELATIVE_PATH = join('platform', 'pubsub-emulator', 'bin', 'cloud-pubsub-emulator');
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
/** The emulator logs several lines per request; keep only the tail for error messages. */
const LOG_TAIL_CHARS = 16_384;

interface Located {
  binary?: string;
  reason?: string;
}

let located: Located | undefined;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasJava(): boolean {
  const javaHome = process.env.JAVA_HOME;
  if (javaHome && isExecutable(join(javaHome, 'bin', 'java'))) return true;
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
}

function locate(): Located {
  if (located) return located;
  let binary: string | undefined = isExecutable(FIXED_PATH) ? FIXED_PATH : undefined;
  if (!binary) {
    try {
      const root = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 30_000,
      }).trim();
      if (root && isExecutable(join(root, RELATIVE_PATH))) binary = join(root, RELATIVE_PATH);
    } catch {
      // No gcloud on PATH: fall through to the "not installed" reason.
    }
  }
  if (!binary) {
    located = {
      reason:
        `Pub/Sub emulator not installed: neither ${FIXED_PATH} nor <gcloud sdk_root>/${RELATIVE_PATH} exists ` +
        '(install the Debian package google-cloud-cli-pubsub-emulator, or `gcloud components install pubsub-emulator`)',
    };
  } else if (!hasJava()) {
    located = { reason: `Pub/Sub emulator found at ${binary}, but no Java runtime (java on PATH or JAVA_HOME)` };
  } else {
    located = { binary };
  }
  return located;
}

export function emulatorAvailable(): boolean {
  return locate().binary !== undefined;
}

/** Why the emulator cannot run here, or undefined when it can. */
export function emulatorMissingReason(): string | undefined {
  return locate().reason;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Starts one emulator on a free loopback port and resolves once `GET /` answers. */
export async function startEmulator(): Promise<RunningEmulator> {
  const { binary, reason } = locate();
  if (!binary) throw new Error(reason);

  // A free port can be taken between the probe and the bind: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOn(binary, await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOn(binary: string, port: number): Promise<RunningEmulator> {
  const hostPort = `127.0.0.1:${port}`;
  const url = `http://${hostPort}`;
  const child = spawn(binary, ['--host=127.0.0.1', `--port=${port}`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  // Drain both pipes (a full pipe would block the emulator) and keep the tail for diagnostics.
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      keep(Buffer.from(`\nspawn error: ${error.message}\n`));
      exited = true;
      resolve();
    });
  });

  // If the test process dies without calling stop(), do not leave a JVM behind.
  const onProcessExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', onProcessExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', onProcessExit);
      if (!exited) {
        killGroup(child, 'SIGTERM');
        const timer = sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
        if ((await Promise.race([exit.then(() => 'exited' as const), timer])) === 'timeout') {
          killGroup(child, 'SIGKILL');
          await exit;
        }
      }
      // The launcher execs java, but kill the group anyway in case anything else was started.
      killGroup(child, 'SIGKILL');
      child.stdout?.destroy();
      child.stderr?.destroy();
    })();
    return stopped;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!exited) {
    try {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.ok && body.trim() === 'Ok') return { url, hostPort, stop };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Pub/Sub emulator did not answer on ${url} within ${READY_TIMEOUT_MS} ms. Log tail:\n${log}`);
    }
    await sleep(200);
  }
  await stop();
  throw new Error(`Pub/Sub emulator exited before it was ready (port ${port}). Log tail:\n${log}`);
}

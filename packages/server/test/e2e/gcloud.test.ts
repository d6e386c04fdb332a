/**
 * `gcloud pubsub` pointed at mailwatch with CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB (gcloud
 * speaks REST): topics create/list/publish, subscriptions create/pull --auto-ack, and
 * add-iam-policy-binding, which the official emulator refuses (it has no IAM).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorMissingReason, startEmulator } from '../helpers/emulator.ts';
import { startMailwatch } from '../helpers/server.ts';

const run = promisify(execFile);

function gcloudMissing(): string | undefined {
  try {
    execFileSync('gcloud', ['--version'], { stdio: 'ignore', timeout: 60_000 });
    return undefined;
  } catch {
    return 'gcloud is not installed (Debian package google-cloud-cli)';
  }
}
const missing = gcloudMissing();
if (missing) console.warn(`[gcloud] skipped: ${missing}`);

describe.skipIf(missing !== undefined)('gcloud pubsub', () => {
  const config = mkdtempSync(join(tmpdir(), 'mailwatch-gcloud-'));
  const gcloud = async (url: string, ...args: string[]) => {
    try {
      const { stdout } = await run('gcloud', ['pubsub', ...args, '--project=gcloud-test'], {
        env: {
          ...process.env,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: `${url}/`,
          CLOUDSDK_AUTH_ACCESS_TOKEN: 'unused',
          CLOUDSDK_CONFIG: config,
          CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        },
        timeout: 60_000,
      });
      return { ok: true, out: stdout };
    } catch (error: any) {
      return { ok: false, out: `${error.stdout ?? ''}${error.stderr ?? ''}` };
    }
  };
  afterAll(() => rmSync(config, { recursive: true, force: true }));

  describe('against mailwatch', () => {
    let server: Awaited<ReturnType<typeof startMailwatch>>;
    beforeAll(async () => {
      server = await startMailwatch({ memory: true });
    });
    afterAll(async () => server.stop());

    it('creates, lists, publishes, pulls with --auto-ack, and binds IAM roles', async () => {
      expect((await gcloud(server.url, 'topics', 'create', 'orders')).ok).toBe(true);
      expect((await gcloud(server.url, 'subscriptions', 'create', 'orders-sub', '--topic=orders')).ok).toBe(true);
      const listed = await gcloud(server.url, 'topics', 'list', '--format=value(name)');
      expect(listed.out.trim().split('\n')).toContain('projects/gcloud-test/topics/orders');
      const published = await gcloud(server.url, 'topics', 'publish', 'orders', '--message=hello', '--attribute=kind=greeting');
      expect(published.ok, published.out).toBe(true);

      const pulled = await gcloud(server.url, 'subscriptions', 'pull', 'orders-sub', '--auto-ack', '--format=json');
      const [received] = JSON.parse(pulled.out);
      expect(received.message).toMatchObject({ data: Buffer.from('hello').toString('base64'), attributes: { kind: 'greeting' } });
      const again = await gcloud(server.url, 'subscriptions', 'pull', 'orders-sub', '--auto-ack', '--format=json');
      expect(JSON.parse(again.out), 'auto-acked: not delivered again').toEqual([]);

      const member = 'serviceAccount:gmail-api-push@system.gserviceaccount.com';
      const bound = await gcloud(server.url, 'topics', 'add-iam-policy-binding', 'orders', `--member=${member}`, '--role=roles/pubsub.publisher', '--format=json');
      expect(bound.ok, bound.out).toBe(true);
      expect(JSON.parse(bound.out).bindings).toEqual([{ role: 'roles/pubsub.publisher', members: [member] }]);
      const policy = await gcloud(server.url, 'topics', 'get-iam-policy', 'orders', '--format=json');
      expect(JSON.parse(policy.out).bindings).toEqual([{ role: 'roles/pubsub.publisher', members: [member] }]);
    }, 120_000);
  });

  const emulatorMissing = emulatorMissingReason();
  describe.skipIf(emulatorMissing !== undefined)('against the official emulator', () => {
    let emulator: Awaited<ReturnType<typeof startEmulator>>;
    beforeAll(async () => {
      emulator = await startEmulator();
    }, 60_000);
    afterAll(async () => emulator?.stop());

    it('works for topics but refuses add-iam-policy-binding (no IAM)', async () => {
      expect((await gcloud(emulator.url, 'topics', 'create', 'orders')).ok).toBe(true);
      const bound = await gcloud(
        emulator.url,
        'topics',
        'add-iam-policy-binding',
        'orders',
        '--member=serviceAccount:gmail-api-push@system.gserviceaccount.com',
        '--role=roles/pubsub.publisher',
      );
      expect(bound.ok).toBe(false);
    }, 120_000);
  });
});

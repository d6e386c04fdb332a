/**
 * Bad input at the HTTP edge gets 400 INVALID_ARGUMENT in Google's envelope, never a 500, and
 * writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwatch, type RunningServer } from '../helpers/server.ts';

let server: RunningServer;
const T = 'projects/errors/topics/topic';
const S = 'projects/errors/subscriptions/sub';

beforeAll(async () => {
  server = await startMailwatch({ memory: true });
  await fetch(`${server.url}/v1/${T}`, { method: 'PUT' });
  await fetch(`${server.url}/v1/${S}`, { method: 'PUT', body: JSON.stringify({ topic: T }) });
});
afterAll(async () => server.stop());

async function send(method: string, path: string, body: string): Promise<{ status: number; error: any }> {
  const response = await fetch(`${server.url}/v1/${path}`, { method, body, headers: { 'content-type': 'application/json' } });
  return { status: response.status, error: ((await response.json()) as any).error };
}

describe('bad input', () => {
  it.each([
    ['malformed JSON', 'POST', `${T}:publish`, '{"messages": [', /^Invalid JSON payload received\./],
    ['a wrong type', 'PUT', 'projects/errors/subscriptions/typed', '{"topic":"' + T + '","ackDeadlineSeconds":"ten"}', /ack_deadline_seconds/],
    ['an unknown enum value', 'PUT', 'projects/errors/subscriptions/enum', '{"topic":"' + T + '","state":"SLEEPING"}', /state/],
    ['invalid base64', 'POST', `${T}:publish`, '{"messages":[{"data":"%%%"}]}', /Base64 decoding failed/],
    ['an unknown field', 'POST', `${S}:pull`, '{"maxMessages":1,"bogus":true}', /Unknown name "bogus"/],
  ])('%s', async (_label, method, path, body, message) => {
    const { status, error } = await send(method, path, body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.message).toMatch(message);
  });

  it('a request line beyond the header limit, refused before routing', async () => {
    const response = await fetch(`${server.url}/v1/projects/errors/topics/${'x'.repeat(20_000)}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('an oversized body', async () => {
    const huge = JSON.stringify({ messages: [{ data: Buffer.alloc(17 * 1024 * 1024).toString('base64') }] });
    const { status, error } = await send('POST', `${T}:publish`, huge);
    expect(status).toBe(400);
    expect(error).toMatchObject({ status: 'INVALID_ARGUMENT', message: expect.stringMatching(/^Request payload size exceeds the limit/) });
  });

  it('a publish whose messages pass 10 MB, and a message over the attribute limits; nothing is stored', async () => {
    const big = Buffer.alloc(6 * 1000 * 1000).toString('base64');
    const tooBig = await send('POST', `${T}:publish`, JSON.stringify({ messages: [{ data: big }, { data: big }] }));
    expect(tooBig).toMatchObject({ status: 400, error: { status: 'INVALID_ARGUMENT' } });
    const longKey = await send('POST', `${T}:publish`, JSON.stringify({ messages: [{ attributes: { ['k'.repeat(257)]: 'v' } }] }));
    expect(longKey).toMatchObject({ status: 400, error: { status: 'INVALID_ARGUMENT' } });
    const longValue = await send('POST', `${T}:publish`, JSON.stringify({ messages: [{ attributes: { k: 'v'.repeat(1025) } }] }));
    expect(longValue).toMatchObject({ status: 400, error: { status: 'INVALID_ARGUMENT' } });
    const body = await (await fetch(`${server.url}/v1/${S}:pull`, { method: 'POST', body: '{"maxMessages":10,"returnImmediately":true}' })).json();
    expect(body).toEqual({});
  });
});

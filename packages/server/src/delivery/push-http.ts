/**
 * Sends one push over node:http(s) and classifies the answer. node:http, not fetch: Google
 * counts 102 Processing as an ack (https://cloud.google.com/pubsub/docs/push), and fetch
 * (undici) swallows 1xx answers, so a 102 would only show up as a timeout. Never throws: a
 * network error, a timeout or a bad URL is a nack with `error`. Redirects are not followed; a
 * 3xx is not in Google's success list, so it nacks like any other status.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isAckStatus, type PushOutcome, type PushRequest } from './push-request.ts';

/** How much of a response body is read (so the socket can be reused) before it is dropped. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export type SendPush = (request: PushRequest, timeoutMs: number, signal?: AbortSignal) => Promise<PushOutcome>;

export const sendPush: SendPush = (push, timeoutMs, signal) =>
  new Promise<PushOutcome>((resolve) => {
    let settled = false;
    // Set once the request is made; the timeout and abort below may fire before.
    const pending: { req?: ClientRequest } = {};
    const finish = (outcome: PushOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const timer = setTimeout(() => {
      finish({ ack: false, error: `push timed out after ${timeoutMs} ms` });
      pending.req?.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish({ ack: false, error: 'push cancelled' });
      pending.req?.destroy();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    let url: URL;
    try {
      url = new URL(push.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    } catch (error) {
      return finish({ ack: false, error: error instanceof Error ? error.message : String(error) });
    }
    const body = typeof push.body === 'string' ? Buffer.from(push.body) : push.body;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { ...push.headers, 'content-length': String(body.length) } });
    pending.req = req;
    req.on('information', (info) => {
      if (info.statusCode === 102) {
        finish({ ack: true, status: 102 });
        req.destroy();
      }
    });
    req.on('response', (response) => {
      const status = response.statusCode ?? 0;
      finish(isAckStatus(status) ? { ack: true, status } : { ack: false, status });
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > DRAIN_LIMIT_BYTES) response.destroy();
      });
      response.on('error', () => {});
    });
    req.on('error', (error: NodeJS.ErrnoException) => finish({ ack: false, error: error.code ? `${error.message} (${error.code})` : error.message }));
    req.end(body);
  });

/**
 * The HTTP transport: one Fastify instance serving Pub/Sub REST under `/v1/`, the push-auth
 * JWKS, `/healthz` and `GET /` ("Ok", as the emulator answers). Handlers only translate; the
 * broker service decides.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { OidcSigner } from '../delivery/oidc.ts';
import { ApiError } from '../domain/errors.ts';
import { BODY_LIMIT, clientErrorHandler, sendError } from './errors.ts';
import { matchRoute, pubsubRoutes, type PubsubDeps } from './pubsub/routes.ts';

export interface HttpDeps extends PubsubDeps {
  signer: OidcSigner;
  logger: Logger;
  /** Aborted when the server shuts down, so long pulls answer at once. */
  shutdown: AbortSignal;
}

/** Where mailwatch publishes the public keys of its push tokens (Google's is www.googleapis.com/oauth2/v3/certs). */
export const JWKS_PATH = '/oauth2/v3/certs';

export function createHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Errors Fastify raises before routing (a malformed percent-encoding in the URL).
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    clientErrorHandler,
  });

  // Bodies are read as text and parsed by the route (proto3 JSON with Google's error texts),
  // whatever content-type the client sends.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  // Requests in flight, so that shutdown can wait for them: connections come from the one-port
  // router, so the Node server's own close() cannot see them. While shutting down, answers
  // close their connection, so keep-alive clients cannot hold the server open.
  let inFlight = 0;
  let refusing = false;
  const drained = new Set<() => void>();
  app.addHook('onRequest', async (request, reply) => {
    if (refusing) {
      // Shutting down and draining: a request that starts now is not taken (its connection is
      // closed, so the client knows it was not processed), as with a closed listener.
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    inFlight++;
    reply.raw.once('close', () => {
      if (--inFlight === 0) for (const resolve of drained) resolve();
    });
  });
  app.addHook('onSend', async (_request, reply) => {
    if (deps.shutdown.aborted) reply.header('connection', 'close');
  });
  app.decorate('drainRequests', (timeoutMs: number) => {
    refusing = true;
    return inFlight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            drained.delete(done);
            resolve();
          };
          const timer = setTimeout(done, timeoutMs);
          drained.add(done);
        });
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new ApiError('NOT_FOUND', `The requested URL ${request.url.split('?')[0]} was not found on this server.`), request, reply),
  );

  app.get('/', async (_request, reply) => reply.type('text/plain').send('Ok'));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get(JWKS_PATH, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(deps.signer.jwks()));

  const routes = pubsubRoutes(deps);
  app.route({
    method: ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'],
    url: '/v1/*',
    handler: async (request, reply) => {
      const path = request.url.slice('/v1/'.length).split('?')[0];
      let segments: string[];
      try {
        segments = path.split('/').map(decodeURIComponent);
      } catch {
        throw new ApiError('INVALID_ARGUMENT', `Invalid percent-encoding in the path ${path}.`);
      }
      const match = matchRoute(routes, request.method, segments);
      if (!match) throw new ApiError('NOT_FOUND', `The requested URL /v1/${path} was not found on this server.`);
      const closed = new AbortController();
      const onClose = () => closed.abort();
      // The response's close, not the request's: the request closes once its body is read.
      reply.raw.once('close', onClose);
      try {
        const result = await match.route.handler({
          name: match.name,
          body: typeof request.body === 'string' ? request.body : '',
          query: request.query as Record<string, string | string[] | undefined>,
          signal: AbortSignal.any([closed.signal, deps.shutdown]),
        });
        return reply.type('application/json').send(JSON.stringify(result));
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  });
  return app;
}

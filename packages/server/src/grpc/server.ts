/**
 * The gRPC transport: google.pubsub.v1.Publisher and Subscriber and google.iam.v1.IAMPolicy,
 * loaded at run time from Google's published .proto files (protoIncludeDirs()), serving the
 * same broker as REST. Connections arrive through the one-port router (net/one-port.ts).
 */
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { protoIncludeDirs } from '../protos.ts';
import { iamPolicy } from './iam.ts';
import { publisher } from './publisher.ts';
import { subscriber, type SubscriberDeps } from './subscriber.ts';

/** What the services need: the Subscriber's dependencies cover the other two. */
export type GrpcDeps = SubscriberDeps;

export function createGrpcServer(deps: GrpcDeps): grpc.Server {
  const definition = loader.loadSync(['google/pubsub/v1/pubsub.proto', 'google/iam/v1/iam_policy.proto'], {
    includeDirs: protoIncludeDirs(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: false,
  });
  const proto = grpc.loadPackageDefinition(definition) as any;
  // The client sets grpc.max_metadata_size to 4 MiB and may send 10 MB publishes.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 20 * 1024 * 1024, 'grpc.max_send_message_length': 20 * 1024 * 1024 });
  widenFlowControl(server);
  server.addService(proto.google.pubsub.v1.Publisher.service, publisher(deps.broker, deps.snapshots, deps.logger));
  server.addService(proto.google.pubsub.v1.Subscriber.service, subscriber(deps));
  server.addService(proto.google.iam.v1.IAMPolicy.service, iamPolicy(deps.broker, deps.logger));
  return server;
}

/** HTTP/2 flow-control window for gRPC streams and connections. */
const WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Node's HTTP/2 default window (64 KiB) makes a client stop mid-publish (a 1,000-message
 * request is about 300 KB) until this single thread, busy committing the previous batch,
 * reads the socket and sends WINDOW_UPDATE; client and server then take turns instead of
 * overlapping. A 16 MiB window took `npm run bench -- pubsub-grpc` publish from 55-57k to
 * 68-78k msgs/s. grpc-js has no public option for the server's window, so this sets its
 * HTTP/2 server settings and each session's window through grpc-js 1.14 internals, and does
 * nothing if they are not there.
 */
function widenFlowControl(server: grpc.Server): void {
  const internals = server as unknown as {
    commonServerOptions?: { settings?: Record<string, unknown> };
    createHttp2Server?: (credentials: grpc.ServerCredentials) => import('node:http2').Http2Server;
  };
  const options = internals.commonServerOptions;
  const create = internals.createHttp2Server;
  if (!options || typeof create !== 'function') return;
  options.settings = { ...options.settings, initialWindowSize: WINDOW_BYTES };
  internals.createHttp2Server = function (this: unknown, credentials: grpc.ServerCredentials) {
    const http2Server = create.call(this, credentials);
    http2Server.on('session', (session) => {
      const widen = () => session.setLocalWindowSize(WINDOW_BYTES);
      if (session.connecting) session.once('connect', widen);
      else widen();
    });
    return http2Server;
  };
}

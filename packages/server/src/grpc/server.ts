/**
 * The gRPC transport: google.pubsub.v1.Publisher and Subscriber and google.iam.v1.IAMPolicy,
 * loaded at run time from Google's published .proto files (protoIncludeDirs()), serving the
 * same broker as REST. Connections arrive through the one-port router (net/one-port.ts).
 */
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { Leases } from '../domain/broker/leases.ts';
import type { BrokerService } from '../domain/broker/service.ts';
import type { Snapshots } from '../domain/broker/snapshots.ts';
import { protoIncludeDirs } from '../protos.ts';
import { iamPolicy } from './iam.ts';
import { publisher } from './publisher.ts';
import { subscriber } from './subscriber.ts';

export interface GrpcDeps {
  broker: BrokerService;
  leases: Leases;
  snapshots: Snapshots;
  logger: Logger;
  pullWaitMs: number;
  shutdown: AbortSignal;
}

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
  server.addService(proto.google.pubsub.v1.Publisher.service, publisher(deps.broker, deps.snapshots, deps.logger));
  server.addService(proto.google.pubsub.v1.Subscriber.service, subscriber(deps));
  server.addService(proto.google.iam.v1.IAMPolicy.service, iamPolicy(deps.broker, deps.logger));
  return server;
}

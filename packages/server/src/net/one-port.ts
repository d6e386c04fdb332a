/**
 * One port for everything: each connection is routed by its first bytes. The HTTP/2 client
 * preface (gRPC) goes to @grpc/grpc-js through a connection injector; anything else to the
 * Node HTTP server behind Fastify (reference/pubsub.md, section 6, "Serving gRPC and REST on
 * one port").
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function createOnePortServer(http: HttpServer, grpcServer: grpc.Server): Server {
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  // No Nagle delay: gRPC and HTTP answers are small writes that must leave at once.
  return createServer({ pauseOnConnect: false, noDelay: true }, (socket: Socket) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, PREFACE.length);
      const isPreface = buffered.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isPreface && buffered.length < PREFACE.length) return; // undecided: wait for more
      socket.off('data', onData);
      socket.pause();
      socket.unshift(buffered);
      if (isPreface) {
        // HTTP/2 reads the bytes put back from the socket's buffer itself; resuming the
        // stream here would hand them to nobody.
        injector.injectConnection(socket);
      } else {
        http.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
}

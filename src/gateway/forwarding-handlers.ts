import type * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import type { HttpBinding } from './http-rules';
import type { LocalCall } from './local-call';
import type { GrpcHandler } from './rest-gateway';

/** A remote call as grpc-js's client returns it: cancellable, with response headers. */
type RemoteCall = grpc.Call | grpc.ClientUnaryCall;

/**
 * Handlers that forward each call to a remote gRPC server through `client` (the standalone
 * gateway): request metadata (Authorization included) and the deadline go along, response
 * headers come back (`x-routeguide-replica`), statuses are passed through, and backpressure
 * runs both ways (a full local write buffer pauses the remote stream, and the reverse).
 * Cancelling the local call cancels the remote one.
 */
export function forwardingHandlers(
  client: grpc.Client,
  packageDefinition: protoLoader.PackageDefinition,
  bindings: readonly HttpBinding[],
): (grpcPath: string) => GrpcHandler | undefined {
  const handlers = new Map<string, GrpcHandler>();
  for (const binding of bindings) {
    const service = packageDefinition[binding.service] as protoLoader.ServiceDefinition;
    const method = service[binding.method]!;
    handlers.set(binding.grpcPath, forwarder(client, method));
  }
  return (grpcPath) => handlers.get(grpcPath);
}

function forwarder(
  client: grpc.Client,
  method: protoLoader.MethodDefinition<object, object>,
): GrpcHandler {
  const { path, requestSerialize, responseDeserialize, requestStream, responseStream } = method;
  return (call, callback) => {
    const options: grpc.CallOptions = { deadline: call.getDeadline() };
    const metadata = call.metadata.clone();
    const done = (error: grpc.ServiceError | null, value?: object): void =>
      error ? callback!(statusOf(error)) : callback!(null, value);
    let remote: RemoteCall;
    if (!requestStream && !responseStream) {
      remote = client.makeUnaryRequest(
        path,
        requestSerialize,
        responseDeserialize,
        call.request as object,
        metadata,
        options,
        done,
      );
    } else if (requestStream && !responseStream) {
      const stream = client.makeClientStreamRequest(
        path,
        requestSerialize,
        responseDeserialize,
        metadata,
        options,
        done,
      );
      pipeRequests(call, stream);
      remote = stream;
    } else if (!requestStream) {
      const stream = client.makeServerStreamRequest(
        path,
        requestSerialize,
        responseDeserialize,
        call.request as object,
        metadata,
        options,
      );
      pipeResponses(stream, call);
      remote = stream;
    } else {
      const stream = client.makeBidiStreamRequest(
        path,
        requestSerialize,
        responseDeserialize,
        metadata,
        options,
      );
      pipeRequests(call, stream);
      pipeResponses(stream, call);
      remote = stream;
    }
    remote.on('metadata', (headers: grpc.Metadata) => call.sendMetadata(headers));
    call.once('cancelled', () => remote.cancel());
  };
}

/** Local request messages to the remote stream, pausing the local side while it is full. */
function pipeRequests(call: LocalCall, remote: grpc.ClientWritableStream<object>): void {
  call.on('data', (message: object) => {
    if (!remote.write(message)) {
      call.pause();
      remote.once('drain', () => call.resume());
    }
  });
  call.once('end', () => remote.end());
}

/** Remote response messages to the local call, pausing the remote side while it is full. */
function pipeResponses(remote: grpc.ClientReadableStream<object>, call: LocalCall): void {
  remote.on('data', (message: object) => {
    if (!call.write(message)) {
      remote.pause();
      call.once('drain', () => remote.resume());
    }
  });
  remote.once('end', () => call.end());
  remote.once('error', (error: grpc.ServiceError) => call.emit('error', statusOf(error)));
}

function statusOf(error: grpc.ServiceError): Partial<grpc.StatusObject> {
  return { code: error.code, details: error.details, metadata: error.metadata };
}

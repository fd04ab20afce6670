/**
 * A load-generating client process, forked by the runner. Several run at once so that the
 * client side is not the bottleneck. GetFeature and ListFeatures go through the lean HTTP/2
 * client (h2-client.ts), which costs far less per call than grpc-js's client; the streaming
 * uploads (RecordRoute, RouteChat) and the memory scenarios use grpc-js's client.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as protobuf from 'protobufjs';
import type { ProtoGrpcType } from '../src/generated/route_guide';
import type { RouteGuideClient } from '../src/generated/routeguide/RouteGuide';
import {
  GOOGLE_API_PROTO_DIR,
  loadRouteGuideRoot,
  PROTO_LOADER_OPTIONS,
} from '../src/protocol/proto';
import { createRandom, GRID_E7 } from './generate';
import { grpcFrame, H2GrpcClient } from './h2-client';
import { repoRoot } from './paths';
import { runRestLoad } from './rest-load';
import type {
  FloodSpec,
  FromWorker,
  LoadResult,
  LoadSpec,
  SlowReadSpec,
  ToWorker,
  Workload,
} from './protocol';

function send(message: FromWorker): void {
  process.send!(message);
}

function loadProto(): ProtoGrpcType {
  const protos = path.join(repoRoot(), 'protos');
  const definition = protoLoader.loadSync(path.join(protos, 'route_guide.proto'), {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protos, GOOGLE_API_PROTO_DIR],
  });
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}

const deadline = (ms: number): grpc.CallOptions => ({ deadline: Date.now() + ms });

/** The connection to the server under load, through both clients. */
interface Connection {
  client: RouteGuideClient;
  h2: H2GrpcClient;
}

/** GetFeature and ListFeatures requests, framed once per load for the HTTP/2 client. */
interface FramedRequests {
  path: string;
  frames: Buffer[];
}

function framedRequests(root: protobuf.Root, workload: Workload): FramedRequests | undefined {
  const frame = (type: string, message: object): Buffer =>
    grpcFrame(root.lookupType(type).encode(message).finish());
  switch (workload.rpc) {
    case 'GetFeature':
      return {
        path: '/routeguide.RouteGuide/GetFeature',
        frames: workload.points.map((point) => frame('routeguide.Point', point)),
      };
    case 'ListFeatures':
      return {
        path: '/routeguide.RouteGuide/ListFeatures',
        frames: workload.boxes.map((box) => frame('routeguide.Rectangle', box)),
      };
    default:
      return undefined;
  }
}

/** Runs one call of the workload; resolves with the number of items it moved. */
function callOnce(
  connection: Connection,
  framed: FramedRequests | undefined,
  workload: Workload,
  i: number,
  timeoutMs: number,
  authorization?: string,
): Promise<number> {
  if (framed !== undefined) {
    const frame = framed.frames[i % framed.frames.length]!;
    return connection.h2.call(framed.path, frame, timeoutMs, authorization);
  }
  const { client } = connection;
  return new Promise((resolve, reject) => {
    switch (workload.rpc) {
      case 'GetFeature': {
        const point = workload.points[i % workload.points.length]!;
        client.GetFeature(point, deadline(timeoutMs), (error) =>
          error ? reject(error) : resolve(1),
        );
        return;
      }
      case 'ListFeatures': {
        let items = 0;
        const call = client.ListFeatures(
          workload.boxes[i % workload.boxes.length]!,
          deadline(timeoutMs),
        );
        call.on('data', () => items++);
        call.on('error', reject);
        call.on('end', () => resolve(items));
        return;
      }
      case 'RecordRoute': {
        const route = workload.routes[i % workload.routes.length]!;
        const call = client.RecordRoute(deadline(timeoutMs), (error) =>
          error ? reject(error) : resolve(route.length),
        );
        for (const point of route) call.write(point);
        call.end();
        return;
      }
      case 'RouteChat': {
        let items = 0;
        const call = client.RouteChat(deadline(timeoutMs));
        call.on('data', () => items++);
        call.on('error', reject);
        call.on('end', () => resolve(items));
        const { locations, notesPerCall } = workload;
        for (let n = 0; n < notesPerCall; n++) {
          const location = locations[(i * notesPerCall + n) % locations.length]!;
          call.write({ location, message: `bench note ${i}/${n}` });
        }
        call.end();
        return;
      }
    }
  });
}

/** Closed loop: `concurrency` lanes each start the next call when the previous one ends. */
async function runLoad(
  connection: Connection,
  messages: protobuf.Root,
  spec: LoadSpec,
): Promise<LoadResult> {
  const result: LoadResult = { calls: 0, errors: 0, items: 0, latenciesUs: [], wallMs: 0 };
  const framed = framedRequests(messages, spec.workload);
  const started = performance.now();
  const stopAt = started + spec.durationMs;
  let next = spec.offset;
  let issued = 0;
  const lane = async (): Promise<void> => {
    while (issued < spec.maxCalls && performance.now() < stopAt) {
      issued++;
      const t0 = performance.now();
      try {
        // Await first: `items += await …` would read `items` before other lanes add to it.
        const items = await callOnce(
          connection,
          framed,
          spec.workload,
          next++,
          spec.callTimeoutMs,
          spec.authorization,
        );
        result.items += items;
        result.latenciesUs.push(Math.round((performance.now() - t0) * 1000));
        result.calls++;
      } catch (error) {
        result.errors++;
        result.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, lane));
  result.wallMs = performance.now() - started;
  return result;
}

/** Reads a ListFeatures stream, stops reading for a while mid-stream, then reads the rest. */
function slowRead(client: RouteGuideClient, spec: SlowReadSpec): Promise<LoadResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let items = 0;
    const call = client.ListFeatures(spec.box, deadline(spec.callTimeoutMs));
    call.on('data', () => {
      if (++items !== spec.pauseAfter) return;
      call.pause();
      send({ type: 'paused', received: items });
      setTimeout(() => call.resume(), spec.pauseMs);
    });
    call.on('error', reject);
    call.on('end', () => {
      const wallMs = performance.now() - started;
      resolve({ calls: 1, errors: 0, items, latenciesUs: [Math.round(wallMs * 1000)], wallMs });
    });
  });
}

/** Sends many notes at many locations over several streams, honouring client-side backpressure. */
async function flood(client: RouteGuideClient, spec: FloodSpec): Promise<LoadResult> {
  const started = performance.now();
  const random = createRandom(spec.seed);
  const result: LoadResult = { calls: 0, errors: 0, items: 0, latenciesUs: [], wallMs: 0 };
  let remaining = spec.notes;
  const stream = async (): Promise<void> => {
    while (remaining > 0) {
      const count = Math.min(spec.notesPerStream, remaining);
      remaining -= count;
      const t0 = performance.now();
      const call = client.RouteChat(deadline(spec.callTimeoutMs));
      const done = new Promise<void>((resolve, reject) => {
        call.on('data', () => result.items++);
        call.on('error', reject);
        call.on('end', resolve);
      });
      for (let n = 0; n < count; n++) {
        const cell = Math.floor(random() * spec.locations);
        const location = {
          latitude: (cell % 1000) * GRID_E7,
          longitude: Math.floor(cell / 1000) * GRID_E7,
        };
        if (!call.write({ location, message: `flood note ${n} from ${process.pid}` })) {
          await new Promise((resolve) => call.once('drain', resolve));
        }
      }
      call.end();
      try {
        await done;
        result.calls++;
        result.latenciesUs.push(Math.round((performance.now() - t0) * 1000));
      } catch (error) {
        result.errors++;
        result.firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: spec.streams }, stream));
  result.wallMs = performance.now() - started;
  return result;
}

function main(): void {
  const proto = loadProto();
  // The message types, for framing requests once per load (the HTTP/2 client).
  const messages = loadRouteGuideRoot(path.join(repoRoot(), 'protos'));
  // Connections stay open until 'disconnect', so that a run can alternate between servers
  // without reconnecting; the latest is the default.
  const connections = new Map<number, Connection>();
  let latest: number | undefined;
  const connected = (port = latest): Connection => {
    const connection = port === undefined ? undefined : connections.get(port);
    if (!connection) throw new Error(`not connected to ${port}`);
    return connection;
  };
  const close = (): void => {
    for (const { client, h2 } of connections.values()) {
      client.close();
      h2.close();
    }
    connections.clear();
    latest = undefined;
  };
  const reply = (work: Promise<LoadResult>): void => {
    work.then(
      (result) => send({ type: 'result', result }),
      (error: unknown) =>
        send({ type: 'failed', error: String((error as Error)?.message ?? error) }),
    );
  };
  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'connect': {
        latest = message.port;
        if (connections.has(message.port)) {
          send({ type: 'connected' });
          return;
        }
        const address = `127.0.0.1:${message.port}`;
        const client = new proto.routeguide.RouteGuide(address, grpc.credentials.createInsecure());
        const h2 = new H2GrpcClient(address);
        connections.set(message.port, { client, h2 });
        const grpcReady = new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 30_000, (error) => (error ? reject(error) : resolve())),
        );
        Promise.all([grpcReady, h2.ready(30_000)]).then(
          () => send({ type: 'connected' }),
          (error: unknown) => send({ type: 'failed', error: String((error as Error)?.message) }),
        );
        return;
      }
      case 'load':
        return reply(runLoad(connected(message.spec.port), messages, message.spec));
      case 'rest-load':
        return reply(runRestLoad(message.spec));
      case 'slow-read':
        return reply(slowRead(connected().client, message.spec));
      case 'flood':
        return reply(flood(connected().client, message.spec));
      case 'disconnect':
        close();
        return;
      case 'exit':
        close();
        process.disconnect();
        return;
    }
  });
  // Never outlive the runner.
  process.on('disconnect', () => process.exit(0));
}

main();

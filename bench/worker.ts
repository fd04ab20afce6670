/**
 * A load-generating client process, forked by the runner. Several run at once so that the
 * client side (which costs grpc-js about as much CPU as the server) is not the bottleneck.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../src/generated/route_guide';
import type { RouteGuideClient } from '../src/generated/routeguide/RouteGuide';
import { PROTO_LOADER_OPTIONS } from '../src/grpc/proto';
import { createRandom, GRID_E7 } from './generate';
import { repoRoot } from './paths';
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
    includeDirs: [protos],
  });
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}

const deadline = (ms: number): grpc.CallOptions => ({ deadline: Date.now() + ms });

/** Runs one call of the workload; resolves with the number of items it moved. */
function callOnce(
  client: RouteGuideClient,
  workload: Workload,
  i: number,
  timeoutMs: number,
): Promise<number> {
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
async function runLoad(client: RouteGuideClient, spec: LoadSpec): Promise<LoadResult> {
  const result: LoadResult = { calls: 0, errors: 0, items: 0, latenciesUs: [], wallMs: 0 };
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
        const items = await callOnce(client, spec.workload, next++, spec.callTimeoutMs);
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
  let client: RouteGuideClient | undefined;
  const connected = (): RouteGuideClient => {
    if (!client) throw new Error('not connected');
    return client;
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
      case 'connect':
        client?.close();
        client = new proto.routeguide.RouteGuide(
          `127.0.0.1:${message.port}`,
          grpc.credentials.createInsecure(),
        );
        client.waitForReady(Date.now() + 30_000, (error) =>
          error ? send({ type: 'failed', error: error.message }) : send({ type: 'connected' }),
        );
        return;
      case 'load':
        return reply(runLoad(connected(), message.spec));
      case 'slow-read':
        return reply(slowRead(connected(), message.spec));
      case 'flood':
        return reply(flood(connected(), message.spec));
      case 'disconnect':
        client?.close();
        client = undefined;
        return;
      case 'exit':
        client?.close();
        process.disconnect();
        return;
    }
  });
  // Never outlive the runner.
  process.on('disconnect', () => process.exit(0));
}

main();

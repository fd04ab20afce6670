/**
 * The baseline the benchmark compares against: a RouteGuide server written the way the official
 * grpc-node example is (examples/routeguide/dynamic_codegen/route_guide_server.js in
 * grpc/grpc-node): proto-loader with the example's options, features as plain objects from
 * JSON.parse, a linear scan per GetFeature, ListFeatures writing every *named* feature in the
 * box as an object with no flow control, notes in an object keyed by "lat lon". No
 * interceptors, health, reflection, metrics or validation.
 *
 * Environment: PORT (0 = any), FEATURES_FILE. Prints one JSON line
 * `{"msg":"routeguide serving","port":N}` when ready, like the real server.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from './paths';

interface Point {
  latitude: number;
  longitude: number;
}
interface Feature {
  name: string;
  location: Point;
}
interface Note {
  location: Point;
  message: string;
}

const COORD_FACTOR = 1e7;

function main(): void {
  const definition = protoLoader.loadSync(path.join(repoRoot(), 'protos', 'route_guide.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    // Our proto imports google/api/annotations.proto (REST routes), which protobufjs ships.
    includeDirs: [path.dirname(require.resolve('protobufjs/package.json'))],
  });
  const routeguide = grpc.loadPackageDefinition(definition)['routeguide'] as grpc.GrpcObject;
  const service = (routeguide['RouteGuide'] as grpc.ServiceClientConstructor).service;

  let features: Feature[] = [];
  const notes: Record<string, Note[]> = {};

  const checkFeature = (point: Point): Feature => {
    for (const feature of features) {
      if (
        feature.location.latitude === point.latitude &&
        feature.location.longitude === point.longitude
      ) {
        return feature;
      }
    }
    return { name: '', location: point };
  };

  const distance = (start: Point, end: Point): number => {
    const radians = (degrees: number): number => (degrees * Math.PI) / 180;
    const lat1 = radians(start.latitude / COORD_FACTOR);
    const lat2 = radians(end.latitude / COORD_FACTOR);
    const dLat = lat2 - lat1;
    const dLon = radians(end.longitude / COORD_FACTOR) - radians(start.longitude / COORD_FACTOR);
    const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1) * Math.cos(lat2) * Math.sin(dLon / 2) ** 2;
    return 6371000 * 2 * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
  };

  const server = new grpc.Server();
  server.addService(service, {
    getFeature(call: grpc.ServerUnaryCall<Point, Feature>, callback: grpc.sendUnaryData<Feature>) {
      callback(null, checkFeature(call.request));
    },
    listFeatures(call: grpc.ServerWritableStream<{ lo: Point; hi: Point }, Feature>) {
      const { lo, hi } = call.request;
      const left = Math.min(lo.longitude, hi.longitude);
      const right = Math.max(lo.longitude, hi.longitude);
      const top = Math.max(lo.latitude, hi.latitude);
      const bottom = Math.min(lo.latitude, hi.latitude);
      for (const feature of features) {
        if (feature.name === '') continue;
        const { latitude, longitude } = feature.location;
        if (longitude >= left && longitude <= right && latitude >= bottom && latitude <= top) {
          call.write(feature);
        }
      }
      call.end();
    },
    recordRoute(
      call: grpc.ServerReadableStream<Point, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      let pointCount = 0;
      let featureCount = 0;
      let total = 0;
      let previous: Point | null = null;
      const started = process.hrtime();
      call.on('data', (point: Point) => {
        pointCount++;
        if (checkFeature(point).name !== '') featureCount++;
        if (previous !== null) total += distance(previous, point);
        previous = point;
      });
      call.on('end', () => {
        callback(null, {
          point_count: pointCount,
          feature_count: featureCount,
          distance: total | 0,
          elapsed_time: process.hrtime(started)[0],
        });
      });
    },
    routeChat(call: grpc.ServerDuplexStream<Note, Note>) {
      call.on('data', (note: Note) => {
        const key = `${note.location.latitude} ${note.location.longitude}`;
        const here = (notes[key] ??= []);
        for (const previous of here) call.write(previous);
        here.push(JSON.parse(JSON.stringify(note)) as Note);
      });
      call.on('end', () => call.end());
    },
  });

  const port = Number(process.env['PORT'] ?? '0');
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
    if (error) throw error;
    features = JSON.parse(readFileSync(process.env['FEATURES_FILE']!, 'utf8')) as Feature[];
    process.stdout.write(`${JSON.stringify({ msg: 'routeguide serving', port: bound })}\n`);
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

main();

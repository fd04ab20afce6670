import type * as grpc from '@grpc/grpc-js';
import type { Feature__Output } from '../../src/generated/routeguide/Feature';
import type { Point } from '../../src/generated/routeguide/Point';
import type { Rectangle } from '../../src/generated/routeguide/Rectangle';
import type { RouteGuideClient } from '../../src/generated/routeguide/RouteGuide';
import type { RouteNote, RouteNote__Output } from '../../src/generated/routeguide/RouteNote';
import type { RouteSummary__Output } from '../../src/generated/routeguide/RouteSummary';

/** Promise wrappers over the callback/stream client API, failing with the ServiceError. */
export function getFeature(client: RouteGuideClient, point: Point): Promise<Feature__Output> {
  return new Promise((resolve, reject) => {
    client.GetFeature(point, (error, feature) => (error ? reject(error) : resolve(feature!)));
  });
}

export function listFeatures(
  client: RouteGuideClient,
  rectangle: Rectangle,
): Promise<Feature__Output[]> {
  return new Promise((resolve, reject) => {
    const features: Feature__Output[] = [];
    const call = client.ListFeatures(rectangle);
    call.on('data', (feature: Feature__Output) => features.push(feature));
    call.on('error', reject);
    call.on('end', () => resolve(features));
  });
}

export function recordRoute(
  client: RouteGuideClient,
  points: Point[],
  pauseMs = 0,
): Promise<RouteSummary__Output> {
  return new Promise((resolve, reject) => {
    const call = client.RecordRoute((error, summary) =>
      error ? reject(error) : resolve(summary!),
    );
    for (const point of points) call.write(point);
    setTimeout(() => call.end(), pauseMs);
  });
}

/** Opens a RouteChat and collects everything the server sends back. */
export function openChat(client: RouteGuideClient): {
  call: grpc.ClientDuplexStream<RouteNote, RouteNote__Output>;
  received: RouteNote__Output[];
  done: Promise<RouteNote__Output[]>;
} {
  const call = client.RouteChat();
  const received: RouteNote__Output[] = [];
  const done = new Promise<RouteNote__Output[]>((resolve, reject) => {
    call.on('data', (note: RouteNote__Output) => received.push(note));
    call.on('error', reject);
    call.on('end', () => resolve(received));
  });
  return { call, received, done };
}

export async function routeChat(
  client: RouteGuideClient,
  notes: RouteNote[],
): Promise<RouteNote__Output[]> {
  const chat = openChat(client);
  for (const note of notes) chat.call.write(note);
  chat.call.end();
  return chat.done;
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function eventually(
  predicate: () => boolean,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits (bounded) until a counter stops moving for `quietMs`, and returns its value. */
export async function settledCount(
  read: () => number,
  quietMs = 300,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = read();
    if (now === last) return now;
    if (Date.now() > deadline) throw new Error(`counter still moving after ${timeoutMs} ms`);
    last = now;
  }
}

/** Outcome of {@link chatOnce}: the replay, or the status the call failed with; `ms` its duration. */
export interface ChatOnceResult {
  replay?: string[];
  code?: number;
  details?: string;
  ms: number;
}

/** RouteChat of one note; resolves (never rejects) with the replay or the status it failed with. */
export function chatOnce(
  client: RouteGuideClient,
  message: string,
  location: Point,
  deadlineMs = 5000,
): Promise<ChatOnceResult> {
  const started = Date.now();
  const call = client.RouteChat({ deadline: Date.now() + deadlineMs });
  const replay: string[] = [];
  return new Promise((resolve) => {
    call.on('data', (note: RouteNote__Output) => replay.push(note.message));
    call.on('error', (error: grpc.ServiceError) =>
      resolve({ code: error.code, details: error.details, ms: Date.now() - started }),
    );
    call.on('end', () => resolve({ replay, ms: Date.now() - started }));
    call.write({ location, message });
    call.end();
  });
}

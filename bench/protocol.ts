/** Messages between the benchmark runner and its forked load-generating workers. */

export type Point = { latitude: number; longitude: number };
export type Box = { lo: Point; hi: Point };

/** One kind of call a worker can drive in a closed loop. */
export type Workload =
  | { rpc: 'GetFeature'; points: Point[] }
  | { rpc: 'ListFeatures'; boxes: Box[] }
  | { rpc: 'RecordRoute'; routes: Point[][] }
  | { rpc: 'RouteChat'; notesPerCall: number; locations: Point[] };

export interface LoadSpec {
  /** The server (one the worker is connected to); its latest connection when unset. */
  port?: number;
  workload: Workload;
  /** Calls in flight per worker. */
  concurrency: number;
  /** No call starts after this long. */
  durationMs: number;
  /** No more than this many calls per worker. */
  maxCalls: number;
  /** Deadline of each call, so a stuck call cannot hang the run. */
  callTimeoutMs: number;
  /** Offset into the inputs so workers do not all send the same sequence. */
  offset: number;
  /** `authorization` metadata of every GetFeature/ListFeatures call (e.g. `Bearer <jwt>`). */
  authorization?: string;
}

/**
 * A REST slice (bench/rest-load.ts): GET requests on keep-alive HTTP/1.1 connections to the
 * gateway, one in flight on each, driven by autocannon; it ends when every request has its
 * response, so no call is cut off while the server works on it.
 */
export interface RestLoadSpec {
  /** The server's REST port. */
  port: number;
  /** Request paths, sent in turn on every connection. */
  paths: string[];
  /** Count the `{"result":…}` lines of NDJSON bodies as items; otherwise each call is one item. */
  ndjson: boolean;
  connections: number;
  /** Requests in all, shared out over the connections. */
  amount: number;
  /** Longest wait for a response. */
  callTimeoutMs: number;
  /** `Authorization` header of every request (e.g. `Bearer <jwt>`). */
  authorization?: string;
}

/** ListFeatures over `box`, pausing `pauseMs` after `pauseAfter` features (backpressure check). */
export interface SlowReadSpec {
  box: Box;
  pauseAfter: number;
  pauseMs: number;
  callTimeoutMs: number;
}

/** Sends `notes` notes over streams of `notesPerStream`, locations drawn from `locations` grid cells. */
export interface FloodSpec {
  notes: number;
  notesPerStream: number;
  streams: number;
  locations: number;
  seed: number;
  callTimeoutMs: number;
}

export type ToWorker =
  | { type: 'connect'; port: number }
  | { type: 'load'; spec: LoadSpec }
  | { type: 'rest-load'; spec: RestLoadSpec }
  | { type: 'slow-read'; spec: SlowReadSpec }
  | { type: 'flood'; spec: FloodSpec }
  | { type: 'disconnect' }
  | { type: 'exit' };

export interface LoadResult {
  calls: number;
  errors: number;
  firstError?: string;
  /** Items streamed back (features, notes) or sent (route points), summed over calls. */
  items: number;
  /** Latency of every successful call, in microseconds. */
  latenciesUs: number[];
  wallMs: number;
}

export type FromWorker =
  | { type: 'connected' }
  | { type: 'paused'; received: number }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; error: string };

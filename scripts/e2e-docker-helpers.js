#!/usr/bin/env node
// Checks for scripts/e2e-docker.sh that are easier in Node than in bash. Each subcommand prints
// what it saw and exits non-zero when the check fails.
//   list <host:port>                          grpcurl-style `list` through server reflection
//   spread <json-file> <replica-id>...        every listed replica served calls, none failed, latency given
//   targets <prometheus-url> <count>          Prometheus scrapes <count> routeguide targets, all up
//   rest-get <base-url> <replica-id>          REST /healthz and GetFeature, answered by that replica
//   rest-list <base-url> <grpc-list-json>     REST ListFeatures (NDJSON) = the gRPC list's features
//   rest-docs <base-url>                      /openapi.json and Swagger UI (/docs/ and its assets)
//   ws-chat <ws-url-a> <ws-url-b>             WebSocket RouteChat: a note sent through A replays through B
'use strict';
/* global fetch, AbortSignal, URL, setTimeout, clearTimeout */

const path = require('node:path');
const fs = require('node:fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const REFLECTION_PROTO = path.join(
  path.dirname(require.resolve('@grpc/reflection/package.json')),
  'build/proto/grpc/reflection/v1/reflection.proto',
);

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Lists the services a server exposes, as `grpcurl -plaintext <address> list` does. */
function list(address) {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, { keepCase: true });
  const { ServerReflection } = grpc.loadPackageDefinition(definition).grpc.reflection.v1;
  const client = new ServerReflection(address, grpc.credentials.createInsecure());
  const call = client.ServerReflectionInfo({ deadline: Date.now() + 10_000 });
  call.on('data', (response) => {
    const services = response.list_services_response?.service ?? [];
    for (const { name } of services) process.stdout.write(`${name}\n`);
    call.end();
  });
  call.on('error', (error) => fail(`list ${address}: ${error.message}`));
  call.on('end', () => client.close());
  call.write({ list_services: '' });
}

/** Reads the CLI's `spread --json` output and checks it against the replicas that exist. */
function spread(file, replicas) {
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.failed !== 0) fail(`spread: ${result.failed} calls failed`);
  const served = result.replicas ?? {};
  const missing = replicas.filter((id) => !(served[id] > 0));
  if (missing.length > 0) fail(`spread: replicas that served no call: ${missing.join(', ')}`);
  const unknown = Object.keys(served).filter((id) => !replicas.includes(id));
  if (unknown.length > 0) fail(`spread: answers from unknown replicas: ${unknown.join(', ')}`);
  const latency = result.latencyMs ?? {};
  if (!(latency.p50 > 0 && latency.p99 >= latency.p50)) {
    fail(`spread: latencyMs missing or inconsistent: ${JSON.stringify(result.latencyMs)}`);
  }
}

/** Checks Prometheus's active targets for the routeguide job. */
async function targets(url, count) {
  const response = await fetch(`${url}/api/v1/targets?state=active`);
  if (!response.ok) fail(`targets: HTTP ${response.status}`);
  const body = await response.json();
  const ours = body.data.activeTargets.filter((t) => t.labels.job === 'routeguide');
  for (const t of ours) process.stdout.write(`${t.scrapeUrl} ${t.health} ${t.lastError}\n`);
  const up = ours.filter((t) => t.health === 'up').length;
  if (ours.length !== count || up !== count)
    fail(`targets: ${up} of ${ours.length} up, want ${count}`);
}

const GET_FEATURE = '/v1/features/407838351/-746143763';
const PATRIOTS_PATH = 'Patriots Path, Mendham, NJ 07945, USA';

/** GET `url` (10 s deadline); fails unless the status is `status`. */
async function get(url, status = 200) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: 'manual' });
  const body = await response.text();
  if (response.status !== status) fail(`GET ${url}: HTTP ${response.status} ${body.slice(0, 300)}`);
  return { response, body };
}

/** /healthz is SERVING and GetFeature answers the feature, from the replica named. */
async function restGet(base, replica) {
  const health = await get(`${base}/healthz`);
  if (JSON.parse(health.body).status !== 'SERVING') fail(`${base}/healthz: ${health.body}`);
  const { response, body } = await get(`${base}${GET_FEATURE}`);
  const from = response.headers.get('grpc-metadata-x-routeguide-replica');
  if (JSON.parse(body).name !== PATRIOTS_PATH || from !== replica)
    fail(`${base}${GET_FEATURE}: ${body} from replica ${from}, want ${replica}`);
  process.stdout.write(`${base}: healthz SERVING, GetFeature from ${from}\n`);
}

/** ListFeatures as NDJSON: one {"result": feature} line per feature the gRPC call listed. */
async function restList(base, grpcFile) {
  const { features } = JSON.parse(fs.readFileSync(grpcFile, 'utf8'));
  const query =
    'lo.latitude=400000000&lo.longitude=-750000000&hi.latitude=420000000&hi.longitude=-730000000';
  const { response, body } = await get(`${base}/v1/features?${query}`);
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-ndjson')) fail(`ListFeatures: content-type ${type}`);
  const lines = body
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
  const got = lines.map(
    (l) =>
      l.result && `${l.result.name}@${l.result.location.latitude},${l.result.location.longitude}`,
  );
  const want = features.map((f) => `${f.name}@${f.location.latitude},${f.location.longitude}`);
  if (want.length === 0 || JSON.stringify(got) !== JSON.stringify(want))
    fail(
      `ListFeatures: ${got.length} NDJSON results ${JSON.stringify(got.slice(0, 3))}…, want the gRPC call's ${want.length}`,
    );
  process.stdout.write(`${lines.length} NDJSON lines, the same features as over gRPC\n`);
}

/** The OpenAPI document, Swagger UI's page and every asset it loads, all from the image. */
async function restDocs(base) {
  const document = JSON.parse((await get(`${base}/openapi.json`)).body);
  const paths = Object.keys(document.paths ?? {});
  if (document.openapi !== '3.1.0' || !paths.includes('/v1/features/{latitude}/{longitude}'))
    fail(`openapi.json: openapi ${document.openapi}, paths ${paths.join(' ')}`);
  await get(`${base}/docs`, 301);
  const page = (await get(`${base}/docs/`)).body;
  const assets = [...page.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
  if (!assets.some((a) => a.includes('swagger-ui-bundle.js')))
    fail(`/docs/ loads ${assets.join(' ')}`);
  for (const asset of assets) await get(new URL(asset, `${base}/docs/`).href);
  process.stdout.write(
    `openapi ${document.openapi}, ${paths.length} paths; /docs/ and its ${assets.length} assets served\n`,
  );
}

/** Opens a RouteChat WebSocket; resolves with its messages and close code once it closes. */
function chatSocket(url, notes) {
  const WebSocket = require('ws');
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages = [];
    const timer = setTimeout(
      () => (socket.terminate(), reject(new Error(`${url}: no close in 10 s`))),
      10_000,
    );
    socket.on('open', () => {
      for (const note of notes) socket.send(JSON.stringify(note));
      socket.send(''); // half-close: the server finishes the replays and closes
    });
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.on('error', (error) => (clearTimeout(timer), reject(error)));
    socket.on('close', (code) => (clearTimeout(timer), resolve({ messages, code })));
  });
}

/** A note sent through A's WebSocket is replayed to a client on B's (the replicas share Redis). */
async function wsChat(urlA, urlB) {
  // A location of its own, so notes of earlier runs or steps are not replayed.
  const location = { latitude: 100_000_000 + (Date.now() % 700_000_000), longitude: -1_234_567 };
  const note = (message) => ({ location, message });
  const first = await chatSocket(urlA, [note('through A')]);
  const second = await chatSocket(urlB, [note('through B')]);
  // Replayed notes (message at this location), then the call's status, then close 1000.
  const want = (answer, replays, what) => {
    const got = answer.messages.map((m) =>
      m.status
        ? `status ${m.status.code}`
        : `${m.message}@${m.location.latitude},${m.location.longitude}`,
    );
    const expected = [
      ...replays.map((m) => `${m}@${location.latitude},${location.longitude}`),
      'status 0',
    ];
    if (answer.code !== 1000 || JSON.stringify(got) !== JSON.stringify(expected))
      fail(
        `${what}: close ${answer.code}, ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`,
      );
  };
  want(first, [], urlA);
  want(second, ['through A'], urlB);
  process.stdout.write(
    `${urlB} replayed the note sent through ${urlA}; both closed 1000 with status OK\n`,
  );
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case 'list':
    list(args[0]);
    break;
  case 'spread':
    spread(args[0], args.slice(1));
    break;
  case 'targets':
    targets(args[0], Number(args[1])).catch((error) => fail(`targets: ${error.message}`));
    break;
  case 'rest-get':
    restGet(args[0], args[1]).catch((error) => fail(`rest-get: ${error.message}`));
    break;
  case 'rest-list':
    restList(args[0], args[1]).catch((error) => fail(`rest-list: ${error.message}`));
    break;
  case 'rest-docs':
    restDocs(args[0]).catch((error) => fail(`rest-docs: ${error.message}`));
    break;
  case 'ws-chat':
    wsChat(args[0], args[1]).catch((error) => fail(`ws-chat: ${error.message}`));
    break;
  default:
    fail(
      `usage: e2e-docker-helpers.js list|spread|targets|rest-get|rest-list|rest-docs|ws-chat ...`,
    );
}

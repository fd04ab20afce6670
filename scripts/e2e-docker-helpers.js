#!/usr/bin/env node
// Checks for scripts/e2e-docker.sh that are easier in Node than in bash. Each subcommand prints
// what it saw and exits non-zero when the check fails.
//   list <host:port>                          grpcurl-style `list` through server reflection
//   spread <json-file> <replica-id>...        every listed replica served calls, none failed, latency given
//   targets <prometheus-url> <count>          Prometheus scrapes <count> routeguide targets, all up
'use strict';
/* global fetch */

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
  default:
    fail(`usage: e2e-docker-helpers.js list|spread|targets ...`);
}

#!/usr/bin/env node
// The stalled-reader attack for scripts/e2e-docker.sh, in plain Node (node:http2 and node:net
// only, nothing to build): whole-world ListFeatures streams whose client never reads, spread
// over a few connections, held, then abandoned by destroying the sockets. The same attack as
// stalledReaders() in test/helpers/attacks.ts. Prints one JSON line of what it saw; exits 0
// unless it could not connect at all. Bounded: every wait has a deadline.
//   node scripts/e2e-attack.js <host:port> [streams=10000] [connections=20] [hold-ms=10000]
'use strict';
/* global Buffer, setTimeout, clearTimeout */

const http2 = require('node:http2');
const net = require('node:net');

const [address, streamsArg, connectionsArg, holdArg] = process.argv.slice(2);
if (!address) {
  process.stderr.write('usage: e2e-attack.js <host:port> [streams] [connections] [hold-ms]\n');
  process.exit(2);
}
const STREAMS = Number(streamsArg ?? 10_000);
const CONNECTIONS = Number(connectionsArg ?? 20);
const HOLD_MS = Number(holdArg ?? 10_000);
const OPEN_TIMEOUT_MS = 15_000;

/** Protobuf varint of an int32 value (negative values take ten bytes). */
function varint(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** One gRPC length-prefixed Rectangle covering the whole world. */
function worldRequest() {
  const point = (lat, lng) => [0x08, ...varint(lat), 0x10, ...varint(lng)];
  const lo = point(-900_000_000, -1_800_000_000);
  const hi = point(900_000_000, 1_800_000_000);
  const message = Buffer.from([0x0a, lo.length, ...lo, 0x12, hi.length, ...hi]);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

const withTimeout = (promise, ms) =>
  Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

function openSession() {
  const colon = address.lastIndexOf(':');
  const socket = net.connect({
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
  });
  socket.on('error', () => undefined);
  // A 1 KiB stream window the client never reopens: the server's writes stall at once.
  const session = http2.connect(`http://${address}`, {
    settings: { initialWindowSize: 1024, enablePush: false },
    createConnection: () => socket,
  });
  session.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timeout')), OPEN_TIMEOUT_MS);
    session.once('connect', () => {
      clearTimeout(timer);
      resolve({ session, socket });
    });
    session.once('close', () => reject(new Error('closed before connect')));
  });
}

async function main() {
  const started = Date.now();
  const results = await Promise.allSettled(Array.from({ length: CONNECTIONS }, openSession));
  const sessions = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  if (sessions.length === 0) {
    process.stderr.write(`e2e-attack: no connection to ${address}\n`);
    process.exit(1);
  }
  const body = worldRequest();
  const figures = {
    streams: STREAMS,
    connections: sessions.length,
    answered: 0,
    refused: {},
    reset: 0,
  };
  const settled = [];
  let vanishing = false;
  for (let i = 0; i < STREAMS; i++) {
    const { session } = sessions[i % sessions.length];
    if (session.closed || session.destroyed) continue;
    const stream = session.request({
      ':method': 'POST',
      ':path': '/routeguide.RouteGuide/ListFeatures',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => undefined);
    stream.pause();
    settled.push(
      new Promise((resolve) => {
        const outcome = (headers) => {
          const status = headers['grpc-status'];
          if (status === undefined) figures.answered++;
          else if (status !== '0') figures.refused[status] = (figures.refused[status] ?? 0) + 1;
          resolve();
        };
        stream.once('response', outcome);
        stream.once('trailers', outcome);
        stream.once('close', () => {
          if (!vanishing && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) figures.reset++;
          resolve();
        });
      }),
    );
    stream.end(body);
  }
  await withTimeout(Promise.all(settled), OPEN_TIMEOUT_MS);
  figures.openMs = Date.now() - started;
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
  // Vanish: destroy the sockets without closing a stream.
  vanishing = true;
  await withTimeout(
    Promise.all(
      sessions.map(
        ({ socket }) =>
          new Promise((resolve) => {
            socket.once('close', resolve);
            socket.destroy();
          }),
      ),
    ),
    10_000,
  );
  figures.totalMs = Date.now() - started;
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`e2e-attack: ${error.stack ?? error}\n`);
  process.exit(1);
});

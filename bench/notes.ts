/**
 * RouteChat notes benchmark: the in-memory store against Redis, in one run (npm run bench:notes).
 *
 * Starts a local `redis-server` (127.0.0.1, free port, temporary directory, no persistence) and,
 * for each store, the real server (`node dist/main.js`, METRICS=false, LOG_LEVEL=silent) on
 * 127.0.0.1. STREAMS RouteChat streams each send notes one at a time (closed loop): five notes
 * at a fresh location of their own, then the next location, so the replays are 0–4 notes (2 on
 * average). A note's latency is from its write to the last note of its replay (or, for the
 * first note of a location, to the reply to the next probe: see below). Every phase is bounded
 * in time; everything it starts is stopped at the end. It prints figures, never fails on them.
 *
 *   npm run bench:notes [-- --streams 16 --phase-ms 5000 --json]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../src/generated/route_guide';
import type { RouteGuideClient } from '../src/generated/routeguide/RouteGuide';
import type { RouteNote__Output } from '../src/generated/routeguide/RouteNote';
import { GOOGLE_API_PROTO_DIR, PROTO_LOADER_OPTIONS } from '../src/protocol/proto';

/** The repository: the bench runs compiled from .tmp/bench-dist/bench/. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const NOTES_PER_LOCATION = 5;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const STREAMS = option('streams', 16);
const PHASE_MS = option('phase-ms', 5000);
const WARMUP_MS = option('warmup-ms', 1000);
const JSON_OUT = process.argv.includes('--json');

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Spawns a process and resolves once a line of its stdout contains `ready`. */
async function startUntil(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} not ready in 20 s:\n${output}`)),
      20_000,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
  child.stdout!.resume();
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Figures {
  store: string;
  notes: number;
  notesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUsPerNote: number;
  redisCpuUsPerNote?: number;
}

/**
 * One closed-loop stream: note k at location (stream, k / 5) expects k % 5 earlier notes back.
 * The replay of the first note at a location is empty, so nothing marks its end: the stream
 * then sends the next note at once and measures the pair (the second reply set, 1 note, closes
 * both), counting two notes of half the latency each.
 */
async function runStream(
  client: RouteGuideClient,
  stream: number,
  run: number,
  until: number,
  latencies: number[] | undefined,
): Promise<number> {
  const call = client.RouteChat();
  let notes = 0;
  let pending: { expected: number; received: number; resolve: () => void } | undefined;
  call.on('data', (_note: RouteNote__Output) => {
    if (pending && ++pending.received === pending.expected) pending.resolve();
  });
  const ended = new Promise<void>((resolve, reject) => {
    call.on('end', resolve);
    call.on('error', reject);
  });
  const send = (location: number, message: string, expected: number) =>
    new Promise<void>((resolve) => {
      pending = { expected, received: 0, resolve };
      call.write({
        location: {
          latitude: run * 1_000_000 + stream * 10_000 + (location % 10_000),
          longitude: run,
        },
        message,
      });
    });
  for (let location = 0; performance.now() < until; location++) {
    // Notes 0 and 1 together: the first has an empty replay, the second one note back.
    const started = performance.now();
    call.write({
      location: {
        latitude: run * 1_000_000 + stream * 10_000 + (location % 10_000),
        longitude: run,
      },
      message: `s${stream} l${location} n0`,
    });
    await send(location, `s${stream} l${location} n1`, 1);
    const pair = performance.now() - started;
    latencies?.push(pair / 2, pair / 2);
    notes += 2;
    for (let k = 2; k < NOTES_PER_LOCATION && performance.now() < until; k++) {
      const t = performance.now();
      await send(location, `s${stream} l${location} n${k}`, k);
      latencies?.push(performance.now() - t);
      notes++;
    }
  }
  call.end();
  await ended;
  return notes;
}

async function phase(
  store: string,
  env: NodeJS.ProcessEnv,
  run: number,
  redisPid: number | undefined,
): Promise<Figures> {
  const port = await freePort();
  const server = await startUntil(
    process.execPath,
    [path.join(ROOT, 'dist', 'main.js')],
    {
      PATH: process.env['PATH'] ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS: 'false',
      LOG_LEVEL: 'info',
      MAX_CONNECTION_AGE_MS: '3600000',
      ...env,
    },
    'routeguide serving',
  );
  // From the repository's protos/ (the compiled bench lives elsewhere than src/).
  const protos = path.join(ROOT, 'protos');
  const proto = grpc.loadPackageDefinition(
    protoLoader.loadSync(path.join(protos, 'route_guide.proto'), {
      ...PROTO_LOADER_OPTIONS,
      includeDirs: [protos, GOOGLE_API_PROTO_DIR],
    }),
  ) as unknown as ProtoGrpcType;
  const client = new proto.routeguide.RouteGuide(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    if (store === 'redis') {
      // Wait until the server's Redis connection is up (RouteChat answers instead of failing).
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await new Promise<void>((resolve, reject) => {
            const call = client.RouteChat();
            call.on('data', () => undefined);
            call.on('end', resolve);
            call.on('error', reject);
            call.write({ location: { latitude: -1, longitude: run }, message: 'ready?' });
            call.end();
          });
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
    // Warm-up, unmeasured.
    const warmUntil = performance.now() + WARMUP_MS;
    await Promise.all(
      Array.from({ length: STREAMS }, (_, s) =>
        runStream(client, s, run + 100, warmUntil, undefined),
      ),
    );
    const latencies: number[] = [];
    const cpuBefore = cpuMs(server.pid!);
    const redisBefore = redisPid === undefined ? 0 : cpuMs(redisPid);
    const started = performance.now();
    const counts = await Promise.all(
      Array.from({ length: STREAMS }, (_, s) =>
        runStream(client, s, run, started + PHASE_MS, latencies),
      ),
    );
    const elapsed = performance.now() - started;
    const cpu = cpuMs(server.pid!) - cpuBefore;
    const notes = counts.reduce((a, b) => a + b, 0);
    latencies.sort((a, b) => a - b);
    return {
      store,
      notes,
      notesPerSecond: Math.round((notes * 1000) / elapsed),
      p50Ms: Number(percentile(latencies, 0.5).toFixed(2)),
      p99Ms: Number(percentile(latencies, 0.99).toFixed(2)),
      serverCpuUsPerNote: Number(((cpu * 1000) / notes).toFixed(1)),
      ...(redisPid === undefined
        ? {}
        : {
            redisCpuUsPerNote: Number(
              (((cpuMs(redisPid) - redisBefore) * 1000) / notes).toFixed(1),
            ),
          }),
    };
  } finally {
    client.close();
    await stop(server);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'routeguide-bench-redis-'));
  const redisPort = await freePort();
  const redis = await startUntil(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(redisPort),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    process.env,
    'Ready to accept connections',
  );
  const results: Figures[] = [];
  try {
    results.push(await phase('memory', {}, 1, undefined));
    results.push(
      await phase('redis', { REDIS_URL: `redis://127.0.0.1:${redisPort}/0` }, 2, redis.pid),
    );
  } finally {
    await stop(redis);
    rmSync(dir, { recursive: true, force: true });
  }
  const header = `RouteChat notes, ${STREAMS} streams, ${PHASE_MS} ms per store, replays of 0–4 notes (Node ${process.version}, ${os.cpus().length} CPUs)`;
  if (JSON_OUT) {
    process.stdout.write(
      `${JSON.stringify({ streams: STREAMS, phaseMs: PHASE_MS, results }, null, 2)}\n`,
    );
    process.stderr.write(`${header}\n`);
  } else {
    process.stdout.write(`${header}\n`);
    console.table(results);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:notes failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

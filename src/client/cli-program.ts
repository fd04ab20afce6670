/**
 * The `routeguide` command's program; the entry point (with tracing set-up) is ./cli.ts.
 */
import { status as Status } from '@grpc/grpc-js';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Command, CommanderError, Option } from 'commander';
import type { Point } from '../generated/routeguide/Point';
import type { RouteNote } from '../generated/routeguide/RouteNote';
import { BUNDLED_FEATURES_FILE } from '../routeguide/bundled-features';
import { loadFeatureDatabase } from '../routeguide/features';
import {
  collect,
  degrees,
  parseCoordinate,
  parseNote,
  parsePoint,
  parseNonNegativeInteger,
  parsePositiveInteger,
} from './cli-args';
import { createRouteGuideClient, DEFAULT_DEADLINE_MS, type RouteGuideClient } from './client';
import { readTlsFiles, type TlsOptions } from './credentials';
import { LOAD_BALANCING_POLICIES, type LoadBalancingPolicy } from './service-config';
import { spread, type SpreadResult } from './spread';
import { DEFAULT_TARGET } from './targets';

/** Exit codes: 0 success, 1 a call failed (or was not healthy), 2 bad usage. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Spread runs at least this long show a progress bar on a terminal. */
const PROGRESS_MIN_CALLS = 1000;

interface GlobalOptions {
  target: string;
  json: boolean;
  deadline: number;
  token?: string;
  tokenFile?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  lb: LoadBalancingPolicy;
  outlierDetection: boolean;
}

/** What the CLI talks to; injectable so the process wiring stays in main(). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  readonly stderrIsTty: boolean;
}

/** A failure already explained to the user; carries the exit code. */
class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function tlsOptions(o: GlobalOptions): TlsOptions | undefined {
  if (!o.tls && !o.tlsCa && !o.tlsCert && !o.tlsKey) return undefined;
  return readTlsFiles(
    { caFile: o.tlsCa, certFile: o.tlsCert, keyFile: o.tlsKey, serverName: o.tlsServerName },
    { caFile: '--tls-ca', certFile: '--tls-cert', keyFile: '--tls-key' },
  );
}

/** One line for any error: `CODE_NAME: details` for RPC errors. */
function describe(error: unknown): string {
  const e = error as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof e.code === 'number' && Status[e.code] !== undefined) {
    return `${Status[e.code]}: ${String(e.details ?? e.message)}`;
  }
  return String(e.message ?? error).split('\n')[0]!;
}

function place(point: Point | null | undefined): string {
  return point ? `${degrees(point.latitude ?? 0)}, ${degrees(point.longitude ?? 0)}` : '?';
}

function randomRoute(file: string, count: number): Point[] {
  const db = loadFeatureDatabase(file);
  if (db.size === 0)
    throw new ExitError(`${file} has no features to pick a route from`, EXIT_USAGE);
  return Array.from({ length: count }, () => {
    const { location } = db.featureAt(Math.floor(Math.random() * db.size));
    return { latitude: location.latitude, longitude: location.longitude };
  });
}

const DEFAULT_NOTES: RouteNote[] = [
  { location: { latitude: 0, longitude: 0 }, message: 'First message' },
  { location: { latitude: 0, longitude: 10_000_000 }, message: 'Second message' },
  { location: { latitude: 10_000_000, longitude: 0 }, message: 'Third message' },
  { location: { latitude: 0, longitude: 0 }, message: 'Fourth message' },
];

/** What every command's action uses: the I/O, a client per invocation, and the output format. */
interface CommandContext {
  readonly io: Io;
  withClient<T>(
    command: Command,
    run: (client: RouteGuideClient, o: GlobalOptions) => Promise<T>,
  ): Promise<T>;
  /** Prints `json` with --json, else runs `human`. */
  print(o: GlobalOptions, json: unknown, human: () => void): void;
}

/** Builds the command tree; every action resolves or throws (never exits by itself). */
export function buildProgram(io: Io): Command {
  const program = globalOptions(new Command('routeguide'), io);
  const context = commandContext(io);
  addGetCommand(program, context);
  addListCommand(program, context);
  addRecordCommand(program, context);
  addChatCommand(program, context);
  addHealthCommand(program, context);
  addSpreadCommand(program, context);
  return program;
}

/** The options every command takes (target, output, deadline, credentials, balancing). */
function globalOptions(program: Command, io: Io): Command {
  return program
    .description('RouteGuide gRPC client: calls, health checks and a round-robin demo')
    .option(
      '--target <target>',
      'gRPC target (host:port, dns:///name:port, ipv4:a:p,b:p, xds:///name)',
      DEFAULT_TARGET,
    )
    .option('--json', 'print one JSON document instead of human-readable text', false)
    .option(
      '--deadline <ms>',
      'deadline of each call in ms',
      (v) => parsePositiveInteger(v, '--deadline'),
      DEFAULT_DEADLINE_MS,
    )
    .option('--token <token>', 'send "authorization: Bearer <token>" with every call')
    .option(
      '--token-file <file>',
      'like --token, read from a file and re-read when it changes (rotated tokens)',
    )
    .option('--tls', 'use TLS with the system roots (implied by any --tls-* option)')
    .option('--tls-ca <file>', 'PEM roots to verify the server with')
    .option('--tls-cert <file>', 'PEM client certificate (mutual TLS)')
    .option('--tls-key <file>', 'PEM key of the client certificate')
    .option('--tls-server-name <name>', 'name to verify the server certificate against')
    .addOption(
      new Option(
        '--lb <policy>',
        "balancing: round_robin, or weighted_round_robin (weights from the replicas' ORCA load reports)",
      )
        .choices(LOAD_BALANCING_POLICIES)
        .default('round_robin'),
    )
    .option(
      '--outlier-detection',
      'eject a replica whose failure rate stands out (more than half its calls failing)',
      false,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
    });
}

function commandContext(io: Io): CommandContext {
  const withClient = async <T>(
    command: Command,
    run: (client: RouteGuideClient, o: GlobalOptions) => Promise<T>,
  ): Promise<T> => {
    const o = command.optsWithGlobals<GlobalOptions>();
    const client = createRouteGuideClient({
      target: o.target,
      // The CLI's --deadline bounds every call, streams included (a command should end).
      deadlineMs: o.deadline,
      streamDeadlineMs: o.deadline,
      token: o.token,
      tokenFile: o.tokenFile,
      tls: tlsOptions(o),
      loadBalancing: { policy: o.lb, outlierDetection: o.outlierDetection },
    });
    try {
      return await run(client, o);
    } finally {
      client.close();
    }
  };
  const print = (o: GlobalOptions, json: unknown, human: () => void) =>
    o.json ? io.out(JSON.stringify(json)) : human();
  return { io, withClient, print };
}

/** `get`: GetFeature at a point. */
function addGetCommand(program: Command, context: CommandContext): void {
  program
    .command('get')
    .description('GetFeature at LAT LNG (degrees, or E7 integers)')
    .argument('<lat>', 'latitude', (v: string) => parseCoordinate(v, 'latitude'))
    .argument('<lng>', 'longitude', (v: string) => parseCoordinate(v, 'longitude'))
    .action(async (latitude: number, longitude: number, _opts: unknown, command: Command) => {
      const point = { latitude, longitude };
      await context.withClient(command, async (client, o) => {
        const { value, replica } = await client.getFeature(point);
        context.print(o, { feature: value, replica: replica ?? null }, () =>
          context.io.out(
            `${value.name === '' ? '(no feature)' : value.name} at ${place(value.location)} [replica ${replica ?? '?'}]`,
          ),
        );
      });
    });
}

/** `list`: ListFeatures inside a rectangle. */
function addListCommand(program: Command, context: CommandContext): void {
  program
    .command('list')
    .description('ListFeatures inside a rectangle (corners in any order)')
    .option('--lo <lat,lng>', 'one corner', parsePoint, {
      latitude: -900_000_000,
      longitude: -1_800_000_000,
    })
    .option('--hi <lat,lng>', 'the opposite corner', parsePoint, {
      latitude: 900_000_000,
      longitude: 1_800_000_000,
    })
    .action(async (opts: { lo: Point; hi: Point }, command: Command) => {
      await context.withClient(command, async (client, o) => {
        const { value, replica } = await client.listFeatures(
          { lo: opts.lo, hi: opts.hi },
          {
            onFeature: o.json
              ? undefined
              : (f) =>
                  context.io.out(`${f.name === '' ? '(unnamed)' : f.name} at ${place(f.location)}`),
          },
        );
        context.print(o, { features: value, count: value.length, replica: replica ?? null }, () =>
          context.io.out(`${value.length} features [replica ${replica ?? '?'}]`),
        );
      });
    });
}

/** `record`: RecordRoute of given or random points. */
function addRecordCommand(program: Command, context: CommandContext): void {
  program
    .command('record')
    .description('RecordRoute: send a route and print the summary')
    .option(
      '--point <lat,lng>',
      'a point of the route (repeatable); default: random database points',
      collect(parsePoint),
    )
    .option(
      '--points <n>',
      'number of random points when no --point is given',
      (v) => parsePositiveInteger(v, '--points'),
      10,
    )
    .option('--features <file>', 'feature file to pick random points from', BUNDLED_FEATURES_FILE)
    .action(
      async (opts: { point?: Point[]; points: number; features: string }, command: Command) => {
        const route = opts.point ?? randomRoute(opts.features, opts.points);
        await context.withClient(command, async (client, o) => {
          const { value, replica } = await client.recordRoute(route);
          context.print(o, { summary: value, points: route, replica: replica ?? null }, () =>
            context.io.out(
              `${value.point_count} points, ${value.feature_count} features, ${value.distance} m, ${value.elapsed_time} s [replica ${replica ?? '?'}]`,
            ),
          );
        });
      },
    );
}

/** `chat`: RouteChat with given or demo notes. */
function addChatCommand(program: Command, context: CommandContext): void {
  program
    .command('chat')
    .description('RouteChat: send notes and print the earlier notes the server sends back')
    .option(
      '--note <lat,lng=message>',
      'a note to send (repeatable); default: four demo notes',
      collect(parseNote),
    )
    .action(async (opts: { note?: RouteNote[] }, command: Command) => {
      await context.withClient(command, async (client, o) => {
        const { value, replica } = await client.routeChat(opts.note ?? DEFAULT_NOTES, {
          onNote: o.json
            ? undefined
            : (n) => context.io.out(`${JSON.stringify(n.message)} at ${place(n.location)}`),
        });
        context.print(o, { received: value, replica: replica ?? null }, () =>
          context.io.out(`${value.length} notes received [replica ${replica ?? '?'}]`),
        );
      });
    });
}

/** `health`: Health/Check; fails unless SERVING. */
function addHealthCommand(program: Command, context: CommandContext): void {
  program
    .command('health')
    .description('grpc.health.v1.Health/Check; exits 1 unless SERVING')
    .option('--service <name>', 'service to check ("" = the whole server)', '')
    .action(async (opts: { service: string }, command: Command) => {
      await context.withClient(command, async (client, o) => {
        const { value, replica } = await client.checkHealth(opts.service);
        context.print(o, { service: opts.service, status: value, replica: replica ?? null }, () =>
          context.io.out(`${value} [replica ${replica ?? '?'}]`),
        );
        if (value !== 'SERVING') throw new ExitError(`${value}`, EXIT_FAILURE);
      });
    });
}

/** `spread`: Many GetFeature calls, counted per replica. */
function addSpreadCommand(program: Command, context: CommandContext): void {
  program
    .command('spread')
    .description(
      'fire N GetFeature calls and count the calls per replica (round-robin demo); exits 1 if any failed',
    )
    .option('--calls <n>', 'number of calls', (v) => parsePositiveInteger(v, '--calls'), 100)
    .option(
      '--concurrency <c>',
      'calls in flight at once',
      (v) => parsePositiveInteger(v, '--concurrency'),
      10,
    )
    .option(
      '--warmup <ms>',
      'first keep calls flowing this long without counting them (lets weighted round robin settle)',
      (v) => parseNonNegativeInteger(v, '--warmup'),
      0,
    )
    .addOption(new Option('--no-progress', 'never show a progress bar'))
    .action(
      async (
        opts: { calls: number; concurrency: number; warmup: number; progress: boolean },
        command: Command,
      ) => {
        await context.withClient(command, async (client, o) => {
          const showBar =
            opts.progress && !o.json && context.io.stderrIsTty && opts.calls >= PROGRESS_MIN_CALLS;
          const bar = showBar
            ? new SingleBar({ stream: process.stderr, clearOnComplete: true })
            : undefined;
          bar?.start(opts.calls, 0);
          const result = await spread(client, {
            calls: opts.calls,
            concurrency: opts.concurrency,
            warmupMs: opts.warmup,
            onProgress: bar ? (done) => bar.update(done) : undefined,
          }).finally(() => bar?.stop());
          context.print(o, { target: o.target, lb: o.lb, warmupMs: opts.warmup, ...result }, () =>
            printSpread(context.io, o, opts.warmup, result),
          );
          if (result.failed > 0) {
            const [first] = Object.keys(result.errors);
            throw new ExitError(
              `${result.failed} of ${result.calls} calls failed (${first})`,
              EXIT_FAILURE,
            );
          }
        });
      },
    );
}

/** The human output of `spread`: calls per replica, a summary line, and each error's count. */
function printSpread(io: Io, o: GlobalOptions, warmupMs: number, result: SpreadResult): void {
  const table = new Table({
    head: ['replica', 'calls', 'share', 'p50 ms', 'p99 ms'],
    colAligns: ['left', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const [replica, calls] of Object.entries(result.replicas)) {
    const latency = result.replicaLatencyMs[replica];
    table.push([
      replica,
      calls,
      `${((100 * calls) / result.calls).toFixed(1)}%`,
      latency?.p50.toFixed(1) ?? '',
      latency?.p99.toFixed(1) ?? '',
    ]);
  }
  io.out(table.toString());
  const { p50, p99 } = result.latencyMs;
  io.out(
    `${result.calls} calls to ${o.target} (${o.lb}${o.outlierDetection ? ', outlier detection' : ''}` +
      `${warmupMs > 0 ? `, after ${warmupMs} ms warm-up` : ''}): ` +
      `${result.succeeded} ok, ${result.failed} failed, ` +
      `${Object.keys(result.replicas).length} replicas, ${result.elapsedMs} ms, ` +
      `latency p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
  );
  for (const [error, count] of Object.entries(result.errors)) io.out(`  ${count} × ${error}`);
}

/** Runs the CLI; resolves with the exit code. Errors become one line on stderr. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; bad usage has already been printed.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const command = program.args[0] ?? 'routeguide';
    io.err(`routeguide ${command}: ${describe(error)}`);
    return error instanceof ExitError ? error.exitCode : EXIT_FAILURE;
  }
}

/**
 * The benchmark's attack section (`npm run bench -- --attacks`, or `--attacks-only`): each
 * hostile client of test/helpers/attacks.ts against a fresh server with its protections on,
 * and the same attack against a server with them off, side by side. Figures only; nothing fails.
 */
import { measureAttack, describeAttack, type AttackFigures } from '../test/helpers/attack-run';
import {
  idleSockets,
  overloadBurst,
  rapidReset,
  slowRoutes,
  stalledChats,
  stalledReaders,
  vanishMidStream,
  type Attack,
} from '../test/helpers/attacks';
import { MB } from '../test/helpers/process-meter';
import type { Dataset } from './datasets';
import type { BenchServer } from './server-process';

/** The memory a 256 MiB container tells the server (its admission control budgets from it). */
export const CONTAINER_MEMORY_BYTES = 256 * MB;

/** Environment of the protected server: as shipped, in a 256 MiB container. */
export const PROTECTED_ENV: Readonly<Record<string, string>> = Object.freeze({
  MEMORY_LIMIT_BYTES: String(CONTAINER_MEMORY_BYTES),
});

/**
 * Environment that turns the configurable protections against hostile and heavy clients off: the
 * "without protection" column (call limits, memory budget, HTTP/2 stream limit, handshake
 * deadline, idle timeout, connection cap). The lazy ListFeatures walk and the write-behind
 * window's per-message accounting are not settings and stay on.
 */
export const UNPROTECTED_ENV: Readonly<Record<string, string>> = Object.freeze({
  MEMORY_LIMIT_BYTES: '0',
  MAX_STREAMING_CALLS: '1000000',
  MAX_STREAMING_CALLS_PER_CONNECTION: '1000000',
  MAX_CONCURRENT_STREAMS: '1000000',
  MAX_CONNECTIONS: '1000000',
  CONNECTION_HANDSHAKE_TIMEOUT_MS: '3600000',
  CONNECTION_IDLE_TIMEOUT_MS: '3600000',
});

/** Above this RSS an attacked server is killed (its container would have been OOM-killed long before). */
export const RSS_CEILING_BYTES = 1024 * MB;

/** One configuration of the server the attacks run against. */
export interface AttackConfiguration {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

export const ATTACK_CONFIGURATIONS: readonly AttackConfiguration[] = [
  { name: 'protected', env: PROTECTED_ENV },
  { name: 'unprotected', env: UNPROTECTED_ENV },
];

/** One attack, as the benchmark runs it. */
/** Connection attacks come from another loopback address than the probe's 127.0.0.1. */
const ATTACKER_ADDRESS = '127.0.0.2';

interface Scenario {
  readonly name: string;
  readonly holdMs: number;
  readonly start: (address: string) => Promise<Attack<{ closedAt: number }>>;
}

function scenarios(quick: boolean): Scenario[] {
  const k = quick ? 0.25 : 1;
  const n = (count: number): number => Math.max(1, Math.round(count * k));
  return [
    {
      name: `stalled readers: ${n(2000)} whole-world ListFeatures over 20 connections`,
      holdMs: 5000,
      start: (address) => stalledReaders(address, { streams: n(2000), connections: 20 }),
    },
    {
      name: `stalled readers: ${n(10_000)} streams over 20 connections`,
      holdMs: 5000,
      start: (address) => stalledReaders(address, { streams: n(10_000), connections: 20 }),
    },
    {
      name: `stalled chats: 20 × ${n(100)} RouteChat streams sending 200 notes of 1–4 KiB, never reading`,
      holdMs: 5000,
      start: (address) =>
        stalledChats(address, {
          connections: 20,
          streamsPerConnection: n(100),
          notesPerStream: 200,
          noteBytes: 4096,
        }),
    },
    {
      name: `slow routes: 20 × ${n(100)} RecordRoute streams, a point every 200 ms, never half-closed`,
      holdMs: 15_000,
      start: (address) =>
        slowRoutes(address, {
          connections: 20,
          streamsPerConnection: n(100),
          pointsPerStream: 25,
          intervalMs: 200,
        }),
    },
    {
      name: `route bursts: 20 × ${n(100)} RecordRoute streams of 2,000 points, never half-closed`,
      holdMs: 15_000,
      start: (address) =>
        slowRoutes(address, {
          connections: 20,
          streamsPerConnection: n(100),
          pointsPerStream: 2000,
          intervalMs: 0,
        }),
    },
    {
      name: `vanish mid-stream: rounds of 20 × ${n(50)} streams`,
      holdMs: 5000,
      start: async (address) =>
        vanishMidStream(address, {
          connections: 20,
          streamsPerConnection: n(50),
          maxRounds: 50,
        }),
    },
    {
      name: `${n(10_000)} preface-less connections`,
      holdMs: 8000,
      start: (address) =>
        idleSockets(address, { count: n(10_000), localAddress: ATTACKER_ADDRESS }),
    },
    {
      name: `${n(2000)} byte-by-byte handshakes`,
      holdMs: 8000,
      start: (address) =>
        idleSockets(address, {
          count: n(2000),
          byteIntervalMs: 200,
          localAddress: ATTACKER_ADDRESS,
        }),
    },
    {
      name: 'HTTP/2 rapid reset (headers, then RST_STREAM)',
      holdMs: 10_000,
      start: (address) => rapidReset(address, { maxStreams: 20_000, maxMs: 10_000 }),
    },
    {
      name: `overload: ${n(2000)} concurrent 10°×10° ListFeatures, 5 s deadlines`,
      holdMs: 10_000,
      start: async (address) =>
        overloadBurst(address, { calls: n(2000), connections: 4, deadlineMs: 5000 }),
    },
  ];
}

/** One attack's figures in each configuration. */
export interface AttackRow {
  readonly attack: string;
  readonly byConfiguration: Record<string, AttackFigures<unknown>>;
}

export interface AttackSection {
  readonly dataset: string;
  readonly configurations: { name: string; env: Record<string, string> }[];
  readonly rows: AttackRow[];
}

/**
 * Runs every attack against a fresh server of each configuration (`start` spawns it with the
 * given extra environment), measuring peak RSS, a probe's latency before and during, and the
 * time until the server's CPU idles once the attacker has gone.
 */
export async function runAttacks(
  dataset: Dataset,
  start: (env: Record<string, string>) => Promise<BenchServer>,
  options: { quick: boolean; log: (line: string) => void },
): Promise<AttackSection> {
  const rows: AttackRow[] = [];
  for (const scenario of scenarios(options.quick)) {
    const row: AttackRow = { attack: scenario.name, byConfiguration: {} };
    for (const configuration of ATTACK_CONFIGURATIONS) {
      options.log(`attack ${scenario.name}, ${configuration.name}`);
      const server = await start({ ...configuration.env });
      try {
        const address = `127.0.0.1:${server.port}`;
        const figures = await measureAttack({
          address,
          pid: server.pid,
          start: () => scenario.start(address),
          holdMs: scenario.holdMs,
          rssCeilingBytes: RSS_CEILING_BYTES,
          recoveryMaxMs: 30_000,
        });
        options.log(describeAttack(`${scenario.name} (${configuration.name})`, figures));
        row.byConfiguration[configuration.name] = figures;
      } finally {
        await server.stop();
      }
    }
    rows.push(row);
  }
  return {
    dataset: dataset.label,
    configurations: ATTACK_CONFIGURATIONS.map(({ name, env }) => ({ name, env: { ...env } })),
    rows,
  };
}

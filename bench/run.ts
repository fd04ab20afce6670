/**
 * `npm run bench`: starts the real server on loopback for each database size, drives it from
 * several forked client processes, and reports throughput, latency, the server's own CPU time
 * per call and its memory. A benchmark, not a test: it prints figures and never fails on them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { canonicalDataset, syntheticDataset, type Dataset } from './datasets';
import { repoRoot } from './paths';
import type { LoadSpec, Workload } from './protocol';
import { printReport, type BenchReport, type MemoryFigures, type SizeReport } from './report';
import { BenchServer } from './server-process';
import { summarize, type PhaseFigures } from './stats';
import { WorkerPool } from './worker-pool';

interface Options {
  sizes: number[];
  quick: boolean;
  json: boolean;
  workers: number;
  phaseMs: number;
  memory: boolean;
  observability: boolean;
  out: string;
  /** NODE_OPTIONS for the server process (diagnostics, e.g. V8 heap limits); none by default. */
  serverNodeOptions: string;
}

const log = (text: string): void => void process.stderr.write(`[bench] ${text}\n`);

function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  const scale = { '': 1, k: 1e3, m: 1e6 }[(match?.[2] ?? '').toLowerCase()];
  const n = match && scale !== undefined ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`bad size ${value}`);
  return n;
}

function parseOptions(): Options {
  const program = new Command('bench')
    .description('RouteGuide server benchmark (loopback only, bounded in time).')
    .option('--sizes <list>', 'database sizes; 100 is the canonical file (default 100,100k,1M)')
    .option('--quick', 'short phases, sizes 100,100k, smaller memory scenarios', false)
    .option('--json', 'print the JSON report on stdout (the table goes to stderr)', false)
    .option('--workers <n>', 'client processes', (v) => parseSize(v), 3)
    .option('--phase-ms <ms>', 'measured duration of each load phase', (v) => parseSize(v))
    .option('--no-memory', 'skip the slow-reader and RouteChat-flood scenarios')
    .option('--no-observability', 'skip the metrics/logging on-versus-off comparison')
    .option('--server-node-options <flags>', 'NODE_OPTIONS for the server (diagnostics)', '')
    .option(
      '--out <dir>',
      'where the JSON report is written',
      path.join(repoRoot(), 'bench', 'results'),
    )
    .parse();
  const o = program.opts<{
    sizes?: string;
    quick: boolean;
    json: boolean;
    workers: number;
    phaseMs?: number;
    memory: boolean;
    observability: boolean;
    out: string;
    serverNodeOptions: string;
  }>();
  const sizes = (o.sizes ?? (o.quick ? '100,100k' : '100,100k,1M')).split(',').map(parseSize);
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    quick: o.quick,
    json: o.json,
    workers: o.workers,
    phaseMs: o.phaseMs ?? (o.quick ? 1500 : 4000),
    memory: o.memory,
    observability: o.observability,
    out: o.out,
    serverNodeOptions: o.serverNodeOptions,
  };
}

/** The RPC phases run at every size, in order. */
function phases(
  dataset: Dataset,
  options: Options,
): {
  name: string;
  workload: Workload;
  concurrency: number;
  maxCalls: number;
  callTimeoutMs: number;
}[] {
  const itemBudget = options.quick ? 300_000 : 2_000_000;
  return [
    {
      name: 'GetFeature hit',
      workload: { rpc: 'GetFeature', points: dataset.hits },
      concurrency: 16,
      maxCalls: 1e7,
      callTimeoutMs: 10_000,
    },
    {
      name: 'GetFeature miss',
      workload: { rpc: 'GetFeature', points: dataset.misses },
      concurrency: 16,
      maxCalls: 1e7,
      callTimeoutMs: 10_000,
    },
    {
      name: 'ListFeatures 1°×1° box',
      workload: { rpc: 'ListFeatures', boxes: dataset.boxes },
      concurrency: 8,
      maxCalls: 1e7,
      callTimeoutMs: 10_000,
    },
    {
      name: 'ListFeatures whole DB',
      workload: { rpc: 'ListFeatures', boxes: [dataset.world] },
      concurrency: 1,
      // Bounded by features streamed as well as by time: at 1M each call is a million messages.
      maxCalls: Math.max(1, Math.ceil(itemBudget / dataset.size / options.workers)),
      callTimeoutMs: 180_000,
    },
    {
      name: 'RecordRoute 1,000 points',
      workload: { rpc: 'RecordRoute', routes: dataset.routes },
      concurrency: 4,
      maxCalls: 1e7,
      callTimeoutMs: 30_000,
    },
    {
      name: 'RouteChat 10 notes',
      workload: {
        rpc: 'RouteChat',
        notesPerCall: 10,
        locations: [...dataset.hits, ...dataset.misses],
      },
      concurrency: 8,
      maxCalls: 1e7,
      callTimeoutMs: 10_000,
    },
  ];
}

/** A warm-up (not measured), then the measured phase with the server's CPU read around it. */
async function measure(
  server: BenchServer,
  pool: WorkerPool,
  phase: ReturnType<typeof phases>[number],
  phaseMs: number,
): Promise<PhaseFigures> {
  const spec =
    (durationMs: number, maxCalls: number) =>
    (i: number): LoadSpec => ({
      workload: phase.workload,
      concurrency: phase.concurrency,
      durationMs,
      maxCalls,
      callTimeoutMs: phase.callTimeoutMs,
      offset: i * 7919,
    });
  await pool.load(
    spec(Math.min(1000, Math.max(500, phaseMs / 3)), Math.max(1, Math.ceil(phase.maxCalls / 10))),
  );
  const before = server.cpuMs();
  const results = await pool.load(spec(phaseMs, phase.maxCalls));
  return summarize(results, server.cpuMs() - before);
}

/** Samples the server's RSS every 100 ms while `work` runs; growth is the peak minus the start. */
async function memoryDuring<T>(
  server: BenchServer,
  work: () => Promise<T>,
): Promise<MemoryFigures & { result: T }> {
  const mb = (bytes: number): number => bytes / 2 ** 20;
  const baseline = server.rssBytes();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, server.rssBytes())), 100);
  try {
    const result = await work();
    const end = server.rssBytes();
    peak = Math.max(peak, end);
    return {
      baselineMb: mb(baseline),
      peakMb: mb(peak),
      endMb: mb(end),
      growthMb: mb(peak - baseline),
      result,
    };
  } finally {
    clearInterval(sampler);
  }
}

async function runSize(
  dataset: Dataset,
  pool: WorkerPool,
  options: Options,
  largest: boolean,
): Promise<SizeReport> {
  log(`${dataset.label}: starting server`);
  const server = await BenchServer.start({
    featuresFile: dataset.file,
    logLevel: 'info',
    metrics: true,
    readyTimeoutMs: 60_000,
    nodeOptions: options.serverNodeOptions,
  });
  try {
    const report: SizeReport = {
      label: dataset.label,
      size: dataset.size,
      readyMs: server.readyMs,
      ...(server.healthReadyMs === undefined ? {} : { healthReadyMs: server.healthReadyMs }),
      ...(server.loadMs === undefined ? {} : { loadMs: server.loadMs }),
      rssAfterLoadMb: server.rssBytes() / 2 ** 20,
      phases: {},
    };
    await pool.connect(server.port);
    for (const phase of phases(dataset, options)) {
      log(`${dataset.label}: ${phase.name}`);
      report.phases[phase.name] = await measure(server, pool, phase, options.phaseMs);
    }
    if (largest && options.memory) {
      const pauseMs = options.quick ? 3000 : 10_000;
      log(`${dataset.label}: slow reader (pauses ${pauseMs} ms mid-stream)`);
      let pausedRss = 0;
      const slow = await memoryDuring(server, () =>
        pool.slowRead(
          {
            box: dataset.world,
            pauseAfter: Math.min(10_000, Math.floor(dataset.size / 4)),
            pauseMs,
            callTimeoutMs: 300_000,
          },
          () => {
            // Sample again near the end of the pause, when any unbounded buffering would peak.
            setTimeout(() => (pausedRss = server.rssBytes()), pauseMs - 500);
          },
        ),
      );
      report.slowReader = {
        ...stripResult(slow),
        pauseMs,
        features: slow.result.items,
        rssNearEndOfPauseMb: pausedRss / 2 ** 20,
      };

      const notes = options.quick ? 100_000 : 1_000_000;
      log(`${dataset.label}: RouteChat flood (${notes} notes)`);
      const flood = await memoryDuring(server, () =>
        pool.flood((i) => ({
          notes: Math.ceil(notes / pool.size),
          notesPerStream: 25_000,
          streams: 2,
          locations: 250_000,
          seed: 1000 + i,
          callTimeoutMs: 600_000,
        })),
      );
      const sent = Math.ceil(notes / pool.size) * pool.size;
      const received = flood.result.reduce((n, r) => n + r.items, 0);
      const errors = flood.result.reduce((n, r) => n + r.errors, 0);
      report.chatFlood = { ...stripResult(flood), notes: sent, repliesReceived: received, errors };
    }
    report.rssEndMb = server.rssBytes() / 2 ** 20;
    return report;
  } finally {
    pool.disconnect();
    await server.stop();
  }
}

function stripResult<T extends { result: unknown }>(figures: T): Omit<T, 'result'> {
  const rest: Partial<T> = { ...figures };
  delete rest.result;
  return rest as Omit<T, 'result'>;
}

/**
 * The scaling targets compare CPU/call between the smallest and largest database. Measured one
 * after the other, machine noise (other processes, frequency changes) lands on one side only;
 * so both servers run at once and the phases alternate between them, round after round.
 */
async function paired(
  small: Dataset,
  large: Dataset,
  pool: WorkerPool,
  options: Options,
): Promise<NonNullable<BenchReport['paired']>> {
  const names = ['GetFeature miss', 'ListFeatures 1°×1° box'];
  const start = (dataset: Dataset) =>
    BenchServer.start({
      featuresFile: dataset.file,
      logLevel: 'info',
      metrics: true,
      readyTimeoutMs: 60_000,
      nodeOptions: options.serverNodeOptions,
    });
  const servers = [await start(small), await start(large)] as const;
  const rounds = options.quick ? 2 : 3;
  const cpu: Record<string, [number[], number[]]> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        for (const [side, dataset] of [small, large].entries()) {
          log(`paired ${name}, ${dataset.label} (round ${round + 1}/${rounds})`);
          await pool.connect(servers[side]!.port);
          const phase = phases(dataset, options).find((p) => p.name === name)!;
          const figures = await measure(servers[side]!, pool, phase, options.phaseMs / 2);
          pool.disconnect();
          (cpu[name] ??= [[], []])[side]!.push(figures.cpuUsPerCall);
        }
      }
    }
  } finally {
    pool.disconnect();
    await Promise.all(servers.map((server) => server.stop()));
  }
  const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
  return {
    small: small.label,
    large: large.label,
    phases: Object.fromEntries(
      names.map((name) => {
        const [a, b] = cpu[name]!;
        return [name, { smallUsPerCall: a, largeUsPerCall: b, ratio: mean(b) / mean(a) }];
      }),
    ),
  };
}

/** GetFeature CPU/call with metrics and logs off, then on, alternating to spread the noise. */
async function observability(
  dataset: Dataset,
  pool: WorkerPool,
  options: Options,
): Promise<BenchReport['observability']> {
  const configs = [
    { name: 'off', logLevel: 'silent', metrics: false },
    { name: 'on', logLevel: 'info', metrics: true },
  ] as const;
  const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const rounds = options.quick ? 1 : 2;
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      log(`observability ${config.name} (round ${round + 1}/${rounds})`);
      const server = await BenchServer.start({
        featuresFile: dataset.file,
        logLevel: config.logLevel,
        metrics: config.metrics,
        readyTimeoutMs: 60_000,
        nodeOptions: options.serverNodeOptions,
      });
      try {
        await pool.connect(server.port);
        const figures = await measure(server, pool, phases(dataset, options)[0]!, options.phaseMs);
        samples[config.name].push(figures.cpuUsPerCall);
      } finally {
        pool.disconnect();
        await server.stop();
      }
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    dataset: dataset.label,
    offUsPerCall: samples.off,
    onUsPerCall: samples.on,
    ratio: mean(samples.on) / mean(samples.off),
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const started = Date.now();
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      node: process.version,
      loadAverageAtStart: loadavg(),
    },
    options: {
      serverNodeOptions: options.serverNodeOptions,
      sizes: options.sizes,
      workers: options.workers,
      phaseMs: options.phaseMs,
      quick: options.quick,
    },
    sizes: [],
  };
  const pool = new WorkerPool(options.workers);
  try {
    const datasets = options.sizes.map((size) => {
      if (size === 100) return canonicalDataset();
      log(`preparing ${size} features`);
      return syntheticDataset(size);
    });
    for (const dataset of datasets) {
      report.sizes.push(
        await runSize(dataset, pool, options, dataset === datasets[datasets.length - 1]),
      );
    }
    if (datasets.length > 1) {
      report.paired = await paired(datasets[0]!, datasets[datasets.length - 1]!, pool, options);
    }
    if (options.observability)
      report.observability = await observability(datasets[0]!, pool, options);
  } finally {
    await pool.close();
  }
  report.durationS = (Date.now() - started) / 1000;
  const table = printReport(report);
  if (options.json) {
    process.stderr.write(table);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(table);
    mkdirSync(options.out, { recursive: true });
    const file = path.join(options.out, `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nJSON report: ${file}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

import Table from 'cli-table3';
import type { OverloadReport } from '../test/helpers/attacks';
import type { AttackSection } from './attacks';
import type { PhaseFigures } from './stats';

/** RSS over a scenario, in MiB: growth is the peak minus the baseline taken just before it. */
export interface MemoryFigures {
  baselineMb: number;
  peakMb: number;
  endMb: number;
  growthMb: number;
}

export interface SizeReport {
  label: string;
  size: number;
  /** Spawn to the "routeguide serving" log line. */
  readyMs: number;
  /** Spawn to health SERVING, when the server has a health service. */
  healthReadyMs?: number;
  /** The server's own figure for reading and indexing the database. */
  loadMs?: number;
  rssAfterLoadMb: number;
  rssEndMb?: number;
  phases: Record<string, PhaseFigures>;
  slowReader?: MemoryFigures & { pauseMs: number; features: number; rssNearEndOfPauseMb: number };
  chatFlood?: MemoryFigures & { notes: number; repliesReceived: number; errors: number };
}

export interface Target {
  target: string;
  measured: string;
  limit: string;
  /** Undefined: not measurable in this run; null: a figure reported without a limit. */
  met: boolean | null | undefined;
}

/**
 * The REST gateway against gRPC on one server process (run.ts `restSection`): per phase, the
 * REST slices and, at the same index, the mean of the gRPC slices measured just before and
 * just after each.
 */
export interface RestSection {
  dataset: string;
  /** The HTTP load generator, with its version. */
  tool: string;
  /** Connections (REST) and calls (gRPC) in flight. */
  concurrency: number;
  phases: Record<string, { rest: PhaseFigures[]; grpcBeside: PhaseFigures[] }>;
  /** Per phase: the median REST ÷ gRPC ratio and its target. */
  ratios?: Record<
    string,
    { ratio: number; slices: number[]; limit: number; met: boolean | undefined }
  >;
}

/** The issue's limits on REST ÷ gRPC server CPU, per call (GetFeature) or per feature (ListFeatures). */
export const REST_LIMITS: Readonly<Record<string, number>> = {
  'GetFeature c=50': 1.5,
  'ListFeatures whole box c=50': 2,
};

/**
 * Our server in several configurations against the grpc-node example baseline (run.ts
 * `compare`): per phase, `contender` → one figure per round, and `example beside <contender>`
 * → the example's figure of the same round (measured just before, alone on the same CPU).
 */
export interface Comparison {
  dataset: string;
  contenders: { name: string; description: string }[];
  phases: Record<string, Record<string, PhaseFigures[]>>;
}

const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** CPU per call (GetFeature) or per streamed item (ListFeatures). */
function costOf(phase: string, f: PhaseFigures): number {
  return phase.startsWith('ListFeatures') ? f.cpuUsPerItem : f.cpuUsPerCall;
}

/** Per round: the contender's cost ÷ the example's in the same round. */
export function roundRatios(c: Comparison, phase: string, contender: string): number[] {
  const a = c.phases[phase]?.[contender] ?? [];
  const b = c.phases[phase]?.[`example beside ${contender}`] ?? [];
  return a.map((f, i) => (b[i] ? costOf(phase, f) / costOf(phase, b[i]) : NaN));
}

/** The median over rounds of the contender's cost ÷ the example's beside it (NaN if none). */
export function comparisonRatio(c: Comparison, phase: string, contender: string): number {
  const ratios = roundRatios(c, phase, contender);
  return ratios.length === 0 ? NaN : median(ratios);
}

/** Per slice: REST's cost ÷ gRPC's beside it. */
export function restSliceRatios(section: RestSection, phase: string): number[] {
  const p = section.phases[phase];
  if (!p) return [];
  return p.rest.map((f, i) =>
    p.grpcBeside[i] ? costOf(phase, f) / costOf(phase, p.grpcBeside[i]) : NaN,
  );
}

/** The median REST ÷ gRPC ratio of every phase, with its limit and whether it is met. */
export function restRatios(section: RestSection): NonNullable<RestSection['ratios']> {
  return Object.fromEntries(
    Object.keys(section.phases).map((phase) => {
      const slices = restSliceRatios(section, phase);
      const ratio = slices.length === 0 ? NaN : median(slices);
      const limit = REST_LIMITS[phase] ?? NaN;
      const met = Number.isFinite(ratio) && Number.isFinite(limit) ? ratio <= limit : undefined;
      return [phase, { ratio, slices, limit, met }];
    }),
  );
}

export interface BenchReport {
  startedAt: string;
  durationS?: number;
  machine: { cpus: number; cpuModel: string; node: string; loadAverageAtStart: number[] };
  options: {
    serverNodeOptions: string;
    serverNodeFlags: string[];
    pinned: boolean;
    rounds: number;
    sizes: number[];
    workers: number;
    phaseMs: number;
    quick: boolean;
  };
  sizes: SizeReport[];
  /** CPU/call of the scaling-target phases with both servers up, alternating (see run.ts). */
  paired?: {
    small: string;
    large: string;
    phases: Record<string, { smallUsPerCall: number[]; largeUsPerCall: number[]; ratio: number }>;
  };
  comparison?: Comparison;
  /** REST gateway beside gRPC on the same server (`--rest`, `--rest-only`). */
  rest?: RestSection;
  /** Hostile clients against the server with its protections on and off (bench/attacks.ts). */
  attacks?: AttackSection;
  targets?: Target[];
}

/** No colours: the table is pasted into the README and read from logs. */
const PLAIN = { style: { head: [], border: [] } };

const fixed = (value: number, digits = 1): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

/** The service's targets, evaluated on this run's figures (comparisons within one run only). */
export function evaluateTargets(report: BenchReport): Target[] {
  const targets: Target[] = [];
  const small = report.sizes[0];
  const large = report.sizes[report.sizes.length - 1];
  const at = (size: SizeReport | undefined, phase: string): PhaseFigures | undefined =>
    size?.phases[phase];
  const ratio = (phase: string, limit: number): void => {
    const p = report.paired?.phases[phase];
    if (p) {
      const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length;
      targets.push({
        target: `${phase}: CPU/call at ${report.paired!.large} ÷ at ${report.paired!.small} (paired)`,
        measured: `${fixed(p.ratio, 2)}× (${fixed(mean(p.largeUsPerCall))} vs ${fixed(mean(p.smallUsPerCall))} µs)`,
        limit: `≤ ${limit}×`,
        met: p.ratio <= limit,
      });
      return;
    }
    const a = at(small, phase);
    const b = at(large, phase);
    if (!a || !b || small === large) return;
    const r = b.cpuUsPerCall / a.cpuUsPerCall;
    targets.push({
      target: `${phase}: CPU/call at ${large!.label} ÷ at ${small!.label}`,
      measured: `${fixed(r, 2)}× (${fixed(b.cpuUsPerCall)} vs ${fixed(a.cpuUsPerCall)} µs)`,
      limit: `≤ ${limit}×`,
      met: r <= limit,
    });
  };
  ratio('GetFeature miss', 1.2);
  ratio('ListFeatures 1°×1° box', 1.5);
  const c = report.comparison;
  if (c) {
    const get = comparisonRatio(c, 'GetFeature c=50', 'ours');
    // Ratios are medians over rounds of ours ÷ the example measured at the same time.
    targets.push({
      target: 'GetFeature c=50, everything on: CPU/call ÷ the example’s',
      measured: `${fixed(get, 2)}×`,
      limit: '≤ 1.0×',
      met: Number.isFinite(get) ? get <= 1.0 : undefined,
    });
    const list = comparisonRatio(c, 'ListFeatures whole box c=50', 'ours');
    targets.push({
      target: 'ListFeatures whole canonical box: CPU per streamed feature ÷ the example’s',
      measured: `${fixed(list, 2)}×`,
      limit: '≤ 0.75×',
      met: Number.isFinite(list) ? list <= 0.75 : undefined,
    });
    const jwt = comparisonRatio(c, 'GetFeature c=50', 'JWT on');
    if (Number.isFinite(jwt)) {
      targets.push({
        target: 'GetFeature c=50, JWT on (RS256, cached key): CPU/call ÷ ours as shipped',
        measured: `${fixed(jwt / get, 2)}× (${fixed(jwt, 2)}× the example)`,
        limit: 'reported',
        met: null,
      });
    }
  }
  for (const [phase, r] of Object.entries(report.rest?.ratios ?? {})) {
    const what = phase.startsWith('ListFeatures')
      ? 'REST ListFeatures (NDJSON) whole canonical box: CPU per streamed feature'
      : 'REST GetFeature c=50: CPU/call';
    targets.push({
      target: `${what} ÷ gRPC’s (same server)`,
      measured: `${fixed(r.ratio, 2)}×`,
      limit: `≤ ${r.limit}×`,
      met: r.met,
    });
  }
  if (large) {
    targets.push({
      target: `RSS after load at ${large.label}`,
      measured: `${fixed(large.rssAfterLoadMb)} MiB`,
      limit: '≤ 250 MB',
      met: large.rssAfterLoadMb * 2 ** 20 <= 250e6,
    });
    const ready = large.healthReadyMs ?? large.readyMs;
    targets.push({
      target: `Ready at ${large.label} (${large.healthReadyMs === undefined ? 'serving log line' : 'health SERVING'})`,
      measured: `${fixed(ready / 1000, 2)} s`,
      limit: '≤ 3 s',
      met: ready <= 3000,
    });
    if (large.chatFlood) {
      targets.push({
        target: `RouteChat ${large.chatFlood.notes.toLocaleString('en-US')} notes: RSS growth`,
        measured: `${fixed(large.chatFlood.growthMb)} MiB`,
        limit: '≤ 64 MB',
        met: large.chatFlood.growthMb * 2 ** 20 <= 64e6 && large.chatFlood.errors === 0,
      });
    }
    if (large.slowReader) {
      targets.push({
        target: `Slow reader (${large.slowReader.pauseMs / 1000} s pause) over ${large.label}: RSS growth`,
        measured: `${fixed(large.slowReader.growthMb)} MiB`,
        limit: '≤ 64 MB',
        met: large.slowReader.growthMb * 2 ** 20 <= 64e6,
      });
    }
  }
  return targets;
}

/**
 * The baseline comparison: per phase and contender, CPU per call (GetFeature) or per streamed
 * feature (ListFeatures) as the mean of the rounds, ÷ the example's, and ÷ ours as shipped
 * (which, for a configuration with one feature off, is what that feature saves).
 */
function comparisonTable(c: Comparison): string {
  const table = new Table({
    ...PLAIN,
    head: [
      `server (${c.dataset})`,
      'phase',
      'CPU µs',
      'example beside',
      'per',
      '÷ example (median)',
      'slices',
      '÷ ours',
      'calls/s',
      'items/call',
    ],
  });
  for (const [phase, byContender] of Object.entries(c.phases)) {
    const per = phase.startsWith('ListFeatures') ? 'feature' : 'call';
    const ours = comparisonRatio(c, phase, 'ours');
    for (const { name } of c.contenders) {
      const figures = byContender[name];
      const example = byContender[`example beside ${name}`];
      if (!figures || !example) continue;
      const ratio = comparisonRatio(c, phase, name);
      table.push([
        name,
        phase,
        fixed(mean(figures.map((f) => costOf(phase, f))), 2),
        fixed(mean(example.map((f) => costOf(phase, f))), 2),
        per,
        `${fixed(ratio, 2)}×`,
        roundRatios(c, phase, name)
          .map((r) => fixed(r, 2))
          .join(', '),
        `${fixed(ratio / ours, 2)}×`,
        fixed(mean(figures.map((f) => f.callsPerSecond)), 0),
        fixed(mean(figures.map((f) => f.itemsPerCall)), 0),
      ]);
    }
  }
  const legend = c.contenders.map((x) => `  ${x.name}: ${x.description}`).join('\n');
  return `${table.toString()}\n${legend}`;
}

const metText = (met: Target['met']): string =>
  met === null ? '' : met === undefined ? '?' : met ? 'yes' : 'NO';

/**
 * REST beside gRPC on one server: per phase, the mean cost of the slices, the median ratio
 * with each slice's, and how busy the server was (CPU time ÷ wall time: near 100% means the
 * load kept it saturated, so per-call figures carry no idle wake-ups).
 */
function restTable(section: RestSection): string {
  const ratios = section.ratios ?? restRatios(section);
  const table = new Table({
    ...PLAIN,
    head: [
      `phase (${section.dataset}, ${section.concurrency} in flight)`,
      'per',
      'gRPC CPU µs',
      'REST CPU µs',
      'REST ÷ gRPC (median)',
      'slices',
      'limit',
      'met',
      'calls/s gRPC / REST',
      'server busy gRPC / REST',
      'REST p50 / p99 ms',
      'REST errors',
    ],
  });
  for (const [phase, { rest, grpcBeside }] of Object.entries(section.phases)) {
    const r = ratios[phase];
    const cost = (fs: PhaseFigures[]): string => fixed(mean(fs.map((f) => costOf(phase, f))), 2);
    const rate = (fs: PhaseFigures[]): string => fixed(mean(fs.map((f) => f.callsPerSecond)), 0);
    const busy = (fs: PhaseFigures[]): string =>
      `${fixed(mean(fs.map((f) => (f.cpuUsPerCall * f.callsPerSecond) / 1e4)), 0)}%`;
    table.push([
      phase,
      phase.startsWith('ListFeatures') ? 'feature' : 'call',
      cost(grpcBeside),
      cost(rest),
      `${fixed(r?.ratio ?? NaN, 2)}×`,
      (r?.slices ?? []).map((x) => fixed(x, 2)).join(', '),
      `≤ ${r?.limit ?? '–'}×`,
      metText(r?.met),
      `${rate(grpcBeside)} / ${rate(rest)}`,
      `${busy(grpcBeside)} / ${busy(rest)}`,
      `${fixed(mean(rest.map((f) => f.p50Ms)), 2)} / ${fixed(mean(rest.map((f) => f.p99Ms)), 2)}`,
      rest.reduce((n, f) => n + f.errors, 0),
    ]);
  }
  return `${table.toString()}\nREST load: ${section.tool}, keep-alive HTTP/1.1, one request in flight per connection; gRPC load: the lean HTTP/2 client`;
}

/** Renders the report as text tables; also stores the evaluated targets on it. */
export function printReport(report: BenchReport): string {
  const out: string[] = [];
  const perRpc = new Table({
    ...PLAIN,
    head: [
      'DB size',
      'RPC',
      'calls',
      'calls/s',
      'p50 ms',
      'p99 ms',
      'server CPU µs/call',
      'items/call',
      'CPU µs/item',
      'errors',
    ],
  });
  for (const size of report.sizes) {
    for (const [name, f] of Object.entries(size.phases)) {
      perRpc.push([
        size.label,
        name,
        f.calls,
        fixed(f.callsPerSecond, 0),
        fixed(f.p50Ms, 2),
        fixed(f.p99Ms, 2),
        fixed(f.cpuUsPerCall),
        fixed(f.itemsPerCall),
        name.startsWith('GetFeature') ? '' : fixed(f.cpuUsPerItem, 2),
        f.errors,
      ]);
    }
  }
  if (perRpc.length > 0) out.push(perRpc.toString());

  const memory = new Table({
    ...PLAIN,
    head: [
      'DB size',
      'ready (serving line)',
      'health SERVING',
      'load (server log)',
      'RSS after load',
      'RSS at end',
    ],
  });
  for (const size of report.sizes) {
    memory.push([
      size.label,
      `${fixed(size.readyMs / 1000, 2)} s`,
      size.healthReadyMs === undefined ? 'n/a' : `${fixed(size.healthReadyMs / 1000, 2)} s`,
      size.loadMs === undefined ? '' : `${size.loadMs} ms`,
      `${fixed(size.rssAfterLoadMb)} MiB`,
      size.rssEndMb === undefined ? '' : `${fixed(size.rssEndMb)} MiB`,
    ]);
  }
  if (memory.length > 0) out.push(memory.toString());

  const scenarios = new Table({
    ...PLAIN,
    head: ['scenario', 'RSS before', 'peak', 'end', 'growth', 'notes'],
  });
  for (const size of report.sizes) {
    const s = size.slowReader;
    if (s)
      scenarios.push([
        `slow reader, ${size.label}`,
        fixed(s.baselineMb),
        fixed(s.peakMb),
        fixed(s.endMb),
        `${fixed(s.growthMb)} MiB`,
        `${s.features} features, ${s.pauseMs / 1000} s pause; RSS near end of pause ${fixed(s.rssNearEndOfPauseMb)} MiB`,
      ]);
    const c = size.chatFlood;
    if (c)
      scenarios.push([
        `RouteChat flood, ${size.label}`,
        fixed(c.baselineMb),
        fixed(c.peakMb),
        fixed(c.endMb),
        `${fixed(c.growthMb)} MiB`,
        `${c.notes} notes sent, ${c.repliesReceived} replies, ${c.errors} errors`,
      ]);
  }
  if (scenarios.length > 0) out.push(scenarios.toString());

  if (report.paired) {
    const paired = new Table({
      ...PLAIN,
      head: [
        'paired phase',
        `CPU µs/call at ${report.paired.small}`,
        `CPU µs/call at ${report.paired.large}`,
        'ratio',
      ],
    });
    for (const [name, p] of Object.entries(report.paired.phases)) {
      paired.push([
        name,
        p.smallUsPerCall.map((v) => fixed(v)).join(', '),
        p.largeUsPerCall.map((v) => fixed(v)).join(', '),
        `${fixed(p.ratio, 2)}×`,
      ]);
    }
    out.push(paired.toString());
  }

  if (report.comparison) out.push(comparisonTable(report.comparison));
  if (report.rest) out.push(restTable(report.rest));
  if (report.attacks) out.push(attackTable(report.attacks));

  report.targets = evaluateTargets(report);
  const targets = new Table({ ...PLAIN, head: ['target', 'measured', 'limit', 'met'] });
  for (const t of report.targets) targets.push([t.target, t.measured, t.limit, metText(t.met)]);
  if (targets.length > 0) out.push(targets.toString());
  out.push(
    `${report.machine.cpus} CPUs (${report.machine.cpuModel}), node ${report.machine.node}, load average at start ${report.machine.loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}; ran ${fixed(report.durationS ?? NaN, 0)} s`,
  );
  out.push(
    `server Node flags: ${report.options.serverNodeFlags.join(' ') || '(none)'}; ${report.options.pinned ? 'server pinned to CPU 0, load to CPU 1 (taskset)' : 'not pinned'}; ${report.options.rounds} alternating round(s)`,
  );
  if (report.options.serverNodeOptions !== '') {
    out.push(`server NODE_OPTIONS: ${report.options.serverNodeOptions}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * One row per attack, each cell "protected / unprotected": peak RSS, the probe's GetFeature
 * p50/p99 (and errors) during the attack, and the time until the server's CPU idled after the
 * attacker's last socket closed.
 */
function attackTable(section: AttackSection): string {
  const names = section.configurations.map((c) => c.name);
  const table = new Table({
    ...PLAIN,
    head: [
      `attack (${section.dataset} features)`,
      `peak RSS MiB (${names.join(' / ')})`,
      'probe p50 / p99 ms during',
      'probe errors during',
      'CPU idle after (ms)',
      'notes',
    ],
  });
  for (const row of section.rows) {
    const each = (
      cell: (f: NonNullable<AttackSection['rows'][number]['byConfiguration'][string]>) => string,
    ) =>
      names.map((name) => {
        const f = row.byConfiguration[name];
        return f === undefined ? '–' : cell(f);
      });
    table.push([
      row.attack,
      each((f) => `${fixed(f.peakRssMb, 0)}${f.killedAtCeiling ? ' (killed)' : ''}`).join(' / '),
      each((f) => `${fixed(f.probeDuring.p50Ms)} / ${fixed(f.probeDuring.p99Ms)}`).join(' | '),
      each((f) => `${f.probeDuring.errors} of ${f.probeDuring.calls}`).join(' / '),
      each((f) => (f.alive ? fixed(f.recoveryMs ?? NaN, 0) : 'dead')).join(' / '),
      each((f) => `before p99 ${fixed(f.probeBefore.p99Ms)} ms${outcomeNote(f.report)}`).join(
        ' / ',
      ),
    ]);
  }
  const envs = section.configurations
    .map(
      (c) =>
        `${c.name}: ${
          Object.entries(c.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ') || '(no extra env)'
        }`,
    )
    .join('; ');
  return `${table.toString()}
${envs}`;
}

/** What the overload burst's calls got, when the report is one. */
function outcomeNote(report: unknown): string {
  const r = report as Partial<OverloadReport>;
  if (r.ok === undefined || r.refused === undefined || r.deadlineExceeded === undefined) return '';
  return (
    `; ok ${r.ok.count} (p99 ${fixed(r.ok.p99Ms, 0)} ms), refused ${r.refused.count} ` +
    `(p99 ${fixed(r.refused.p99Ms, 0)} ms), past deadline ${r.deadlineExceeded.count}`
  );
}

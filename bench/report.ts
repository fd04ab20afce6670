import Table from 'cli-table3';
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
  met: boolean | undefined;
}

export interface BenchReport {
  startedAt: string;
  durationS?: number;
  machine: { cpus: number; cpuModel: string; node: string; loadAverageAtStart: number[] };
  options: {
    serverNodeOptions: string;
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
  observability?: { dataset: string; offUsPerCall: number[]; onUsPerCall: number[]; ratio: number };
  targets?: Target[];
}

/** No colours: the table is pasted into the README and read from logs. */
const PLAIN = { style: { head: [], border: [] } };

const fixed = (value: number, digits = 1): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

/** The targets, evaluated on this run's figures (comparisons within one run only). */
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
  const canonical = report.sizes.find((s) => s.size === 100);
  const whole = at(canonical, 'ListFeatures whole DB');
  if (whole) {
    targets.push({
      target: 'ListFeatures whole canonical DB: CPU per streamed feature',
      measured: `${fixed(whole.cpuUsPerItem, 2)} µs`,
      limit: '≤ 2 µs',
      met: whole.cpuUsPerItem <= 2,
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
  if (report.observability) {
    const o = report.observability;
    targets.push({
      target: 'GetFeature CPU/call, metrics+logs on ÷ off',
      measured: `${fixed(o.ratio, 2)}×`,
      limit: '≤ 1.15×',
      met: o.ratio <= 1.15,
    });
  }
  return targets;
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
  out.push(perRpc.toString());

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
  out.push(memory.toString());

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

  if (report.observability) {
    const o = report.observability;
    out.push(
      `Observability (${o.dataset}, GetFeature hit): off ${o.offUsPerCall.map((v) => fixed(v)).join(', ')} µs/call; on ${o.onUsPerCall.map((v) => fixed(v)).join(', ')} µs/call; ratio ${fixed(o.ratio, 2)}×`,
    );
  }

  report.targets = evaluateTargets(report);
  const targets = new Table({ ...PLAIN, head: ['target', 'measured', 'limit', 'met'] });
  for (const t of report.targets)
    targets.push([t.target, t.measured, t.limit, t.met === undefined ? '?' : t.met ? 'yes' : 'NO']);
  out.push(targets.toString());
  out.push(
    `${report.machine.cpus} CPUs (${report.machine.cpuModel}), node ${report.machine.node}, load average at start ${report.machine.loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')}; ran ${fixed(report.durationS ?? NaN, 0)} s`,
  );
  if (report.options.serverNodeOptions !== '') {
    out.push(`server NODE_OPTIONS: ${report.options.serverNodeOptions}`);
  }
  return `${out.join('\n')}\n`;
}

import { performance } from 'node:perf_hooks';
import type { Attack } from './attacks';
import { startProbeProcess, type ProbeOptions, type ProbeWindow } from './probe-client';
import { MB, ProcessMeter, sleep } from './process-meter';

/** Options of {@link measureAttack}. */
export interface AttackRunOptions<R> {
  /** The server's gRPC address (host:port) for the probe. */
  readonly address: string;
  /** The server's process id, for RSS and CPU time. */
  readonly pid: number;
  /** Starts the attack; resolves once it is in place. */
  readonly start: () => Promise<Attack<R>>;
  /** How long the attack is held before it is stopped (less if it ends by itself, plus a second). */
  readonly holdMs: number;
  /** Probe time before the attack, the baseline. Default 2000 ms. */
  readonly baselineMs?: number;
  /** Window after the attacker's last socket closed in which server CPU is measured. Default 2000 ms. */
  readonly quietMs?: number;
  /** Also measure how long the server's CPU takes to idle after the attack, up to this. Default: not measured. */
  readonly recoveryMaxMs?: number;
  /** Probe time after the quiet window: does the server still serve? Default 1000 ms. */
  readonly afterMs?: number;
  /** RSS at which the server is killed (see {@link ProcessMeter.watch}). Default: none. */
  readonly rssCeilingBytes?: number;
  readonly probe?: ProbeOptions;
}

/** What one attack did to the server, as a well-behaved client and /proc saw it. */
export interface AttackFigures<R> {
  readonly baselineRssMb: number;
  readonly peakRssMb: number;
  /** RSS once the attack has gone and the quiet window has passed. */
  readonly afterRssMb: number;
  /** The server crossed the RSS ceiling and was killed for it (an OOM kill in a container). */
  readonly killedAtCeiling: boolean;
  /** The server process still runs at the end. */
  readonly alive: boolean;
  readonly probeBefore: ProbeWindow;
  /** From the attack being in place until it is stopped. */
  readonly probeDuring: ProbeWindow;
  /** After the quiet window. */
  readonly probeAfter: ProbeWindow;
  /** Server CPU time in the quiet window after the attacker's last socket closed. */
  readonly cpuAfterMs: number;
  /** Milliseconds after the last socket closed until the server's CPU idled, when measured. */
  readonly recoveryMs?: number;
  /** Milliseconds the attack was in place. */
  readonly heldMs: number;
  readonly report: R;
}

/**
 * Runs one attack against a server process and measures it: a probe's GetFeature latency before
 * and during (the probe in a process of its own), peak RSS, and the server CPU once the attacker has gone. The probe is stopped
 * during the quiet window, so that window's CPU is the server's own leftover work.
 */
export async function measureAttack<R extends { closedAt: number }>(
  options: AttackRunOptions<R>,
): Promise<AttackFigures<R>> {
  const meter = new ProcessMeter(options.pid);
  const quietMs = options.quietMs ?? 2000;
  let probe = startProbeProcess(options.address, options.probe);
  const watch = meter.watch(
    options.rssCeilingBytes === undefined ? {} : { ceilingBytes: options.rssCeilingBytes },
  );
  let attack: Attack<R> | undefined;
  try {
    await probe.ready();
    const t0 = probe.now();
    await sleep(options.baselineMs ?? 2000);
    const probeBefore = probe.window(t0);
    const baselineRss = meter.rssBytes();
    attack = await options.start();
    const inPlace = probe.now();
    // An attack that ends by itself is followed for another second before it is stopped.
    const ended = attack.finished?.then(() => sleep(1000)) ?? new Promise(() => undefined);
    await Promise.race([sleep(options.holdMs), ended]);
    const stopping = probe.now();
    await probe.stop();
    const probeDuring = probe.window(inPlace, stopping);
    const report = await attack.stop();
    const closedAt = Number.isNaN(report.closedAt) ? performance.now() : report.closedAt;
    const cpuAtClose = meter.cpuMs();
    const quiet = sleep(Math.max(0, quietMs - (performance.now() - closedAt))).then(() =>
      meter.cpuMs(),
    );
    const recovery =
      options.recoveryMaxMs === undefined
        ? undefined
        : meter.msUntilIdle(500, 0.05, options.recoveryMaxMs);
    const cpuAfterMs = (await quiet) - cpuAtClose;
    const recoveryMs = await recovery;
    probe = startProbeProcess(options.address, options.probe);
    await probe.ready();
    const t1 = probe.now();
    await sleep(options.afterMs ?? 1000);
    const probeAfter = probe.window(t1);
    watch.stop();
    return {
      baselineRssMb: baselineRss / MB,
      peakRssMb: watch.peakBytes() / MB,
      afterRssMb: meter.rssBytes() / MB,
      killedAtCeiling: watch.killedAtCeiling(),
      alive: meter.alive(),
      probeBefore,
      probeDuring,
      probeAfter,
      cpuAfterMs,
      ...(recoveryMs === undefined ? {} : { recoveryMs }),
      heldMs: stopping - inPlace,
      report,
    };
  } finally {
    watch.stop();
    await probe.stop();
    await attack?.stop();
  }
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** The figures as one line for a test log or the benchmark's progress output. */
export function describeAttack(name: string, figures: AttackFigures<unknown>): string {
  const probe = (w: ProbeWindow): string =>
    `p50 ${round(w.p50Ms)} ms p90 ${round(w.p90Ms)} ms p99 ${round(w.p99Ms)} ms (${w.calls} calls, ${w.errors} errors)`;
  return (
    `${name}: RSS ${round(figures.baselineRssMb)} → peak ${round(figures.peakRssMb)} MB ` +
    `(after ${round(figures.afterRssMb)} MB${figures.killedAtCeiling ? ', KILLED at the ceiling' : ''}` +
    `${figures.alive ? '' : ', process gone'}); probe before ${probe(figures.probeBefore)}, ` +
    `during ${probe(figures.probeDuring)}, after ${probe(figures.probeAfter)}; ` +
    `server CPU in the quiet window ${round(figures.cpuAfterMs)} ms` +
    (figures.recoveryMs === undefined ? '' : `, idle after ${round(figures.recoveryMs)} ms`) +
    `; attack ${JSON.stringify(figures.report)}`
  );
}

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Scheduler ticks per second, the unit of /proc/<pid>/stat CPU times. */
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export const MB = 1024 * 1024;

/** Options of {@link ProcessMeter.watch}. */
export interface WatchOptions {
  /** Sampling period. Default 50 ms. */
  readonly intervalMs?: number;
  /**
   * RSS above which the process is SIGKILLed, standing in for a container's OOM killer so an
   * attack on an unprotected server cannot take the machine's memory. Default: none.
   */
  readonly ceilingBytes?: number;
}

/** A running RSS sampler started by {@link ProcessMeter.watch}. */
export interface RssWatch {
  /** Highest RSS seen so far, in bytes. */
  peakBytes(): number;
  /** Whether the ceiling was crossed (the process was killed for it). */
  killedAtCeiling(): boolean;
  stop(): void;
}

/**
 * Reads one process's resident memory and CPU time from /proc (Linux only). Every read of a
 * process that has exited returns NaN rather than throwing, so a measurement around a crash
 * still reports.
 */
export class ProcessMeter {
  private readonly ticks = clockTicks();

  constructor(readonly pid: number) {}

  /** Resident set size, in bytes (VmRSS of /proc/<pid>/status). */
  rssBytes(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kb === undefined ? NaN : Number(kb) * 1024;
    } catch {
      return NaN;
    }
  }

  /** User + system CPU time so far, in milliseconds (utime + stime of /proc/<pid>/stat). */
  cpuMs(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / this.ticks;
    } catch {
      return NaN;
    }
  }

  /** Whether the process still exists (and is not a zombie). */
  alive(): boolean {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }

  /** Samples RSS until stopped, keeping the peak; kills the process above `ceilingBytes`. */
  watch(options: WatchOptions = {}): RssWatch {
    let peak = this.rssBytes();
    let killed = false;
    const sample = (): void => {
      const rss = this.rssBytes();
      if (!(rss <= peak)) peak = Number.isNaN(rss) ? peak : rss;
      if (!killed && options.ceilingBytes !== undefined && rss > options.ceilingBytes) {
        killed = true;
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    };
    const timer = setInterval(sample, options.intervalMs ?? 50);
    return {
      peakBytes: () => peak,
      killedAtCeiling: () => killed,
      stop: () => {
        clearInterval(timer);
        sample();
      },
    };
  }

  /** CPU milliseconds the process spends during the next `ms` milliseconds. */
  async cpuDuring(ms: number): Promise<number> {
    const before = this.cpuMs();
    await sleep(ms);
    return this.cpuMs() - before;
  }

  /**
   * Milliseconds until the process idles: the start of the first `windowMs` window (polled
   * every `windowMs / 5`) in which it used less than `idleShare` of a core; 0 when it is idle
   * from the start. Gives up after `maxMs` and returns `maxMs`.
   */
  async msUntilIdle(windowMs = 500, idleShare = 0.05, maxMs = 30_000): Promise<number> {
    const started = performance.now();
    const step = windowMs / 5;
    const samples: { at: number; cpu: number }[] = [{ at: started, cpu: this.cpuMs() }];
    while (performance.now() - started < maxMs) {
      await sleep(step);
      const now = { at: performance.now(), cpu: this.cpuMs() };
      samples.push(now);
      while (samples.length > 1 && now.at - samples[1]!.at >= windowMs) samples.shift();
      const first = samples[0]!;
      if (Number.isNaN(now.cpu)) return now.at - started;
      if (now.at - first.at >= windowMs && now.cpu - first.cpu < idleShare * (now.at - first.at))
        return first.at - started;
    }
    return maxMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import { assertIntegerOptions } from '../util/integer-options';

/** Default soft watermark: new streaming calls are refused from this share of the budget up. */
export const DEFAULT_MEMORY_SOFT_PERCENT = 60;
/** Default hard watermark: the heaviest stalled streams are ended from this share up. */
export const DEFAULT_MEMORY_HARD_PERCENT = 75;
/** Default RSS sampling interval. */
export const DEFAULT_MEMORY_SAMPLE_INTERVAL_MS = 200;

/** Where the process stands against its budget: under the soft mark, over it, over the hard one. */
export type MemoryPressure = 'ok' | 'soft' | 'hard';

/** Options for {@link MemoryBudget}. */
export interface MemoryBudgetOptions {
  /** The process's memory budget in bytes. Required (no budget: no MemoryBudget at all). */
  readonly limitBytes: number;
  /** Soft watermark, percent of `limitBytes`. Default 60 ({@link DEFAULT_MEMORY_SOFT_PERCENT}). */
  readonly softPercent?: number;
  /** Hard watermark, percent of `limitBytes`. Default 75 ({@link DEFAULT_MEMORY_HARD_PERCENT}). */
  readonly hardPercent?: number;
  /** Time between samples, in ms. Default 200 ({@link DEFAULT_MEMORY_SAMPLE_INTERVAL_MS}). */
  readonly sampleIntervalMs?: number;
  /**
   * The resident set size now, in bytes. Default `process.memoryUsage.rss()` (one cheap
   * system call, unlike `process.memoryUsage()`, which also walks the V8 heap).
   */
  readonly rss?: () => number;
}

/**
 * The process's memory budget (Envoy's overload manager `fixed_heap` monitor, on RSS): samples
 * the resident set size on an unref'd timer and classifies it against two watermarks. Readers
 * (admission control, load reports, metrics) read the latest sample; nothing is measured per
 * call. Listeners run after every sample, in order, and must not throw.
 */
export class MemoryBudget {
  readonly limitBytes: number;
  readonly softBytes: number;
  readonly hardBytes: number;
  private readonly sampleIntervalMs: number;
  private readonly rss: () => number;
  private readonly listeners: ((budget: MemoryBudget) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The latest sample, in bytes (0 before the first). */
  rssBytes = 0;
  /** Where the latest sample stands. */
  pressure: MemoryPressure = 'ok';

  constructor(options: MemoryBudgetOptions) {
    const softPercent = options.softPercent ?? DEFAULT_MEMORY_SOFT_PERCENT;
    const hardPercent = options.hardPercent ?? DEFAULT_MEMORY_HARD_PERCENT;
    this.sampleIntervalMs = options.sampleIntervalMs ?? DEFAULT_MEMORY_SAMPLE_INTERVAL_MS;
    assertIntegerOptions(
      {
        limitBytes: options.limitBytes,
        softPercent,
        hardPercent,
        sampleIntervalMs: this.sampleIntervalMs,
      },
      1,
    );
    if (softPercent > hardPercent || hardPercent > 100) {
      throw new RangeError(
        `memory watermarks must satisfy soft ≤ hard ≤ 100 percent, got ${softPercent} and ${hardPercent}`,
      );
    }
    this.limitBytes = options.limitBytes;
    this.softBytes = Math.floor((options.limitBytes * softPercent) / 100);
    this.hardBytes = Math.floor((options.limitBytes * hardPercent) / 100);
    this.rss = options.rss ?? process.memoryUsage.rss;
  }

  /** The latest sample as a share of the budget (may exceed 1). */
  get usedRatio(): number {
    return this.rssBytes / this.limitBytes;
  }

  /** Runs `listener` after every sample. */
  onSample(listener: (budget: MemoryBudget) => void): void {
    this.listeners.push(listener);
  }

  /** Samples now and every interval from now on. */
  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample and tells the listeners. */
  sample(): void {
    const rss = this.rss();
    this.rssBytes = rss;
    this.pressure = rss >= this.hardBytes ? 'hard' : rss >= this.softBytes ? 'soft' : 'ok';
    for (const listener of this.listeners) listener(this);
  }
}

import { Counter, Gauge, type Registry } from 'prom-client';
import { REFUSAL_REASONS, type AdmissionControl } from './admission';
import type { MemoryBudget } from '../observability/memory-budget';

/**
 * Exports admission control and the memory budget, read at scrape time from their plain
 * counters (nothing is done per call):
 *
 * - `routeguide_streaming_calls`: streaming calls in progress (admitted, not yet ended);
 * - `routeguide_calls_refused_total{reason}`: refused before the handler ran, by reason
 *   (`per_connection`, `process_limit`, `memory`);
 * - `routeguide_streams_shed_total`: streams ended above the hard memory watermark;
 * - `routeguide_memory_budget_bytes` and `routeguide_memory_budget_used_ratio` (RSS ÷ budget),
 *   only when there is a budget.
 */
export function registerAdmissionMetrics(
  registry: Registry,
  admission: AdmissionControl,
  memory: MemoryBudget | undefined,
): void {
  const registers = [registry];
  new Gauge({
    name: 'routeguide_streaming_calls',
    help: 'Streaming calls in progress, as counted by admission control.',
    registers,
    collect() {
      this.set(admission.active);
    },
  });
  new Counter({
    name: 'routeguide_calls_refused_total',
    help: 'Calls refused by admission control before their handler ran, by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of REFUSAL_REASONS) this.inc({ reason }, admission.refused[reason]);
    },
  });
  new Counter({
    name: 'routeguide_streams_shed_total',
    help: 'Stalled streams ended above the hard memory watermark.',
    registers,
    collect() {
      this.reset();
      this.inc(admission.shedTotal);
    },
  });
  if (memory === undefined) return;
  new Gauge({
    name: 'routeguide_memory_budget_bytes',
    help: 'The memory budget of the process (MEMORY_LIMIT_BYTES or the cgroup limit).',
    registers,
    collect() {
      this.set(memory.limitBytes);
    },
  });
  new Gauge({
    name: 'routeguide_memory_budget_used_ratio',
    help: 'Resident set size at the latest sample divided by the memory budget.',
    registers,
    collect() {
      this.set(memory.usedRatio);
    },
  });
}

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A cgroup with a CPU quota that processes can be moved into (needs root). */
export interface CpuQuotaCgroup {
  readonly dir: string;
  readonly version: 1 | 2;
  /** Moves a running process (and its future threads) into the cgroup. */
  add(pid: number): void;
  /** Removes the cgroup; its processes must have exited. */
  remove(): void;
}

const PERIOD_US = 100_000;

/**
 * Creates `routeguide-test-<pid>-<n>` with a quota of `cpus` CPUs (e.g. 0.05), under the cgroup
 * v2 root (/sys/fs/cgroup, cpu.max) or the v1 cpu controller (/sys/fs/cgroup/cpu,
 * cpu.cfs_quota_us). Throws with what is missing when it cannot: never silently unthrottled.
 */
export function createCpuQuotaCgroup(cpus: number, name: string): CpuQuotaCgroup {
  const quotaUs = Math.max(1000, Math.round(cpus * PERIOD_US));
  const problem = (what: string, error?: unknown): Error =>
    new Error(
      `cannot set up a CPU-quota cgroup (${what}${error ? `: ${(error as Error).message}` : ''}); ` +
        'this test needs root and a writable cgroup v1 cpu controller or cgroup v2 with the cpu controller',
    );
  if (process.getuid?.() !== 0) throw problem(`running as uid ${process.getuid?.()}, not root`);
  const v2Root = '/sys/fs/cgroup';
  const v1Root = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'].find((dir) =>
    existsSync(path.join(dir, 'cpu.cfs_quota_us')),
  );
  try {
    if (existsSync(path.join(v2Root, 'cgroup.controllers'))) {
      const controllers = readFileSync(path.join(v2Root, 'cgroup.controllers'), 'utf8');
      if (!controllers.split(/\s+/).includes('cpu'))
        throw problem('cgroup v2 without the cpu controller');
      writeFileSync(path.join(v2Root, 'cgroup.subtree_control'), '+cpu');
      const dir = path.join(v2Root, name);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'cpu.max'), `${quotaUs} ${PERIOD_US}`);
      return cgroup(dir, 2);
    }
    if (v1Root === undefined) throw problem('no cgroup v2 root and no cgroup v1 cpu controller');
    const dir = path.join(v1Root, name);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
    return cgroup(dir, 1);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('cannot set up')) throw error;
    throw problem('writing the cgroup files failed', error);
  }
}

function cgroup(dir: string, version: 1 | 2): CpuQuotaCgroup {
  return {
    dir,
    version,
    add: (pid) => writeFileSync(path.join(dir, 'cgroup.procs'), String(pid)),
    remove: () => {
      if (existsSync(dir)) rmdirSync(dir);
    },
  };
}

/**
 * Creates the memory cgroup `name` limited to `bytes`, as a container runtime does for a pod's
 * memory limit: under the cgroup v2 root (memory.max) or the v1 memory controller
 * (/sys/fs/cgroup/memory, memory.limit_in_bytes). A process in it that goes over is OOM-killed.
 * Throws with what is missing when it cannot (needs root).
 */
export function createMemoryCgroup(bytes: number, name: string): CpuQuotaCgroup {
  const problem = (what: string, error?: unknown): Error =>
    new Error(
      `cannot set up a memory cgroup (${what}${error ? `: ${(error as Error).message}` : ''}); ` +
        'this test needs root and a writable cgroup v1 memory controller or cgroup v2 with the memory controller',
    );
  if (process.getuid?.() !== 0) throw problem(`running as uid ${process.getuid?.()}, not root`);
  const v2Root = '/sys/fs/cgroup';
  const v1Root = '/sys/fs/cgroup/memory';
  try {
    if (existsSync(path.join(v2Root, 'cgroup.controllers'))) {
      const controllers = readFileSync(path.join(v2Root, 'cgroup.controllers'), 'utf8');
      if (!/\bmemory\b/.test(controllers)) throw problem('cgroup v2 without the memory controller');
      writeFileSync(path.join(v2Root, 'cgroup.subtree_control'), '+memory');
      const dir = path.join(v2Root, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'memory.max'), String(bytes));
      writeFileSync(path.join(dir, 'memory.swap.max'), '0');
      return cgroup(dir, 2);
    }
    if (!existsSync(path.join(v1Root, 'memory.limit_in_bytes'))) {
      throw problem('no cgroup v2 root and no cgroup v1 memory controller');
    }
    const dir = path.join(v1Root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(bytes));
    return cgroup(dir, 1);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('cannot set up')) throw error;
    throw problem('writing the cgroup files failed', error);
  }
}

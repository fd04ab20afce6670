import { availableParallelism } from 'node:os';
import path from 'node:path';
import {
  readCgroupFile as read,
  SELF_CGROUP_FILES,
  smallestCgroupLimit,
  type CgroupFiles,
} from './cgroup';

export { SELF_CGROUP_FILES, type CgroupFiles } from './cgroup';

/** `quota / period` from cgroup v2 `cpu.max` ("max 100000" or "15000 100000"). */
function v2Limit(dir: string): number | undefined {
  const text = read(path.posix.join(dir, 'cpu.max'));
  if (text === undefined) return undefined;
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

/** `cfs_quota_us / cfs_period_us` from cgroup v1 (a quota of -1 means no limit). */
function v1Limit(dir: string): number | undefined {
  const quota = read(path.posix.join(dir, 'cpu.cfs_quota_us'));
  const period = read(path.posix.join(dir, 'cpu.cfs_period_us'));
  if (quota === undefined || period === undefined) return undefined;
  const q = Number(quota.trim());
  const p = Number(period.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}

/**
 * The CPU quota of this process's cgroup in CPUs (e.g. 0.15 for 15 ms per 100 ms period), the
 * smallest along the cgroup's ancestors, from cgroup v2 `cpu.max` or cgroup v1
 * `cpu.cfs_quota_us`/`cpu.cfs_period_us`; undefined when there is no quota (or no cgroups).
 * Hybrid hosts (v1 controllers plus a v2 mount) are handled by reading both.
 */
export function cgroupCpuQuota(files: CgroupFiles = SELF_CGROUP_FILES): number | undefined {
  return smallestCgroupLimit(files, { v1Controller: 'cpu', v2: v2Limit, v1: v1Limit });
}

/**
 * CPUs this process may use: the cgroup quota when there is one, never more than
 * `os.availableParallelism()` (CPUs, or the affinity mask).
 */
export function cpuLimit(files: CgroupFiles = SELF_CGROUP_FILES): number {
  const cpus = availableParallelism();
  const quota = cgroupCpuQuota(files);
  return quota === undefined ? cpus : Math.min(quota, cpus);
}

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

/** Where the kernel describes this process's cgroups; tests point these at fixture files. */
export interface CgroupFiles {
  /** `/proc/self/cgroup`: `hierarchy-id:controllers:path` lines. */
  readonly procCgroup: string;
  /** `/proc/self/mountinfo`: where each cgroup hierarchy is mounted. */
  readonly mountInfo: string;
  /** Prefix prepended to every mount point read from mountInfo (test fixtures); default ''. */
  readonly root?: string;
}

export const SELF_CGROUP_FILES: CgroupFiles = Object.freeze({
  procCgroup: '/proc/self/cgroup',
  mountInfo: '/proc/self/mountinfo',
});

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface CgroupMount {
  /** Path inside the cgroup file system that is mounted (usually `/`). */
  readonly root: string;
  readonly mountPoint: string;
  readonly version: 1 | 2;
  /** v1 super options (controllers such as `cpu`). */
  readonly options: readonly string[];
}

function parseMounts(mountInfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountInfo.split('\n')) {
    // `id parent major:minor root mountpoint options [optional…] - fstype source superoptions`
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fsType, , superOptions = ''] = right.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const root = fields[3];
    const mountPoint = fields[4];
    if (root === undefined || mountPoint === undefined) continue;
    mounts.push({
      root,
      mountPoint: mountPoint.replace(/\\040/g, ' '),
      version: fsType === 'cgroup2' ? 2 : 1,
      options: superOptions.split(','),
    });
  }
  return mounts;
}

/**
 * The directories of this process's cgroup and of each ancestor up to the mount point, leaf
 * first: a limit anywhere up the tree applies. When the process's cgroup path is not under
 * the mount's root (a container without a cgroup namespace sees its host path), the mount point
 * itself is the process's cgroup.
 */
function cgroupDirs(mount: CgroupMount, cgroupPath: string, prefix: string): string[] {
  const mountPoint = prefix + mount.mountPoint;
  const relative = path.posix.relative(mount.root, cgroupPath);
  const leaf =
    relative.startsWith('..') || path.posix.isAbsolute(relative)
      ? mountPoint
      : path.posix.join(mountPoint, relative);
  const dirs: string[] = [];
  for (let dir = leaf; ; dir = path.posix.dirname(dir)) {
    dirs.push(dir);
    if (dir === mountPoint || dir.length <= mountPoint.length) break;
  }
  return dirs;
}

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
  const procCgroup = read(files.procCgroup);
  const mountInfo = read(files.mountInfo);
  if (procCgroup === undefined || mountInfo === undefined) return undefined;
  const mounts = parseMounts(mountInfo);
  let limit: number | undefined;
  const consider = (value: number | undefined): void => {
    if (value !== undefined && (limit === undefined || value < limit)) limit = value;
  };
  for (const line of procCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second).split(',');
    const cgroupPath = line.slice(second + 1).trim();
    if (line.slice(0, first) === '0' && controllers.length === 1 && controllers[0] === '') {
      for (const mount of mounts.filter((m) => m.version === 2)) {
        for (const dir of cgroupDirs(mount, cgroupPath, files.root ?? '')) consider(v2Limit(dir));
      }
    } else if (controllers.includes('cpu')) {
      for (const mount of mounts.filter((m) => m.version === 1 && m.options.includes('cpu'))) {
        for (const dir of cgroupDirs(mount, cgroupPath, files.root ?? '')) consider(v1Limit(dir));
      }
    }
  }
  return limit;
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

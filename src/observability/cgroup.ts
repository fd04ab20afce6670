import { readFileSync } from 'node:fs';
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

/** A cgroup file's text, or undefined when it cannot be read. */
export function readCgroupFile(file: string): string | undefined {
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

/** How one controller's limit is read from a cgroup directory. */
export interface CgroupLimitReaders {
  /** The cgroup v1 controller whose hierarchy holds the limit (`cpu`, `memory`). */
  readonly v1Controller: string;
  /** The limit in one cgroup v2 directory, or undefined when it has none. */
  readonly v2: (dir: string) => number | undefined;
  /** The limit in one cgroup v1 directory of that controller, or undefined when it has none. */
  readonly v1: (dir: string) => number | undefined;
}

/**
 * The smallest limit along this process's cgroup and its ancestors (a limit anywhere up the
 * tree applies), from cgroup v2 and from the v1 hierarchy of `readers.v1Controller`; undefined
 * when there is none (or no cgroups). Hybrid hosts (v1 controllers plus a v2 mount) are
 * handled by reading both.
 */
export function smallestCgroupLimit(
  files: CgroupFiles,
  readers: CgroupLimitReaders,
): number | undefined {
  const procCgroup = readCgroupFile(files.procCgroup);
  const mountInfo = readCgroupFile(files.mountInfo);
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
        for (const dir of cgroupDirs(mount, cgroupPath, files.root ?? ''))
          consider(readers.v2(dir));
      }
    } else if (controllers.includes(readers.v1Controller)) {
      const v1Mounts = mounts.filter(
        (m) => m.version === 1 && m.options.includes(readers.v1Controller),
      );
      for (const mount of v1Mounts) {
        for (const dir of cgroupDirs(mount, cgroupPath, files.root ?? ''))
          consider(readers.v1(dir));
      }
    }
  }
  return limit;
}

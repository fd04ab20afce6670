import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupCpuQuota, cpuLimit } from '../../src/observability/cpu-limit';

/** A fake file system root holding /proc/self files and cgroup mounts. */
function fixture(files: Record<string, string>) {
  const root = mkdtempSync(path.join(tmpdir(), 'cpu-limit-'));
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return {
    files: {
      procCgroup: path.join(root, 'proc/self/cgroup'),
      mountInfo: path.join(root, 'proc/self/mountinfo'),
      root,
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

const V1_MOUNTS = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const V2_MOUNTS = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';

describe('cgroupCpuQuota', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));
  const make = (files: Record<string, string>) => {
    const f = fixture(files);
    cleanups.push(f.cleanup);
    return f.files;
  };

  it('reads cgroup v2 cpu.max, the smallest along the ancestors', () => {
    const files = make({
      'proc/self/cgroup': '0::/kubepods/pod1/app\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/kubepods/pod1/app/cpu.max': 'max 100000\n',
      'sys/fs/cgroup/kubepods/pod1/cpu.max': '50000 100000\n',
      'sys/fs/cgroup/kubepods/cpu.max': '150000 100000\n',
    });
    expect(cgroupCpuQuota(files)).toBe(0.5);
  });

  it('reads cgroup v1 cfs_quota_us / cfs_period_us (a hybrid host with a v2 mount too)', () => {
    const files = make({
      'proc/self/cgroup': '4:memory:/x\n2:cpu,cpuacct:/routeguide-test\n0::/\n',
      'proc/self/mountinfo': V1_MOUNTS,
      'sys/fs/cgroup/cpu,cpuacct/routeguide-test/cpu.cfs_quota_us': '15000\n',
      'sys/fs/cgroup/cpu,cpuacct/routeguide-test/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(files)).toBeCloseTo(0.15, 10);
  });

  it('uses the mount point itself when the cgroup path is not under it (container, no namespace)', () => {
    const files = make({
      'proc/self/cgroup': '0::/system.slice/docker-abc.scope\n',
      'proc/self/mountinfo':
        '30 23 0:26 /system.slice/docker-def.scope /sys/fs/cgroup ro - cgroup2 cgroup2 rw',
      'sys/fs/cgroup/cpu.max': '200000 100000\n',
    });
    expect(cgroupCpuQuota(files)).toBe(2);
  });

  it('is undefined with no quota, or without cgroup files at all', () => {
    expect(
      cgroupCpuQuota(
        make({
          'proc/self/cgroup': '0::/\n',
          'proc/self/mountinfo': V2_MOUNTS,
          'sys/fs/cgroup/cpu.max': 'max 100000\n',
        }),
      ),
    ).toBeUndefined();
    expect(
      cgroupCpuQuota({ procCgroup: '/nonexistent/cgroup', mountInfo: '/nonexistent/mountinfo' }),
    ).toBeUndefined();
  });

  it('cpuLimit is the quota capped at the CPUs available', () => {
    const files = make({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/cpu.max': `${(availableParallelism() + 4) * 100000} 100000\n`,
    });
    expect(cpuLimit(files)).toBe(availableParallelism());
    // This process: whatever the machine says, a positive number of CPUs.
    expect(cpuLimit()).toBeGreaterThan(0);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupMemoryLimit } from '../../src/observability/memory-limit';
import { MemoryBudget } from '../../src/observability/memory-budget';

const V1_MOUNTS = [
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
].join('\n');
const V2_MOUNTS = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';

describe('cgroupMemoryLimit', () => {
  const roots: string[] = [];
  afterEach(() =>
    roots.splice(0).forEach((root) => rmSync(root, { recursive: true, force: true })),
  );
  const make = (files: Record<string, string>) => {
    const root = mkdtempSync(path.join(tmpdir(), 'memory-limit-'));
    roots.push(root);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
      writeFileSync(path.join(root, name), text);
    }
    return {
      procCgroup: path.join(root, 'proc/self/cgroup'),
      mountInfo: path.join(root, 'proc/self/mountinfo'),
      root,
    };
  };

  it('reads cgroup v2 memory.max, the smallest along the ancestors', () => {
    const files = make({
      'proc/self/cgroup': '0::/kubepods/pod1/app\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/kubepods/pod1/app/memory.max': '268435456\n',
      'sys/fs/cgroup/kubepods/pod1/memory.max': 'max\n',
      'sys/fs/cgroup/kubepods/memory.max': '1073741824\n',
    });
    expect(cgroupMemoryLimit(files)).toBe(268435456);
  });

  it('treats "max" (v2) and the huge "unlimited" value (v1) as no limit', () => {
    expect(
      cgroupMemoryLimit(
        make({
          'proc/self/cgroup': '0::/\n',
          'proc/self/mountinfo': V2_MOUNTS,
          'sys/fs/cgroup/memory.max': 'max\n',
        }),
      ),
    ).toBeUndefined();
    expect(
      cgroupMemoryLimit(
        make({
          'proc/self/cgroup': '4:memory:/x\n',
          'proc/self/mountinfo': V1_MOUNTS,
          'sys/fs/cgroup/memory/x/memory.limit_in_bytes': '9223372036854771712\n',
          'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
        }),
      ),
    ).toBeUndefined();
  });

  it('reads cgroup v1 memory.limit_in_bytes of the memory hierarchy only', () => {
    const files = make({
      'proc/self/cgroup': '4:memory:/routeguide\n2:cpu,cpuacct:/routeguide\n0::/\n',
      'proc/self/mountinfo': V1_MOUNTS,
      'sys/fs/cgroup/memory/routeguide/memory.limit_in_bytes': '536870912\n',
      'sys/fs/cgroup/cpu,cpuacct/routeguide/memory.limit_in_bytes': '1\n',
    });
    expect(cgroupMemoryLimit(files)).toBe(536870912);
  });

  it('is undefined without cgroup files or with junk in them', () => {
    expect(
      cgroupMemoryLimit({ procCgroup: '/nonexistent/cgroup', mountInfo: '/nonexistent/mountinfo' }),
    ).toBeUndefined();
    const files = make({
      'proc/self/cgroup': '0::/\n',
      'proc/self/mountinfo': V2_MOUNTS,
      'sys/fs/cgroup/memory.max': 'lots\n',
    });
    expect(cgroupMemoryLimit(files)).toBeUndefined();
  });
});

describe('MemoryBudget', () => {
  it('classifies each RSS sample against the soft and hard watermarks', () => {
    let rss = 0;
    const budget = new MemoryBudget({ limitBytes: 1000, rss: () => rss });
    const seen: string[] = [];
    budget.onSample((b) => seen.push(b.pressure));
    for (const value of [599, 600, 749, 750, 100]) {
      rss = value;
      budget.sample();
    }
    expect(seen).toEqual(['ok', 'soft', 'soft', 'hard', 'ok']);
    expect(budget.usedRatio).toBe(0.1);
    expect(() => new MemoryBudget({ limitBytes: 1000, softPercent: 80, hardPercent: 70 })).toThrow(
      /soft ≤ hard/,
    );
  });
});

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

interface Room {
  readonly name: string;
  readonly holds: string;
  readonly mayImport: readonly string[];
  readonly reserved?: boolean;
  readonly forbiddenPackages?: readonly string[];
}

interface Architecture {
  readonly rooms: readonly Room[];
  readonly composition: { readonly files: readonly string[]; readonly mayImportServer: string[] };
}

const architecture = JSON.parse(
  readFileSync(path.join(ROOT, 'architecture.json'), 'utf8'),
) as Architecture;
const rooms = new Map(architecture.rooms.map((room) => [room.name, room]));

/** The room a `mayImport` entry names (`observability/tracing` → `observability`). */
const roomOf = (entry: string): string => entry.split('/')[0]!;

function mayImport(from: Room, target: string): boolean {
  return (
    roomOf(target) === from.name ||
    from.mayImport.some((entry) => entry === roomOf(target) || entry === target)
  );
}

/** Every relative import of the .ts files directly in `dir`, as `src/`-relative module paths. */
function importsIn(dir: string): { file: string; target: string }[] {
  const found: { file: string; target: string }[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(path.join(dir, name), 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = path.relative(SRC, path.resolve(dir, match[1]!)).split(path.sep).join('/');
      found.push({ file: path.relative(SRC, path.join(dir, name)), target });
    }
  }
  return found;
}

describe('architecture.json', () => {
  it('lists every room of src/, and the composition files at its root', () => {
    const entries = readdirSync(SRC, { withFileTypes: true });
    const directories = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    const present = architecture.rooms.filter((room) => room.reserved !== true);
    expect(directories.sort()).toEqual(present.map((room) => room.name).sort());
    const rootFiles = entries.filter((e) => e.isFile() && e.name.endsWith('.ts'));
    expect(rootFiles.map((e) => e.name).sort()).toEqual([...architecture.composition.files].sort());
    for (const room of architecture.rooms) expect(room.holds).not.toBe('');
  });

  it("is what the README's architecture tree shows: every room present, no other", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const tree = /^## Architecture\n+```\nsrc\/\n([\s\S]*?)^```/m.exec(readme)?.[1];
    expect(tree).toBeDefined();
    // Folder names at the start of the tree's lines (`util/ generated/` may share one line).
    const shown = [...tree!.matchAll(/^ {2}((?:[a-z]+\/ ?)+)/gm)].flatMap((m) =>
      m[1]!
        .trim()
        .split(/\s+/)
        .map((folder) => folder.replace(/\/$/, '')),
    );
    const present = architecture.rooms.filter((room) => room.reserved !== true);
    expect(shown.sort()).toEqual(present.map((room) => room.name).sort());
    const files = [...tree!.matchAll(/^ {2}([a-z-]+\.ts)/gm)].map((m) => m[1]!);
    expect(files.sort()).toEqual([...architecture.composition.files].sort());
  });

  it('points imports inward: every allowance names a room, and rooms import each other without a cycle', () => {
    for (const room of architecture.rooms) {
      for (const entry of room.mayImport) expect(rooms.has(roomOf(entry))).toBe(true);
    }
    // Depth-first search for a back edge over "may import".
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, trail: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'visiting') throw new Error(`cycle: ${[...trail, name].join(' → ')}`);
      state.set(name, 'visiting');
      for (const entry of rooms.get(name)!.mayImport) visit(roomOf(entry), [...trail, name]);
      state.set(name, 'done');
    };
    for (const name of rooms.keys()) expect(() => visit(name, [])).not.toThrow();
  });

  it('holds for the code: each room imports only what it may', () => {
    const violations: string[] = [];
    for (const room of architecture.rooms) {
      if (room.reserved === true) continue;
      for (const { file, target } of importsIn(path.join(SRC, room.name))) {
        const targetRoom = roomOf(target);
        const intoRoom = rooms.has(targetRoom) && target.includes('/');
        if (intoRoom ? !mayImport(room, target) : true) violations.push(`${file} → ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });
});

/**
 * ESLint enforces the rooms (eslint.config.mjs builds no-restricted-imports from
 * architecture.json). Fed one import of every room from every room, it must refuse exactly the
 * imports architecture.json does not allow. ESLint runs in a child process: its flat config is
 * an ES module, which Jest's module system does not load.
 */
describe('the ESLint rules of the rooms', () => {
  interface Probe {
    readonly filePath: string;
    readonly code: string;
    readonly expectRefused: boolean;
  }

  const probes: Probe[] = [];
  // src/generated is written by a tool and not linted.
  for (const from of architecture.rooms.filter((room) => room.name !== 'generated')) {
    const filePath = path.join(SRC, from.name, 'probe.ts');
    for (const to of architecture.rooms) {
      if (to.name === from.name) continue;
      const target = `${to.name}/anything`;
      probes.push({
        filePath,
        code: `export { x } from '../${target}';\n`,
        expectRefused: !mayImport(from, target),
      });
    }
    for (const file of architecture.composition.files) {
      probes.push({
        filePath,
        code: `export { x } from '../${file.replace(/\.ts$/, '')}';\n`,
        expectRefused: true,
      });
    }
    for (const name of from.forbiddenPackages ?? []) {
      const code = `export type { x } from '${name.replace('*', 'anything')}';\n`;
      probes.push({ filePath, code, expectRefused: true });
    }
  }
  for (const file of architecture.composition.files) {
    probes.push({
      filePath: path.join(SRC, file),
      code: `export { x } from './server';\n`,
      expectRefused: !architecture.composition.mayImportServer.includes(file),
    });
    if (file !== 'main.ts') {
      probes.push({
        filePath: path.join(SRC, file),
        code: `export { x } from './main';\n`,
        expectRefused: true,
      });
    }
  }
  // The one partial allowance: the client may use tracing, not the rest of observability.
  probes.push(
    {
      filePath: path.join(SRC, 'client', 'probe.ts'),
      code: `export { x } from '../observability/tracing';\n`,
      expectRefused: false,
    },
    {
      filePath: path.join(SRC, 'client', 'probe.ts'),
      code: `export { x } from '../observability/logging';\n`,
      expectRefused: true,
    },
  );

  it('refuses every import architecture.json forbids, and only those', async () => {
    const script = `
      const { ESLint } = require('eslint');
      const probes = JSON.parse(process.argv[1]);
      (async () => {
        const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
        const refused = [];
        for (const probe of probes) {
          const [result] = await eslint.lintText(probe.code, { filePath: probe.filePath });
          refused.push(result.messages.some((m) => m.ruleId === 'no-restricted-imports'));
        }
        console.log(JSON.stringify(refused));
      })();
    `;
    const { stdout } = await run(process.execPath, ['-e', script, JSON.stringify(probes)], {
      cwd: ROOT,
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    const refused = JSON.parse(stdout.trim()) as boolean[];
    const wrong = probes
      .filter((probe, i) => refused[i] !== probe.expectRefused)
      .map(
        (p) =>
          `${path.relative(ROOT, p.filePath)}: ${p.code.trim()} (${p.expectRefused ? 'allowed' : 'refused'})`,
      );
    expect(wrong).toEqual([]);
    expect(probes.filter((probe) => probe.expectRefused).length).toBeGreaterThan(50);
  });
});

import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root, found from wherever the compiled benchmark runs. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'protos', 'route_guide.proto'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no protos/route_guide.proto above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';

/**
 * The Node.js flags `npm start` gives the server (package.json `scripts.start`, `node <flags>
 * dist/main.js`; the Dockerfile's CMD carries the same, checked by test/unit/node-flags.test.ts),
 * so the benchmark measures the server as it is shipped.
 */
export function startScriptNodeFlags(root = repoRoot()): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = (pkg.scripts['start'] ?? '').trim().split(/\s+/);
  const node = words.indexOf('node');
  const main = words.indexOf('dist/main.js');
  if (node < 0 || main < node) throw new Error(`unexpected start script: ${pkg.scripts['start']}`);
  return words.slice(node + 1, main);
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startScriptNodeFlags } from '../../bench/node-flags';

const root = path.resolve(__dirname, '..', '..');

describe('server Node.js flags', () => {
  it('npm start and the container image run the server with the same flags (what the bench measures)', () => {
    const flags = startScriptNodeFlags(root);
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd!)).toEqual([...flags, 'dist/main.js']);
  });
});

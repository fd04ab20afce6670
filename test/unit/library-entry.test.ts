import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

/**
 * `require('routeguide')` (package.json `main`, after `npm run build`) gives the library —
 * client and app factory — and starts nothing: no port bound, nothing keeping the process
 * alive, so a script that only imports it exits by itself at once.
 */
describe("the package's main entry", () => {
  it('exports the client and the app factory, binds nothing and lets the process exit', async () => {
    const script = `
      const started = Date.now();
      const lib = require(${JSON.stringify(ROOT)});
      const handles = process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'PipeWrap'].includes(r));
      console.log(JSON.stringify({ exports: Object.keys(lib).sort(), handles }));
    `;
    const { stdout } = await run(process.execPath, ['-e', script], {
      // Were a server started, it would bind here (loopback, any port) and keep running.
      env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0' },
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      exports: string[];
      handles: string[];
    };
    expect(result.exports).toEqual(
      expect.arrayContaining([
        'RouteGuideApp',
        'RouteGuideClient',
        'createRouteGuideApp',
        'createRouteGuideClient',
        'loadConfig',
        'loadFeatureDatabase',
      ]),
    );
    expect(result.handles).toEqual([]);
  });
});

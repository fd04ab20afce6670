import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { CANONICAL_FILE } from '../helpers/canonical';
import { ndjson, sseEvents } from '../helpers/rest';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * Every curl command of the README's REST section and of docs/rest.md's Examples, run as
 * printed by Debian's /usr/bin/curl through `bash -c` (quotes, pipes, `$AUTH_TOKEN`, line
 * continuations as a shell reads them). The one rewrite: `localhost:8080` becomes
 * `localhost:<port>` of a test server on a free port, so the suite neither depends on nor
 * disturbs whatever holds 8080 on the machine.
 */
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'rest-readme-token';
const BERKSHIRE = 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA';

/** The shell commands of the first ```sh block after `heading`: continuations joined, no comments. */
export function shellCommands(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const section = markdown.slice(start + 1);
  const end = section.indexOf('\n## ', 1);
  const block = /```sh\n([\s\S]*?)```/.exec(end < 0 ? section : section.slice(0, end));
  if (block === null) throw new Error(`no sh block in ${heading}`);
  return block[1]!
    .replace(/\\\n\s*/g, '')
    .replace(/\|\n\s*/g, '| ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

type Kind = 'get' | 'ndjson' | 'sse' | 'record' | 'chat' | 'health' | 'token';

/** What a command does, from its URL and headers. */
function kindOf(command: string): Kind {
  if (command.includes('$AUTH_TOKEN')) return 'token';
  if (command.includes('/v1/features?')) {
    return command.includes('text/event-stream') ? 'sse' : 'ndjson';
  }
  if (command.includes('/v1/features/')) return 'get';
  if (command.includes('/v1/routes')) return 'record';
  if (command.includes('/v1/notes:chat')) return 'chat';
  if (command.includes('/healthz')) return 'health';
  throw new Error(`unknown command: ${command}`);
}

/** Runs the command with bash as printed, `localhost:8080` pointed at the server. */
async function curl(command: string, server: TestServer): Promise<string> {
  const port = new URL(server.restUrl).port;
  const text = command.replaceAll('localhost:8080', `localhost:${port}`);
  expect(text).not.toBe(command);
  const { stdout } = await run('/bin/bash', ['-c', `set -o pipefail; ${text}`], {
    env: { PATH: '/usr/bin:/bin', AUTH_TOKEN: TOKEN },
    timeout: 30_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe('the REST curl commands of README.md and docs/rest.md, run as printed', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const restDoc = readFileSync(path.join(ROOT, 'docs', 'rest.md'), 'utf8');
  const inBox = loadFeatureDatabase(CANONICAL_FILE).indexesWithin({
    minLatitude: 400000000,
    maxLatitude: 420000000,
    minLongitude: -750000000,
    maxLongitude: -730000000,
  }).length;
  let plain: TestServer;
  let secure: TestServer;

  beforeAll(() => {
    requireProgram(PROGRAMS.curl);
  });

  // Fresh servers per document: RouteChat's answer depends on the notes stored.
  beforeEach(async () => {
    plain = await startTestServer();
    secure = await startTestServer({ env: { AUTH_TOKEN: TOKEN } });
  });

  afterEach(async () => {
    await plain?.close();
    await secure?.close();
  });

  it('finds the commands', () => {
    expect(shellCommands(readme, '## REST').map(kindOf)).toEqual(['get', 'ndjson', 'health']);
    expect(shellCommands(restDoc, '## Examples').map(kindOf)).toEqual([
      'get',
      'ndjson',
      'sse',
      'record',
      'chat',
      'health',
      'token',
    ]);
    for (const command of [
      ...shellCommands(readme, '## REST'),
      ...shellCommands(restDoc, '## Examples'),
    ]) {
      expect(command).toMatch(/(^|\| )curl /);
      expect(command).toContain('localhost:8080');
    }
  });

  /** Runs one command and checks its output by kind; resolves with a line for the log. */
  async function check(command: string): Promise<string> {
    const kind = kindOf(command);
    // The token line needs a server with AUTH_TOKEN; the others run as against `npm start`.
    const output = await curl(command, kind === 'token' ? secure : plain);
    switch (kind) {
      case 'get':
        expect(JSON.parse(output)).toEqual({
          name: BERKSHIRE,
          location: { latitude: 409146138, longitude: -746188906 },
        });
        return `${kind}: ${BERKSHIRE}`;
      case 'ndjson': {
        const lines = ndjson(output);
        expect(lines).toHaveLength(inBox);
        expect(lines.every((line) => Object.keys(line).join() === 'result')).toBe(true);
        expect(lines.map((line) => (line.result as { name: string }).name)).toContain(BERKSHIRE);
        return `${kind}: ${lines.length} lines`;
      }
      case 'sse': {
        const events = sseEvents(output);
        expect(events.slice(0, -1).every((e) => e.event === 'result')).toBe(true);
        expect(events).toHaveLength(inBox + 1);
        expect(events.at(-1)).toEqual({ event: 'end', data: {} });
        expect(output.endsWith('event: end\ndata: {}\n\n')).toBe(true);
        return `${kind}: ${events.length - 1} result events, then end`;
      }
      case 'record': {
        const summary = JSON.parse(output) as Record<string, unknown>;
        expect(summary).toMatchObject({ pointCount: 2, featureCount: 2 });
        expect(summary.distance).toBeGreaterThan(0);
        return `${kind}: ${output.trim()}`;
      }
      case 'chat': {
        const lines = ndjson(output);
        expect(lines).toEqual([
          { result: { location: { latitude: 1, longitude: 1 }, message: 'first' } },
        ]);
        return `${kind}: ${output.trim()}`;
      }
      case 'health':
        expect(JSON.parse(output)).toEqual({ status: 'SERVING' });
        return `${kind}: ${output.trim()}`;
      case 'token':
        expect(JSON.parse(output)).toEqual({ name: '', location: { latitude: 1, longitude: 2 } });
        return `${kind}: ${output.trim()}`;
    }
  }

  it.each([
    ['README.md', '## REST'],
    ['docs/rest.md', '## Examples'],
  ])('every command of %s works as printed', async (file, heading) => {
    const markdown = file === 'README.md' ? readme : restDoc;
    const results: string[] = [];
    for (const command of shellCommands(markdown, heading)) results.push(await check(command));
    console.log(`${file}:\n  ${results.join('\n  ')}`);
  });

  it('the token line is refused without the token (401), so the token is what is tested', async () => {
    const command = shellCommands(restDoc, '## Examples').find((c) => kindOf(c) === 'token')!;
    const port = new URL(secure.restUrl).port;
    const { stdout } = await run(
      '/bin/bash',
      ['-c', `${command.replaceAll('localhost:8080', `localhost:${port}`)} -w ' %{http_code}'`],
      { env: { PATH: '/usr/bin:/bin', AUTH_TOKEN: 'not-the-token' }, timeout: 30_000 },
    );
    expect(stdout.endsWith(' 401')).toBe(true);
  });
});

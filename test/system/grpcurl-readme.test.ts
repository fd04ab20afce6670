import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { CANONICAL_FILE } from '../helpers/canonical';
import { createTestPki, type TestPki } from '../helpers/certificates';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * Every grpcurl command of the README's grpcurl section, run as printed by a strict peer
 * (test/system/grpcurl_peer.py: python3-grpcio + python3-protobuf's C++ DescriptorPool) that,
 * like grpcurl, knows no .proto file: it gets every schema by reflection, over v1 and over
 * v1alpha, validates each FileDescriptorProto, and builds requests from the JSON.
 */
const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const ROOT = path.resolve(__dirname, '..', '..');
const PEER = path.join(__dirname, 'grpcurl_peer.py');
const REFLECTION_PROTO_ROOT = path.resolve(
  path.dirname(require.resolve('@grpc/reflection')),
  '..',
  'proto',
);
const TOKEN = 'readme-token';

interface ReadmeCommand {
  readonly text: string;
  readonly args: string[];
  readonly stdin?: string;
}

/** Splits one shell command line into words: quotes, backslashes and $VARIABLES. */
function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const expand = (text: string): string =>
    text.replace(/\$\{?(\w+)\}?/g, (_, name: string) => env[name] ?? '');
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1);
      word = (word ?? '') + expand(line.slice(i + 1, end));
      i = end;
    } else if (c === '$') {
      const match = /^\$\{?(\w+)\}?/.exec(line.slice(i))!;
      word = (word ?? '') + expand(match[0]);
      i += match[0].length - 1;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The grpcurl commands of the README's "## grpcurl" section, with their heredoc stdin. */
export function readmeGrpcurlCommands(
  readme: string,
  env: Record<string, string>,
): ReadmeCommand[] {
  const section = readme.slice(readme.indexOf('\n## grpcurl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf('\n## ', 1)))![1]!;
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  const commands: ReadmeCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line.startsWith('grpcurl ')) continue;
    const heredoc = /<<'(\w+)'$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      while (lines[++i] !== heredoc[1]) body.push(lines[i]!);
      const text = line.slice(0, heredoc.index).trim();
      commands.push({ text, args: shellWords(text, env).slice(1), stdin: body.join('\n') });
    } else {
      commands.push({ text: line, args: shellWords(line, env).slice(1) });
    }
  }
  return commands;
}

interface PeerResult {
  args: string[];
  ok: boolean;
  output?: string[];
  error?: string;
}

function runPeer(stubs: string, version: string, job: object): Promise<PeerResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PEER, stubs, version], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`grpcurl_peer.py exited ${code}: ${stderr}`));
      else
        resolve(
          stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as PeerResult),
        );
    });
    child.stdin.end(JSON.stringify(job));
  });
}

describe('the README grpcurl section, run by a strict reflection peer', () => {
  let stubs: string;
  let plain: TestServer;
  let secure: TestServer;
  let pki: TestPki;
  let commands: ReadmeCommand[];

  beforeAll(async () => {
    requireProgram(PROGRAMS.python3Grpcio);
    requireProgram(PROGRAMS.python3Protobuf);
    stubs = mkdtempSync(path.join(tmpdir(), 'routeguide-grpcurl-'));
    await run(PYTHON, [
      '-m',
      'grpc_tools.protoc',
      `-I${REFLECTION_PROTO_ROOT}`,
      `--python_out=${stubs}`,
      'grpc/reflection/v1/reflection.proto',
      'grpc/reflection/v1alpha/reflection.proto',
    ]);
    pki = createTestPki();
    commands = readmeGrpcurlCommands(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), {
      AUTH_TOKEN: TOKEN,
    });
  });

  // Fresh servers for each reflection version: RouteChat's answer depends on the notes stored.
  beforeEach(async () => {
    plain = await startTestServer();
    secure = await startTestServer({
      env: {
        TLS_CERT_FILE: pki.files.serverCert,
        TLS_KEY_FILE: pki.files.serverKey,
        TLS_CLIENT_CA_FILE: pki.files.ca,
        AUTH_TOKEN: TOKEN,
      },
    });
  });

  afterEach(async () => {
    await plain?.close();
    await secure?.close();
  });

  afterAll(() => pki?.remove());

  it('finds the commands', () => {
    expect(commands.map((c) => c.args.at(-1))).toEqual([
      'list',
      'routeguide.RouteGuide',
      'routeguide.Feature',
      'routeguide.RouteGuide/GetFeature',
      'routeguide.RouteGuide/ListFeatures',
      'routeguide.RouteGuide/RecordRoute',
      'routeguide.RouteGuide/RouteChat',
      'grpc.health.v1.Health/Check',
      'grpc.health.v1.Health/Check',
      'grpc.health.v1.Health/Watch',
      'grpc.health.v1.Health/List',
      'routeguide.RouteGuide/GetFeature',
    ]);
  });

  it.each(['v1', 'v1alpha'])(
    'every command works as printed over reflection %s',
    async (version) => {
      const job = {
        files: {
          'ca.pem': pki.files.ca,
          'client.pem': pki.files.clientCert,
          'client.key': pki.files.clientKey,
        },
        commands: commands.map((c) => ({
          args: c.args,
          address: c.args.includes('-plaintext') ? plain.address : `localhost:${secure.app.port}`,
          ...(c.stdin !== undefined ? { stdin: c.stdin } : {}),
          // Watch never ends by itself: stop after the first answer, as Ctrl-C would.
          ...(c.args.at(-1)?.endsWith('/Watch') ? { take: 1 } : {}),
        })),
      };
      const results = await runPeer(stubs, version, job);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      const [list, describeService, describeFeature, get, listFeatures, record, chat, ...rest] =
        results.map((r) => r.output!);
      const [checkServer, checkService, watch, healthList, secureGet] = rest;

      expect(list).toEqual([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'routeguide.RouteGuide',
      ]);
      expect(describeService![0]).toContain(
        'rpc RouteChat ( stream .routeguide.RouteNote ) returns ( stream .routeguide.RouteNote );',
      );
      expect(describeFeature![0]).toBe(
        [
          'routeguide.Feature is a message:',
          'message Feature {',
          '  string name = 1;',
          '  .routeguide.Point location = 2;',
          '}',
        ].join('\n'),
      );
      const berkshire = 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA';
      expect(JSON.parse(get![0]!)).toMatchObject({ name: berkshire });
      const db = loadFeatureDatabase(CANONICAL_FILE);
      const inBox = db.indexesWithin({
        minLatitude: 400000000,
        maxLatitude: 420000000,
        minLongitude: -750000000,
        maxLongitude: -730000000,
      });
      expect(listFeatures).toHaveLength(inBox.length);
      expect(inBox.length).toBeGreaterThan(10);
      expect(JSON.parse(record![0]!)).toMatchObject({ pointCount: 3, featureCount: 3 });
      expect(chat!.map((n) => JSON.parse(n) as unknown)).toEqual([
        { location: { longitude: 1 }, message: 'First message' },
      ]);
      expect(JSON.parse(checkServer![0]!)).toEqual({ status: 'SERVING' });
      expect(JSON.parse(checkService![0]!)).toEqual({ status: 'SERVING' });
      expect(JSON.parse(watch![0]!)).toEqual({ status: 'SERVING' });
      expect(JSON.parse(healthList![0]!)).toEqual({
        statuses: { '': { status: 'SERVING' }, 'routeguide.RouteGuide': { status: 'SERVING' } },
      });
      expect(JSON.parse(secureGet![0]!)).toMatchObject({ name: berkshire });
    },
  );
});

import { spawn } from 'node:child_process';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * An independent WebSocket peer, Debian's python3-websocket (websocket-client, its own
 * handshake, framing and close handling), runs RouteChat over ws:// against the real server
 * (test/system/websocket_chat_peer.py).
 */
const PYTHON = '/usr/bin/python3';
const PEER = path.join(__dirname, 'websocket_chat_peer.py');
const TOKEN = 'websocket-python-token';

interface Session {
  url: string;
  headers?: string[];
  messages: (object | string)[];
  half_close?: boolean;
}

interface SessionResult {
  received: Record<string, unknown>[];
  close: { code: number | null; reason: string };
}

function runPeer(sessions: Session[]): Promise<SessionResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PEER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`websocket_chat_peer.py exited ${code}: ${stderr}`));
      else
        resolve(
          stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as SessionResult),
        );
    });
    child.stdin.end(JSON.stringify({ sessions }));
  });
}

describe('RouteChat over WebSocket with python3-websocket', () => {
  let server: TestServer;
  let chatUrl: string;
  const bearer = [`Authorization: Bearer ${TOKEN}`];

  beforeAll(async () => {
    requireProgram(PROGRAMS.python3Websocket);
    server = await startTestServer({ env: { AUTH_TOKEN: TOKEN } });
    chatUrl = `${server.restUrl.replace('http:', 'ws:')}/v1/notes:chat`;
  });

  afterAll(async () => {
    await server?.close();
  });

  const routeChat = () =>
    server.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true);

  it('notes out, earlier notes back, half-close, status OK, close 1000', async () => {
    const here = { latitude: 11, longitude: 22 };
    const there = { latitude: 33, longitude: 44 };
    const [withHeader, withQuery] = await runPeer([
      {
        url: chatUrl,
        headers: bearer,
        messages: [
          { location: here, message: 'one' },
          // either spelling of a field, int32 as a decimal string: proto3's JSON mapping
          { location: { latitude: '11', longitude: 22 }, message: 'two' },
          { location: there, message: 'elsewhere' },
          { location: here, message: 'three' },
        ],
      },
      // A second call sees the first call's notes; the token as access_token this time.
      {
        url: `${chatUrl}?access_token=${TOKEN}`,
        messages: [{ location: there, message: 'again' }],
      },
    ]);
    expect(withHeader).toEqual({
      received: [
        { location: here, message: 'one' },
        { location: here, message: 'one' },
        { location: here, message: 'two' },
        { status: { code: 0, message: 'OK', details: [] } },
      ],
      close: { code: 1000, reason: 'OK' },
    });
    expect(withQuery).toEqual({
      received: [
        { location: there, message: 'elsewhere' },
        { status: { code: 0, message: 'OK', details: [] } },
      ],
      close: { code: 1000, reason: 'OK' },
    });
    console.log(
      `python3-websocket: ${withHeader!.received.length - 1} + ${withQuery!.received.length - 1} replays, close ${withHeader!.close.code}`,
    );
  });

  it('an invalid note, invalid JSON, a missing token: the documented close codes', async () => {
    const at = { latitude: 55, longitude: 66 };
    const okBefore = routeChat().handled[0] ?? 0;
    const [badNote, badJson, arrayNote, noToken] = await runPeer([
      {
        url: chatUrl,
        headers: bearer,
        messages: [
          { location: at, message: 'kept' },
          { location: { latitude: 'north', longitude: 66 }, message: 'bad' },
          { location: at, message: 'never read' },
        ],
      },
      { url: chatUrl, headers: bearer, messages: ['{"location": '] },
      // A note that is not a JSON object; the call fails before half-close, none is sent.
      { url: chatUrl, headers: bearer, messages: [[1, 2]], half_close: false },
      { url: chatUrl, messages: [{ location: at, message: 'anonymous' }] },
    ]);
    expect(badNote!.close.code).toBe(4003);
    expect(badNote!.close.reason).toMatch(/latitude/);
    expect(badNote!.received).toEqual([
      { status: { code: 3, message: badNote!.close.reason, details: [] } },
    ]);
    expect(badJson!.close.code).toBe(4003);
    expect(badJson!.close.reason).toMatch(/message 0: invalid JSON/);
    expect(arrayNote!.close.code).toBe(4003);
    expect(noToken!.close.code).toBe(4016);
    expect(noToken!.received).toEqual([
      { status: expect.objectContaining({ code: 16 }) as unknown },
    ]);
    // The bad note's call kept the note before it; the refused ones stored nothing.
    const [after] = await runPeer([
      { url: chatUrl, headers: bearer, messages: [{ location: at, message: 'last' }] },
    ]);
    expect(after!.received).toEqual([
      { location: at, message: 'kept' },
      { status: { code: 0, message: 'OK', details: [] } },
    ]);
    expect(routeChat().handled[0]! - okBefore).toBe(1);
    expect(routeChat().handled[3]).toBe(3);
    expect(routeChat().handled[16]).toBe(1);
    console.log(
      `close codes: invalid note ${badNote!.close.code} (${badNote!.close.reason}), invalid JSON ${badJson!.close.code}, no token ${noToken!.close.code}`,
    );
  });

  it('a note over MAX_RECEIVE_MESSAGE_BYTES: close 1009, the call counted RESOURCE_EXHAUSTED', async () => {
    const small = await startTestServer({ env: { MAX_RECEIVE_MESSAGE_BYTES: '1024' } });
    try {
      const url = `${small.restUrl.replace('http:', 'ws:')}/v1/notes:chat`;
      const at = { latitude: 77, longitude: 88 };
      const [oversized, after] = await runPeer([
        {
          url,
          messages: [
            { location: at, message: 'fits' },
            { location: at, message: 'x'.repeat(2000) },
          ],
          half_close: false,
        },
        { url, messages: [{ location: at, message: 'next' }] },
      ]);
      expect(oversized!.close.code).toBe(1009);
      // The server keeps serving, and the note that fit was stored.
      expect(after!.received).toEqual([
        { location: at, message: 'fits' },
        { status: { code: 0, message: 'OK', details: [] } },
      ]);
      const chat = small.app.calls.forMethod('/routeguide.RouteGuide/RouteChat', true, true);
      expect(chat.started).toBe(2);
      // Counted as over gRPC: RESOURCE_EXHAUSTED, not a cancellation by the peer.
      expect(chat.handled[0]).toBe(1);
      expect(chat.handled[8]).toBe(1);
      console.log(
        `oversized note: close ${oversized!.close.code}, handled ${JSON.stringify(chat.handled)}`,
      );
    } finally {
      await small.close();
    }
  });
});

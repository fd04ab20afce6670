import { get } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';

/** GET http://127.0.0.1:port/path → status and body. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition into samples (enough for prom-client's output). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrapes /metrics; `value(name, labels)` sums the samples matching every given label. */
export async function scrape(port: number): Promise<{
  text: string;
  samples: Sample[];
  value: (name: string, labels?: Record<string, string>) => number;
}> {
  const { status, body } = await httpGet(port, '/metrics');
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  const samples = parseExposition(body);
  return {
    text: body,
    samples,
    value: (name, labels = {}) =>
      samples
        .filter(
          (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
        )
        .reduce((sum, s) => sum + s.value, 0),
  };
}

export interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    callback: (error: grpc.ServiceError | null, response?: { status: string }) => void,
  ): grpc.ClientUnaryCall;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  list(
    request: object,
    callback: (
      error: grpc.ServiceError | null,
      response?: { statuses: Record<string, { status: string }> },
    ) => void,
  ): grpc.ClientUnaryCall;
}

/** A grpc.health.v1.Health client built from the library's own .proto. */
export function healthClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
): HealthClient {
  const definition = protoLoader.loadSync(HEALTH_PROTO_PATH, {
    keepCase: true,
    enums: String,
    defaults: true,
  });
  const Health = (
    grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    }
  ).grpc.health.v1.Health;
  return new Health(address, credentials) as unknown as HealthClient;
}

export function check(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (error, response) =>
      error ? reject(error) : resolve(response!.status),
    ),
  );
}

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import type { IConfigMap, IService } from 'kubernetes-models/v1';
import { loadConfig } from '../../src/config';
import {
  ROOT,
  assembleKustomization,
  documentedVariables,
  renderKustomize,
  validateWithKubernetesModels,
  type K8sObject,
} from '../helpers/deploy';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const byKindAndName = (objects: K8sObject[]) =>
  Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

/** kubectl's kustomize on k8s/: what `kubectl apply -k k8s/` really sends. */
describe('kubectl kustomize k8s/', () => {
  beforeAll(() => requireProgram(PROGRAMS.kubectl));

  it('renders exactly what npm test checks (assembleKustomization), plus the ConfigMap hash', () => {
    const rendered = renderKustomize();
    const assembled = assembleKustomization();
    let json = JSON.stringify(rendered);
    // kustomize names generated ConfigMaps <name>-<10-character content hash>, everywhere.
    for (const generated of assembled.filter((o) => o.kind === 'ConfigMap')) {
      const name = generated.metadata.name;
      const hashed = rendered.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${name}-`),
      )?.metadata.name;
      expect(hashed).toMatch(new RegExp(`^${name}-[a-z0-9]{10}$`));
      json = json.replaceAll(`"${hashed!}"`, `"${name}"`);
    }
    expect(byKindAndName(JSON.parse(json) as K8sObject[])).toEqual(byKindAndName(assembled));
  });

  it('a configuration change renames the ConfigMap, so applying it rolls the Deployment', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'routeguide-k8s-'));
    try {
      cpSync(path.join(ROOT, 'k8s'), copy, { recursive: true });
      const env = path.join(copy, 'config.env');
      writeFileSync(env, readFileSync(env, 'utf8').replace('LOG_LEVEL=info', 'LOG_LEVEL=debug'));
      const names = (dir: string) => {
        const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
        const objects = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
        const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
          spec: {
            template: { spec: { containers: { envFrom: { configMapRef: { name: string } }[] }[] } };
          };
        };
        return {
          configMap: objects.find((o) => o.kind === 'ConfigMap')!.metadata.name,
          usedBy: deployment.spec.template.spec.containers[0]!.envFrom[0]!.configMapRef.name,
        };
      };
      const before = names(path.join(ROOT, 'k8s'));
      const after = names(copy);
      expect(after.configMap).not.toBe(before.configMap);
      expect(before.usedBy).toBe(before.configMap);
      expect(after.usedBy).toBe(after.configMap);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

/** k8s/components/jwt after components/tls, as its comment says, rendered by kubectl kustomize. */
describe('k8s/components/jwt (kubectl kustomize)', () => {
  let rendered: K8sObject[];
  const server = (kind: string) =>
    rendered.filter(
      (o) =>
        o.kind === kind &&
        (o.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/name'] !==
          'redis',
    );

  beforeAll(() => {
    requireProgram(PROGRAMS.kubectl);
    const overlay = mkdtempSync(path.join(tmpdir(), 'routeguide-k8s-jwt-'));
    const k8s = path.relative(overlay, path.join(ROOT, 'k8s'));
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${k8s}]`,
        `components: [${k8s}/components/tls, ${k8s}/components/jwt]`,
        '',
      ].join('\n'),
    );
    try {
      const out = execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' });
      rendered = parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });

  it('validates, and the server reads JWT settings from the routeguide-jwt ConfigMap beside its own', () => {
    for (const result of validateWithKubernetesModels(rendered)) {
      expect(result).toEqual({ ...result, errors: [] });
    }
    const maps = server('ConfigMap') as unknown as IConfigMap[];
    const jwt = maps.find((m) => m.metadata!.name!.startsWith('routeguide-jwt-'))!;
    const base = maps.find((m) => m.metadata!.name!.startsWith('routeguide-config-'))!;
    for (const name of Object.keys(jwt.data!)) expect(documentedVariables()).toContain(name);
    const config = loadConfig({ ...base.data, ...jwt.data, REPLICA_ID: 'pod' });
    expect(config.jwt).toMatchObject({ audience: 'routeguide' });
    expect(config.tls).toBeDefined();

    const [deployment] = server('Deployment') as unknown as IDeployment[];
    const container = deployment!.spec!.template.spec!.containers[0]!;
    expect(container.envFrom!.map((e) => e.configMapRef?.name)).toEqual([
      base.metadata!.name,
      jwt.metadata!.name,
    ]);
  });

  it('the REST port speaks HTTPS with the gRPC port, and its Service port says so', () => {
    const maps = server('ConfigMap') as unknown as IConfigMap[];
    const base = maps.find((m) => m.metadata!.name!.startsWith('routeguide-config-'))!;
    const config = loadConfig({ ...base.data, REPLICA_ID: 'pod' });
    // The REST gateway takes the gRPC port's certificate (docs/rest.md, "TLS").
    expect(config.tls).toBeDefined();
    expect(config.rest?.port).toBe(8080);
    const service = (server('Service') as unknown as IService[]).find(
      (s) => s.metadata!.name === 'routeguide',
    )!;
    expect(service.spec!.ports!.find((p) => p.name === 'http')).toEqual({
      name: 'http',
      port: 8080,
      targetPort: 'http',
      protocol: 'TCP',
      appProtocol: 'https',
    });
    // gRPC over TLS: no appProtocol (kubernetes.io/h2c would tell a mesh it is cleartext).
    for (const each of server('Service') as unknown as IService[]) {
      const grpcPort = each.spec!.ports!.find((p) => p.name === 'grpc');
      if (grpcPort !== undefined) expect(grpcPort.appProtocol).toBeUndefined();
    }
    expect(
      (server('Service') as unknown as IService[]).filter((s) =>
        s.metadata!.name!.startsWith('routeguide'),
      ).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('the client Job sends the token file from the routeguide-client-token Secret, over TLS', () => {
    const [job] = server('Job') as unknown as IJob[];
    const pod = job!.spec!.template.spec!;
    const args = pod.containers[0]!.args!;
    expect(args).toEqual(expect.arrayContaining(['--tls', '--token-file']));
    const file = args[args.indexOf('--token-file') + 1]!;
    const mount = pod.containers[0]!.volumeMounts!.find((m) => m.name === 'token')!;
    expect(path.dirname(file)).toBe(mount.mountPath);
    expect(pod.volumes!.find((v) => v.name === 'token')?.secret?.secretName).toBe(
      'routeguide-client-token',
    );
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import type { IConfigMap } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config';
import {
  ROOT,
  documentedVariables,
  validateWithKubernetesModels,
  type K8sObject,
} from '../helpers/deploy';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/**
 * k8s/components/tls, applied the way its comment says (an overlay with k8s/ as resource and
 * the component), rendered by `kubectl kustomize` and validated like k8s/ itself.
 */
describe('k8s/components/tls (kubectl kustomize)', () => {
  let rendered: K8sObject[];
  /** The one object of a kind that belongs to the server (k8s/ also holds Redis's Deployment). */
  const only = <T>(kind: string): T => {
    const found = rendered.filter(
      (o) =>
        o.kind === kind &&
        (o.metadata as { labels?: Record<string, string> } | undefined)?.labels?.[
          'app.kubernetes.io/name'
        ] !== 'redis',
    );
    expect(found).toHaveLength(1);
    return found[0] as unknown as T;
  };

  beforeAll(() => {
    requireProgram(PROGRAMS.kubectl);
    const overlay = mkdtempSync(path.join(tmpdir(), 'routeguide-k8s-tls-'));
    // kustomize wants relative paths.
    const k8s = path.relative(overlay, path.join(ROOT, 'k8s'));
    writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${k8s}]`,
        `components: [${k8s}/components/tls]`,
        '',
      ].join('\n'),
    );
    try {
      const out = execFileSync('kubectl', ['kustomize', overlay], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      rendered = parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });

  it('every object validates against the Kubernetes schemas', () => {
    const results = validateWithKubernetesModels(rendered);
    expect(results).toHaveLength(rendered.length);
    for (const result of results) expect(result).toEqual({ ...result, errors: [] });
  });

  it('TLS from the mounted Secret, probes on the plaintext health port', () => {
    const env = only<IConfigMap>('ConfigMap').data!;
    for (const name of Object.keys(env)) expect(documentedVariables()).toContain(name);
    const config = loadConfig({ ...env, REPLICA_ID: 'pod' });
    expect(config.tls).toBeDefined();
    expect(config.healthPort).toBeDefined();

    const pod = only<IDeployment>('Deployment').spec!.template.spec!;
    const server = pod.containers[0]!;
    expect(server.envFrom?.[0]?.configMapRef?.name).toBe(
      only<IConfigMap>('ConfigMap').metadata!.name,
    );
    const portOf = (name: string) => server.ports!.find((p) => p.name === name)?.containerPort;
    expect(portOf('grpc')).toBe(config.port);
    expect(portOf('health')).toBe(config.healthPort);
    for (const probe of [server.startupProbe, server.readinessProbe, server.livenessProbe]) {
      expect(probe?.grpc?.port).toBe(config.healthPort);
    }
    expect(server.readinessProbe?.grpc?.service).toBe('routeguide.RouteGuide');

    // The Secret is mounted as a directory holding both files, without subPath: the kubelet
    // then rewrites the files in place on renewal, and the server reloads them.
    const mount = server.volumeMounts!.find((m) => m.name === 'tls')!;
    expect(mount.subPath).toBeUndefined();
    expect(path.dirname(config.tls!.certFile)).toBe(mount.mountPath);
    expect(path.dirname(config.tls!.keyFile)).toBe(mount.mountPath);
    const volume = pod.volumes!.find((v) => v.name === 'tls')!;
    expect(volume.secret?.secretName).toBe('routeguide-tls');
  });

  it('the client Job speaks TLS with the CA from the same Secret', () => {
    const pod = only<IJob>('Job').spec!.template.spec!;
    const args = pod.containers[0]!.args!;
    expect(args).toEqual(expect.arrayContaining(['--tls', '--tls-ca']));
    const ca = args[args.indexOf('--tls-ca') + 1]!;
    const mount = pod.containers[0]!.volumeMounts!.find((m) => m.name === 'tls')!;
    expect(path.dirname(ca)).toBe(mount.mountPath);
    expect(pod.volumes!.find((v) => v.name === 'tls')?.secret?.secretName).toBe('routeguide-tls');
  });
});

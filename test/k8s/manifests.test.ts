import { existsSync } from 'node:fs';
import path from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IJob } from 'kubernetes-models/batch/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type {
  IConfigMap,
  IContainer,
  IPodSpec,
  IService,
  IServiceAccount,
} from 'kubernetes-models/v1';
import { loadConfig } from '../../src/config';
import {
  ROOT,
  assembleKustomization,
  dockerfileFacts,
  documentedVariables,
  imageName,
  parseYamlFile,
  validateWithKubernetesModels,
} from '../helpers/deploy';

// k8s/ as `kubectl kustomize` renders it, assembled in Node (no kubectl needed); the system tier
// (test/system/kustomize.test.ts) checks that kubectl renders exactly this.
const rendered = assembleKustomization();

function only<T>(kind: string, name?: string): T {
  const found = rendered.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0] as unknown as T;
}

const deployment = only<IDeployment>('Deployment', 'routeguide');
const podSpec = deployment.spec!.template.spec!;
const server = podSpec.containers[0]!;
const job = only<IJob>('Job');
const jobPod = job.spec!.template.spec!;
const configMap = only<IConfigMap>('ConfigMap');
const REDIS = 'routeguide-redis';
const redisDeployment = only<IDeployment>('Deployment', REDIS);
const redisPod = redisDeployment.spec!.template.spec!;
const redisContainer = redisPod.containers[0]!;
const redisService = only<IService>('Service', REDIS);
/** The routeguide server's Services (not Redis's). */
const services = rendered.filter(
  (o) => o.kind === 'Service' && o.metadata.name !== REDIS,
) as unknown as IService[];
const headless = services.find((s) => s.spec?.clusterIP === 'None')!;
const clusterIp = services.find((s) => s.spec?.clusterIP !== 'None')!;

/** A label selector's matchLabels (or a Service's plain selector) matches these labels. */
function matches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  expect(selector).toBeDefined();
  expect(Object.keys(selector!).length).toBeGreaterThan(0);
  return Object.entries(selector!).every(([k, v]) => labels[k] === v);
}

function containerPort(container: IContainer, name: string): number {
  const port = container.ports?.find((p) => p.name === name);
  if (port === undefined) throw new Error(`container ${container.name} has no port ${name}`);
  return port.containerPort;
}

const podLabels = deployment.spec!.template.metadata!.labels!;

describe('k8s/ (as kustomize renders it)', () => {
  it('renders every object the deployment needs, once', () => {
    const kinds = rendered.map((o) => `${o.apiVersion} ${o.kind}`).sort();
    expect(kinds).toEqual(
      [
        'apps/v1 Deployment',
        'apps/v1 Deployment',
        'networking.k8s.io/v1 NetworkPolicy',
        'v1 Service',
        'autoscaling/v2 HorizontalPodAutoscaler',
        'batch/v1 Job',
        'policy/v1 PodDisruptionBudget',
        'v1 ConfigMap',
        'v1 Service',
        'v1 Service',
        'v1 ServiceAccount',
      ].sort(),
    );
    expect(new Set(rendered.map((o) => `${o.kind}/${o.metadata.name}`)).size).toBe(rendered.length);
  });

  it('every object validates against the Kubernetes schemas (kubernetes-models)', () => {
    const results = validateWithKubernetesModels(rendered);
    expect(results).toHaveLength(rendered.length);
    for (const result of results) expect(result).toEqual({ ...result, errors: [] });
  });

  it('the validator does catch schema errors (so the check above means something)', () => {
    const broken = structuredClone(deployment) as unknown as {
      spec: {
        template: { spec: { containers: { readinessProbe: { grpc: { port: unknown } } }[] } };
      };
    };
    broken.spec.template.spec.containers[0]!.readinessProbe.grpc.port = 'grpc';
    const [result] = validateWithKubernetesModels([
      broken,
      { apiVersion: 'v1', kind: 'Nope', metadata: {} },
    ]);
    expect(result!.errors.join('\n')).toMatch(/readinessProbe\/grpc\/port must be integer/);
  });

  it('selectors match the pod labels: Deployment, both Services, PDB, topology spread', () => {
    expect(matches(deployment.spec!.selector.matchLabels, podLabels)).toBe(true);
    expect(services).toHaveLength(2);
    for (const service of services) expect(matches(service.spec!.selector, podLabels)).toBe(true);
    const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget');
    expect(matches(pdb.spec!.selector!.matchLabels, podLabels)).toBe(true);
    for (const constraint of podSpec.topologySpreadConstraints!) {
      expect(matches(constraint.labelSelector!.matchLabels, podLabels)).toBe(true);
    }
    // The client Job's pods must not receive Service traffic or count against the PDB.
    const clientLabels = job.spec!.template.metadata!.labels!;
    for (const service of services)
      expect(matches(service.spec!.selector, clientLabels)).toBe(false);
    expect(matches(pdb.spec!.selector!.matchLabels, clientLabels)).toBe(false);
  });

  it('one headless Service for client-side balancing and one ClusterIP Service', () => {
    expect(headless.spec!.clusterIP).toBe('None');
    expect(clusterIp.spec!.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(headless.metadata!.name).not.toBe(clusterIp.metadata!.name);
  });

  it('Service, probe and annotation ports are the container ports, which the image exposes', () => {
    const grpcPort = containerPort(server, 'grpc');
    const metricsPort = containerPort(server, 'metrics');
    const healthPort = containerPort(server, 'health');
    const httpPort = containerPort(server, 'http');
    for (const service of services) {
      for (const port of service.spec!.ports!) {
        const target = port.targetPort!;
        const resolved = typeof target === 'string' ? containerPort(server, target) : target;
        expect([grpcPort, metricsPort, httpPort]).toContain(resolved);
      }
      expect(service.spec!.ports!.find((p) => p.name === 'grpc')?.port).toBe(grpcPort);
      // Cleartext HTTP/2; port 0, where components/tls removes it (a JSON patch by index).
      expect(service.spec!.ports![0]).toMatchObject({
        name: 'grpc',
        appProtocol: 'kubernetes.io/h2c',
      });
    }
    // REST on the ClusterIP Service under the container's own port number (docs/deployment.md).
    expect(clusterIp.spec!.ports!.find((p) => p.name === 'http')).toEqual({
      name: 'http',
      port: httpPort,
      targetPort: 'http',
      protocol: 'TCP',
      appProtocol: 'http',
    });
    // Probes call the plaintext health port (its own connection cap), which no Service exposes.
    for (const probe of [server.startupProbe, server.readinessProbe, server.livenessProbe]) {
      expect(probe?.grpc?.port).toBe(healthPort);
    }
    const annotations = deployment.spec!.template.metadata!.annotations!;
    expect(annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(metricsPort),
      'prometheus.io/path': '/metrics',
    });
    expect(dockerfileFacts().exposed.sort()).toEqual(
      [grpcPort, metricsPort, healthPort, httpPort].sort(),
    );
  });

  it('the readiness probe asks about the RouteGuide service, liveness about the server', () => {
    expect(server.readinessProbe!.grpc!.service).toBe('routeguide.RouteGuide');
    expect(server.livenessProbe!.grpc!.service ?? '').toBe('');
    expect(server.startupProbe).toBeDefined();
  });

  it('the configuration is valid for the server and agrees with the container ports', () => {
    const env = configMap.data!;
    const documented = documentedVariables();
    const names = [...Object.keys(env), ...(server.env ?? []).map((e) => e.name)];
    for (const name of names) expect(documented).toContain(name);
    expect(server.envFrom?.[0]?.configMapRef?.name).toBe(configMap.metadata!.name);
    const config = loadConfig({ ...env, REPLICA_ID: 'pod-name' });
    expect(config.port).toBe(containerPort(server, 'grpc'));
    expect(config.metrics.port).toBe(containerPort(server, 'metrics'));
    expect(config.healthPort).toBe(containerPort(server, 'health'));
    expect(config.rest?.port).toBe(containerPort(server, 'http'));
    // The probes' port keeps answering when the gRPC port is full: separate, smaller cap.
    expect(config.healthPort).not.toBe(config.port);
    expect(config.connections.maxConnections).toBeGreaterThan(0);
    expect(config.shutdown.delayMs).toBeGreaterThan(0);
    // REPLICA_ID comes from the pod name, so x-routeguide-replica names the pod.
    expect(server.env).toContainEqual({
      name: 'REPLICA_ID',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
  });

  it('graceful termination: preStop sleep, then drain delay and grace, all within the grace period', () => {
    const env = configMap.data!;
    const config = loadConfig(env);
    const preStopS = server.lifecycle!.preStop!.sleep!.seconds;
    expect(preStopS).toBeGreaterThan(0);
    expect(server.lifecycle!.preStop!.exec).toBeUndefined(); // no shell in the image
    const neededMs = preStopS * 1000 + config.shutdown.delayMs + config.shutdown.graceMs;
    expect(podSpec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(neededMs);
  });

  it('pods run hardened: non-root, read-only root, no capabilities, no escalation, seccomp', () => {
    const user = dockerfileFacts().user;
    for (const pod of [podSpec, jobPod, redisPod] as IPodSpec[]) {
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      // The same numeric user as the image's USER, which runAsNonRoot can verify (Redis: the
      // redis image's user, 999).
      expect(`${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`).toBe(
        pod === redisPod ? '999:999' : user,
      );
      for (const container of pod.containers) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources?.requests).toMatchObject({
          cpu: expect.any(String),
          memory: expect.any(String),
        });
        expect(container.resources?.limits?.['memory']).toEqual(expect.any(String));
      }
    }
    const account = only<IServiceAccount>('ServiceAccount');
    expect(account.automountServiceAccountToken).toBe(false);
    expect(podSpec.serviceAccountName).toBe(account.metadata!.name);
  });

  it('three replicas, spread over nodes, with a PDB and an HPA on the Deployment', () => {
    expect(deployment.spec!.replicas).toBe(3);
    expect(podSpec.topologySpreadConstraints!.map((c) => c.topologyKey)).toContain(
      'kubernetes.io/hostname',
    );
    const hpa = only<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
    expect(hpa.spec!.scaleTargetRef).toMatchObject({
      apiVersion: deployment.apiVersion,
      kind: 'Deployment',
      name: deployment.metadata!.name,
    });
    expect(hpa.spec!.minReplicas).toBe(deployment.spec!.replicas);
    expect(hpa.spec!.maxReplicas).toBeGreaterThan(hpa.spec!.minReplicas!);
    const pdb = only<IPodDisruptionBudget>('PodDisruptionBudget');
    expect(pdb.spec!.maxUnavailable).toBe(1);
  });

  it('server and client Job run the image the Dockerfile builds, with its entry points', () => {
    const facts = dockerfileFacts();
    expect(server.image).toBe(imageName());
    expect(jobPod.containers[0]!.image).toBe(imageName());
    // Neither overrides the entrypoint (node); the server keeps the image's CMD.
    expect(facts.entrypoint).toEqual(['/nodejs/bin/node']);
    expect(server.command).toBeUndefined();
    expect(server.args).toBeUndefined();
    // The CMD is Node flags (the same as `npm start`'s, see node-flags.test.ts), then the script.
    expect(facts.cmd.at(-1)).toBe('dist/main.js');
    const client = jobPod.containers[0]!;
    expect(client.command).toBeUndefined();
    // Scripts the image runs exist in the build output (npm test builds first).
    for (const script of [facts.cmd.at(-1)!, client.args![0]!, facts.healthcheck[1]!]) {
      expect(existsSync(path.join(ROOT, script))).toBe(true);
    }
  });

  it('the client Job runs spread against the headless Service', () => {
    const args = jobPod.containers[0]!.args!;
    const grpcPort = containerPort(server, 'grpc');
    expect(args).toEqual([
      'dist/client/cli.js',
      'spread',
      '--target',
      `dns:///${headless.metadata!.name}:${grpcPort}`,
      '--calls',
      '300',
    ]);
    expect(jobPod.restartPolicy).toBe('Never');
    expect(job.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
  });

  it('compose runs the same client command, against the compose service name', () => {
    const compose = parseYamlFile<{ services: Record<string, { command?: string[] }> }>(
      'docker-compose.yml',
    );
    const jobArgs = jobPod.containers[0]!.args!;
    const composeArgs = compose.services['client']!.command!;
    expect(composeArgs.map((a) => a.replace('dns:///routeguide:', 'dns:///HEADLESS:'))).toEqual(
      jobArgs.map((a) => a.replace(`dns:///${headless.metadata!.name}:`, 'dns:///HEADLESS:')),
    );
  });

  it('an in-cluster Redis holds the shared notes, wired through the ConfigMap', () => {
    const config = loadConfig(configMap.data!);
    expect(config.redis?.url).toBe(
      `redis://${redisService.metadata!.name}:${redisService.spec!.ports![0]!.port}/0`,
    );
    const redisLabels = redisDeployment.spec!.template.metadata!.labels!;
    expect(matches(redisDeployment.spec!.selector.matchLabels, redisLabels)).toBe(true);
    expect(matches(redisService.spec!.selector, redisLabels)).toBe(true);
    // The server's Services, PDB and spread constraints never select Redis, and vice versa.
    for (const service of services) {
      expect(matches(service.spec!.selector, redisLabels)).toBe(false);
    }
    expect(matches(redisService.spec!.selector, podLabels)).toBe(false);
    expect(redisService.spec!.ports![0]!.targetPort).toBe('redis');
    expect(redisContainer.ports).toEqual([{ name: 'redis', containerPort: 6379, protocol: 'TCP' }]);
    expect(redisContainer.image).toBe('redis:7-bookworm');
    expect(redisDeployment.spec!.replicas).toBe(1);
    // No persistence; a memory cap below the container limit, least recently used evicted first.
    const args = redisContainer.args!;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--save')).toBe('');
    expect(flag('--appendonly')).toBe('no');
    expect(flag('--maxmemory-policy')).toBe('allkeys-lru');
    const mib = (value: string) => Number.parseInt(value, 10) * (/gi?b?$/i.test(value) ? 1024 : 1);
    expect(mib(flag('--maxmemory')!)).toBeLessThan(
      mib(redisContainer.resources!.limits!['memory'] as string),
    );
    for (const probe of [
      redisContainer.startupProbe,
      redisContainer.readinessProbe,
      redisContainer.livenessProbe,
    ]) {
      expect(probe).toBeDefined();
    }
    // Read-only root: the working directory is an emptyDir.
    expect(redisContainer.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(redisPod.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '64Mi' } });
  });

  it('only the routeguide servers may reach Redis (NetworkPolicy)', () => {
    const policy = only<INetworkPolicy>('NetworkPolicy');
    const redisLabels = redisDeployment.spec!.template.metadata!.labels!;
    expect(matches(policy.spec!.podSelector!.matchLabels, redisLabels)).toBe(true);
    expect(policy.spec!.policyTypes).toEqual(['Ingress']);
    const [rule] = policy.spec!.ingress!;
    expect(matches(rule!.from![0]!.podSelector!.matchLabels, podLabels)).toBe(true);
    expect(
      matches(rule!.from![0]!.podSelector!.matchLabels, job.spec!.template.metadata!.labels!),
    ).toBe(false);
    expect(rule!.ports).toEqual([{ port: 'redis', protocol: 'TCP' }]);
  });
});

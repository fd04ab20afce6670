import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** Repository root (Dockerfile, docker-compose.yml, k8s/, deploy/). */
export const ROOT = path.resolve(__dirname, '..', '..');

export function readRepoFile(relative: string): string {
  return readFileSync(path.join(ROOT, relative), 'utf8');
}

/** `routeguide:<package.json version>`: the tag the Dockerfile's README command builds. */
export function imageName(): string {
  const { version } = JSON.parse(readRepoFile('package.json')) as { version: string };
  return `routeguide:${version}`;
}

/** The facts of the runtime stage that other files must agree with. */
export interface DockerfileFacts {
  readonly exposed: number[];
  readonly user: string;
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly healthcheck: string[];
  readonly env: Record<string, string>;
  readonly stages: string[];
}

/** Reads the instructions of the final stage (after the last FROM). */
export function dockerfileFacts(): DockerfileFacts {
  // Join continuation lines, drop comments.
  const lines = readRepoFile('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM /i.test(l)).map((l) => l.split(/\s+/)[1]!);
  const last = lines.map((l) => /^FROM /i.test(l)).lastIndexOf(true);
  const runtime = lines.slice(last);
  const args = (keyword: string): string[] => {
    const line = runtime.filter((l) => l.toUpperCase().startsWith(`${keyword} `)).pop();
    return line === undefined ? [] : [line.slice(keyword.length).trim()];
  };
  const json = (text: string | undefined): string[] =>
    text === undefined ? [] : (JSON.parse(text) as string[]);
  const env: Record<string, string> = {};
  for (const line of runtime.filter((l) => /^ENV /i.test(l))) {
    for (const match of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[match[1]!] = match[2]!;
  }
  const healthcheck = args('HEALTHCHECK')[0] ?? '';
  return {
    stages,
    exposed: runtime
      .filter((l) => /^EXPOSE /i.test(l))
      .flatMap((l) => l.slice(7).trim().split(/\s+/))
      .map((p) => Number(p.replace(/\/tcp$/, ''))),
    user: args('USER')[0] ?? '',
    entrypoint: json(args('ENTRYPOINT')[0]),
    cmd: json(args('CMD')[0]),
    healthcheck: json(/CMD (\[.*\])$/.exec(healthcheck)?.[1]),
    env,
  };
}

/** Loose view of any Kubernetes object, enough for cross-checks. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * `kubectl kustomize k8s/`, parsed: exactly what `kubectl apply -k k8s/` sends. Needs kubectl
 * (system tier); `npm test` checks {@link assembleKustomization} instead, and the system tier
 * checks that the two agree.
 */
export function renderKustomize(): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', path.join(ROOT, 'k8s')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return parseAllDocuments(out).map((doc) => doc.toJSON() as K8sObject);
}

/** The fields of k8s/kustomization.yaml that {@link assembleKustomization} understands. */
interface Kustomization {
  apiVersion: string;
  kind: string;
  resources: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean }[];
  configMapGenerator?: { name: string; envs: string[] }[];
  images?: { name: string; newTag?: string }[];
}

const KUSTOMIZATION_FIELDS = [
  'apiVersion',
  'kind',
  'resources',
  'labels',
  'configMapGenerator',
  'images',
];

/** Pod specs of the workloads (Deployment, Job): where images and ConfigMap references live. */
function podSpecsOf(object: K8sObject): Record<string, unknown>[] {
  const spec = object['spec'] as { template?: { spec?: Record<string, unknown> } } | undefined;
  return spec?.template?.spec === undefined ? [] : [spec.template.spec];
}

/**
 * What `kubectl kustomize k8s/` renders, assembled in Node from the same files, for the subset
 * of kustomize that k8s/kustomization.yaml uses: `resources`, `labels` (metadata only),
 * `configMapGenerator` from `envs` files, and `images` tags. Any other field fails loudly, so the
 * assembly never silently diverges; the one difference is the generated ConfigMap's content-hash
 * suffix, which kustomize adds and this leaves out (everything that refers to the ConfigMap uses
 * the same name either way). The system tier (test/system/kustomize.test.ts) checks that kubectl
 * renders exactly this.
 */
export function assembleKustomization(): K8sObject[] {
  const kustomization = parseYamlFile<Kustomization>('k8s/kustomization.yaml');
  const unknown = Object.keys(kustomization).filter((k) => !KUSTOMIZATION_FIELDS.includes(k));
  if (unknown.length > 0)
    throw new Error(
      `k8s/kustomization.yaml uses ${unknown.join(', ')}, which assembleKustomization() (test/helpers/deploy.ts) does not implement yet`,
    );
  const objects: K8sObject[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(readRepoFile(path.join('k8s', file))))
      objects.push(doc.toJSON() as K8sObject);
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const envs of generator.envs) Object.assign(data, parseEnvFile(path.join('k8s', envs)));
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data });
  }
  for (const { pairs, includeSelectors } of kustomization.labels ?? []) {
    if (includeSelectors === true)
      throw new Error('assembleKustomization() does not implement labels.includeSelectors');
    for (const object of objects) object.metadata.labels = { ...object.metadata.labels, ...pairs };
  }
  for (const image of kustomization.images ?? []) {
    for (const pod of objects.flatMap(podSpecsOf)) {
      const containers = [
        ...((pod['containers'] as { image?: string }[] | undefined) ?? []),
        ...((pod['initContainers'] as { image?: string }[] | undefined) ?? []),
      ];
      for (const container of containers) {
        if (container.image === image.name && image.newTag !== undefined)
          container.image = `${image.name}:${image.newTag}`;
      }
    }
  }
  return objects;
}

export function parseYamlFile<T>(relative: string): T {
  return parse(readRepoFile(relative), { merge: true }) as T;
}

export interface ValidationResult {
  readonly kind: string;
  readonly name: string;
  /** Schema errors (`path message`), empty when the object is valid. */
  readonly errors: string[];
}

/**
 * Validates objects against the Kubernetes schemas shipped by `kubernetes-models`. That package
 * is ESM-only, which Jest's CommonJS runtime cannot load, so a plain Node child process imports
 * it: one model class per apiVersion/kind, and its `validate()`.
 */
export function validateWithKubernetesModels(objects: readonly object[]): ValidationResult[] {
  const script = `
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const results = [];
    for (const object of JSON.parse(input)) {
      const [group, version] = object.apiVersion.includes('/')
        ? object.apiVersion.split('/')
        : [undefined, object.apiVersion];
      const module = await import('kubernetes-models/' + (group ? group + '/' : '') + version);
      const Model = module[object.kind];
      const result = { kind: object.kind, name: object.metadata?.name ?? '', errors: [] };
      if (!Model) result.errors.push('no schema for ' + object.apiVersion + ' ' + object.kind);
      else {
        try { new Model(object).validate(); }
        catch (error) {
          const details = error.errors ?? error.details ?? [{ instancePath: '', message: error.message }];
          for (const d of details) result.errors.push((d.instancePath || '/') + ' ' + d.message);
        }
      }
      results.push(result);
    }
    process.stdout.write(JSON.stringify(results));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (child.status !== 0) throw new Error(`kubernetes-models validation failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as ValidationResult[];
}

/** Names of the environment variables in the README's configuration table. */
export function documentedVariables(): Set<string> {
  const readme = readRepoFile('README.md');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const table = section.slice(0, section.indexOf('\n## ', 1));
  return new Set([...table.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!));
}

/** Parses `KEY=VALUE` lines (comments and blanks ignored), as kustomize reads `envs` files. */
export function parseEnvFile(relative: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readRepoFile(relative).split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return env;
}

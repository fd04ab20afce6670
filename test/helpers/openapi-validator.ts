import { spawnSync } from 'node:child_process';
import { ROOT } from './deploy';

/** What @seriousme/openapi-schema-validator says of a document. */
export interface OpenApiValidation {
  readonly valid: boolean;
  /** The OpenAPI version it validated against, e.g. `3.1`. */
  readonly version: string;
  readonly errors?: unknown;
}

/**
 * Validates an OpenAPI document against the official OpenAPI JSON Schemas with
 * @seriousme/openapi-schema-validator. The package is ESM only, which Jest's module system
 * cannot load, so it runs in a child Node process that reads the document on stdin.
 */
export function validateOpenApi(document: object): OpenApiValidation {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    process.stdout.write(JSON.stringify({ ...result, version: validator.version }));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    input: JSON.stringify(document),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`OpenAPI validator failed: ${run.stderr || run.error}`);
  return JSON.parse(run.stdout) as OpenApiValidation;
}

import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SEED, writeFeatureFile } from './generate';

function count(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  const scale = { '': 1, k: 1e3, m: 1e6 }[(match?.[2] ?? '').toLowerCase()];
  const n = match && scale !== undefined ? Number(match[1]) * scale : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError('expected e.g. 1000, 100k, 1M');
  return n;
}

function seed(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

const program = new Command('bench:generate')
  .description('Writes a deterministic synthetic RouteGuide feature database as JSON.')
  .requiredOption('-n, --count <n>', 'number of features (1000, 100k, 1M)', count)
  .requiredOption('-o, --out <file>', 'output file')
  .option('-s, --seed <seed>', 'PRNG seed', seed, DEFAULT_SEED)
  .option('--wrapped', 'write {"feature": [...]} instead of a bare array', false)
  .action((options: { count: number; out: string; seed: number; wrapped: boolean }) => {
    const started = Date.now();
    writeFeatureFile(options.out, options.count, { seed: options.seed, wrapped: options.wrapped });
    process.stderr.write(
      `wrote ${options.count} features to ${options.out} in ${Date.now() - started} ms\n`,
    );
  });

program.parse();

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { checkSystemPrograms } from './system-programs';

/** The fields of Jest's global config this reads. */
interface GlobalConfig {
  /** The command line's test path patterns, joined into one regular expression. */
  readonly testPathPattern: string;
  /** `--runTestsByPath`: the command line's arguments are exact paths. */
  readonly runTestsByPath: boolean;
  readonly nonFlagArgs: readonly string[];
}

/** Every `*.test.ts` below `dir`. */
function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * globalSetup of the system tier (jest.system.config.js). Before any suite runs, finds the
 * programs the selected suites require (their `requireProgram(PROGRAMS.x)` calls) and, when
 * some are missing, stops the run with one line per missing program, instead of every test of
 * those suites failing with the same error. Without this, the `beforeAll` checks still fail the
 * suites (never skip).
 */
export default function systemSetup(
  globalConfig: GlobalConfig,
  projectConfig: { readonly roots: readonly string[] },
): void {
  const pattern = globalConfig.testPathPattern;
  const selected = new RegExp(pattern === '' ? '.' : pattern, 'i');
  const files = globalConfig.runTestsByPath
    ? globalConfig.nonFlagArgs.map((file) => path.resolve(file))
    : projectConfig.roots.flatMap(testFiles).filter((file) => selected.test(file));
  const missing = checkSystemPrograms(files);
  if (missing.length === 0) return;
  const error = new Error(missing.join('\n'));
  // Jest prints the stack of a failed globalSetup: make it just the lines.
  error.stack = missing.join('\n');
  throw error;
}

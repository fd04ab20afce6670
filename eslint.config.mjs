import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The rooms of src/ and what each may import: see architecture.json. */
const architecture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'architecture.json'), 'utf8'),
);
const roomNames = architecture.rooms.map((room) => room.name);
const compositionModules = architecture.composition.files.map((file) => file.replace(/\.ts$/, ''));

/**
 * One block per room: imports of every room it may not import, of the composition files at the
 * root of src/ and of its forbidden packages are errors. An allowance of one module of a room
 * (`observability/tracing`) forbids the rest of that room.
 */
function roomBlock(room) {
  const allowedRooms = new Set(room.mayImport.map((entry) => entry.split('/')[0]));
  const forbidden = roomNames
    .filter((name) => name !== room.name && !allowedRooms.has(name))
    .map((name) => `../${name}`);
  const partial = room.mayImport
    .filter((entry) => entry.includes('/'))
    .map((entry) => [`../${entry.split('/')[0]}/*`, `!../${entry}`]);
  const allowed = room.mayImport.length > 0 ? room.mayImport.join(', ') : 'nothing outside it';
  const message = `src/${room.name} may import only ${allowed} (architecture.json).`;
  return {
    files: [`src/${room.name}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: forbidden, message },
            ...partial.map((group) => ({ group, message })),
            { group: compositionModules.map((name) => `../${name}`), message },
            ...(room.forbiddenPackages ?? []).map((name) => ({ group: [name], message })),
          ],
        },
      ],
    },
  };
}

/** The composition files: only main.ts and index.ts build the server; nothing imports an entry point. */
function compositionBlocks() {
  const entries = ['./main', './index'];
  const message = 'only main.ts and index.ts import the composition root (architecture.json).';
  const restrict = (groups) => ({
    'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }],
  });
  return [
    {
      files: ['src/*.ts'],
      ignores: architecture.composition.mayImportServer.map((file) => `src/${file}`),
      rules: restrict(['./server', ...entries]),
    },
    ...architecture.composition.mayImportServer.map((file) => ({
      files: [`src/${file}`],
      rules: restrict(entries.filter((entry) => `${entry}.ts` !== `./${file}`)),
    })),
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'src/generated/', 'bench/results/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'smart'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        module: 'writable',
        require: 'readonly',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  ...architecture.rooms.map(roomBlock),
  ...compositionBlocks(),
  prettier,
);

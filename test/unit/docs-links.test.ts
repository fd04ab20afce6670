import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Every relative link and #anchor in README.md, CHANGELOG.md and docs/*.md resolves: the file
 * or directory exists, and an anchor names a heading of the target file under GitHub's slug
 * rules. Every page of docs/ is linked from the README.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = path.join(ROOT, 'docs');

function markdownFiles(): string[] {
  const docs = readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join(DOCS, name));
  return [path.join(ROOT, 'README.md'), path.join(ROOT, 'CHANGELOG.md'), ...docs];
}

/** A fence closes the block it opened when it is of the same character and at least as long. */
const closes = (open: string, marker: string): boolean =>
  marker[0] === open[0] && marker.length >= open.length;

/** The lines of a Markdown file outside fenced code blocks. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) fence = marker;
    else if (fence !== undefined && marker !== undefined && closes(fence, marker))
      fence = undefined;
    else if (fence === undefined) lines.push(line);
  }
  return lines;
}

/**
 * GitHub's anchor for a heading: its rendered text lowercased, every character but letters,
 * digits, spaces, '-' and '_' dropped, spaces turned into '-'.
 */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/\*/g, '') // emphasis
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
}

/** The anchors of a file's headings, with GitHub's -1, -2 … suffixes on repeats. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(readFileSync(file, 'utf8'))) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    result.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return result;
}

/** Targets of the inline links and images of a file, outside code blocks and code spans. */
function linkTargets(file: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(readFileSync(file, 'utf8'))) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      targets.push(match[1]!);
    }
  }
  return targets;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Why a relative link does not resolve, or undefined when it does. */
function brokenReason(file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const pathPart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = pathPart === '' ? file : path.resolve(path.dirname(file), pathPart);
  if (!resolved.startsWith(ROOT + path.sep)) return 'points outside the repository';
  if (!existsSync(resolved)) return 'no such file';
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith('.md')) return 'anchor into a file that is not Markdown';
  return anchors(resolved).has(anchor) ? undefined : `no heading #${anchor}`;
}

describe('documentation links', () => {
  it('follows GitHub slug rules', () => {
    expect(githubSlug('Why `MAX_CONNECTION_AGE_MS` matters')).toBe(
      'why-max_connection_age_ms-matters',
    );
    expect(githubSlug('xDS (service mesh without sidecars)')).toBe(
      'xds-service-mesh-without-sidecars',
    );
    expect(githubSlug('What is tested, and how')).toBe('what-is-tested-and-how');
    expect(githubSlug('Load balancing: round robin, DNS, ORCA + weighted round robin')).toBe(
      'load-balancing-round-robin-dns-orca--weighted-round-robin',
    );
    expect(githubSlug('[Link](x.md) and *emphasis*')).toBe('link-and-emphasis');
  });

  it.each(markdownFiles().map((file) => [path.relative(ROOT, file), file]))(
    'every relative link and anchor in %s resolves',
    (_name, file) => {
      const targets = linkTargets(file).filter((target) => !isExternal(target));
      const broken = targets
        .map((target) => ({ target, reason: brokenReason(file, target) }))
        .filter((link) => link.reason !== undefined);
      expect(broken).toEqual([]);
    },
  );

  it('links every page of docs/ from the README', () => {
    const readme = path.join(ROOT, 'README.md');
    const linked = new Set(
      linkTargets(readme)
        .filter((target) => !isExternal(target))
        .map((target) => path.resolve(ROOT, target.split('#')[0]!)),
    );
    const pages = markdownFiles().filter((file) => path.dirname(file) === DOCS);
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});

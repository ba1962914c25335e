// Fails when SQL over the profile store's tables appears outside its owner:
// only src/profile-store/ (and migrations/, outside src/) may read or write
// `profiles`, `profile_identities` and `profile_changes`. Run: npm run arch:sql
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');
const OWNER = join(src, 'profile-store') + sep;
const TABLES = ['profiles', 'profile_identities', 'profile_changes'];
// A statement keyword, then the table (optionally schema-qualified or quoted)
// as a whole word: `FROM profiles p`, `JOIN public."profile_changes"`, ...
const STATEMENT = new RegExp(
  String.raw`\b(?:FROM|JOIN|UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(?:"?\w+"?\.)?"?(${TABLES.join('|')})"?(?![\w.])`,
  'gi',
);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

const findings = [];
for (const file of files(src)) {
  if (file.startsWith(OWNER)) continue;
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(STATEMENT)) {
    const line = text.slice(0, match.index).split('\n').length;
    findings.push(
      `${relative(root, file)}:${line}: ${match[0].replace(/\s+/g, ' ')}`,
    );
  }
}

if (findings.length > 0) {
  process.stderr.write(
    `SQL over the profile store's tables outside src/profile-store/ (${findings.length}):\n` +
      findings.map((f) => `  ${f}`).join('\n') +
      '\n',
  );
  process.exit(1);
}
process.stdout.write(
  `SQL ownership: only src/profile-store/ touches ${TABLES.join(', ')}.\n`,
);

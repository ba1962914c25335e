/**
 * `npm run bench -- <name>`: speed targets live here, not in timed tests.
 * Each benchmark prints a table and writes JSON under bench/results/.
 */
import { runApiBench } from './api.js';
import { runEmulatorBench } from './emulator.js';
import { runExportBench } from './export.js';
import { runHostileBench } from './hostile.js';
import { runIngestBench } from './ingest.js';
import { runSoakBench } from './soak.js';

const BENCHES: Record<string, () => Promise<void>> = {
  api: runApiBench,
  emulator: runEmulatorBench,
  export: runExportBench,
  hostile: runHostileBench,
  ingest: () => runIngestBench(),
  soak: runSoakBench,
};

/** Run only when named: minutes long, and a reliability check rather than a speed target. */
const BY_NAME_ONLY = new Set(['soak']);

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names =
  requested.length === 0 || requested.includes('all')
    ? Object.keys(BENCHES).filter((n) => !BY_NAME_ONLY.has(n))
    : requested;
for (const name of names) {
  const bench = BENCHES[name];
  if (!bench) {
    process.stderr.write(
      `unknown benchmark '${name}'; choose from: ${Object.keys(BENCHES).join(', ')}, all\n`,
    );
    process.exit(2);
  }
  process.stdout.write(`\n== ${name} ==\n`);
  await bench();
}

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { DataSource } from 'typeorm';
import { loadEnv } from '../config/env.js';
import { DEFAULT_DEV_ORG_ID } from '../dev-client.js';
import {
  DEFAULT_BATCH_SIZE,
  ProfileIngestService,
} from '../profiles/profile-ingest.service.js';
import { SegmentCatalog } from '../segments/segment-catalog.js';

export interface ProfilesImportArgs {
  /** NDJSON file: one XDM profile fragment (with identityMap) per line. */
  file: string;
  /** IMS org; default DEV_ORG_ID or the development org. */
  org?: string;
  /** Sandbox; default `prod`. Created for the org if missing. */
  sandbox?: string;
  /** Records per transaction; default 1000. */
  batchSize?: number;
  /** The database (the CLI context opens it: DATABASE_URL or the embedded server; the caller closes it). */
  dataSource: DataSource;
  /** Draw the progress bar; default: when `out` is a TTY (otherwise a line every 10 %). */
  progress?: boolean;
  /** Where progress and rejected-line messages go; default stderr. */
  out?: NodeJS.WriteStream | NodeJS.WritableStream;
}

export interface ProfilesImportSummary {
  file: string;
  orgId: string;
  sandboxName: string;
  records: number;
  accepted: number;
  rejected: number;
  /** The first 100 rejected lines. */
  errors: { line: number; reason: string }[];
  seconds: number;
  profilesPerSecond: number;
}

const MAX_REPORTED_ERRORS = 100;

/**
 * `profiles import FILE.ndjson [--org ORG --sandbox prod]`: loads a large
 * NDJSON file through the ingestion service (same merge rules, identity
 * stitching, segment evaluation and change log as the HTTP endpoint), in
 * batches, streaming the file so memory stays flat, with a progress bar.
 */
export async function profilesImport(
  args: ProfilesImportArgs,
): Promise<ProfilesImportSummary> {
  const out = args.out ?? process.stderr;
  const size = (await stat(args.file)).size;
  const env = loadEnv();
  const orgId = args.org ?? env.DEV_ORG_ID ?? DEFAULT_DEV_ORG_ID;
  const sandboxName = args.sandbox ?? 'prod';
  const ds = args.dataSource;
  {
    await ds.query(
      `INSERT INTO sandboxes (org_id, name, type) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [
        orgId,
        sandboxName,
        sandboxName === 'prod' ? 'production' : 'development',
      ],
    );
    const ingest = new ProfileIngestService(ds, new SegmentCatalog());
    const tenant = { orgId, sandboxName };
    const batchSize = Math.max(1, args.batchSize ?? DEFAULT_BATCH_SIZE);
    const bar = new ProgressBar(out, size, args.progress ?? isTty(out));
    const summary: ProfilesImportSummary = {
      file: args.file,
      orgId,
      sandboxName,
      records: 0,
      accepted: 0,
      rejected: 0,
      errors: [],
      seconds: 0,
      profilesPerSecond: 0,
    };
    const started = Date.now();
    const res = await ingest.ingestStream(tenant, createReadStream(args.file), {
      batchSize,
      onBatch: ({ records, bytesRead }) => {
        summary.records = records;
        bar.update(bytesRead, records, started);
      },
    });
    summary.accepted = res.accepted;
    summary.rejected = res.rejected;
    summary.records = res.accepted + res.rejected;
    summary.errors = res.results
      .filter((r) => r.status === 'error')
      .slice(0, MAX_REPORTED_ERRORS)
      .map((r) => ({ line: r.line ?? 0, reason: r.reason ?? '' }));
    bar.done(summary.records, started);
    summary.seconds = (Date.now() - started) / 1000;
    summary.profilesPerSecond = Math.round(
      summary.accepted / Math.max(summary.seconds, 0.001),
    );
    return summary;
  }
}

function isTty(out: NodeJS.WritableStream): boolean {
  return (out as NodeJS.WriteStream).isTTY === true;
}

/** `[#####-----]  45%  123,456 records  9,876/s`, redrawn in place on a TTY. */
class ProgressBar {
  private lastTenth = -1;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly total: number,
    private readonly tty: boolean,
  ) {}

  update(done: number, records: number, started: number): void {
    const ratio = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const text = this.render(ratio, records, started);
    if (this.tty) {
      this.out.write(`\r${text}`);
      return;
    }
    const tenth = Math.floor(ratio * 10);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.out.write(`${text}\n`);
    }
  }

  done(records: number, started: number): void {
    this.update(this.total, records, started);
    if (this.tty) this.out.write('\n');
  }

  private render(ratio: number, records: number, started: number): string {
    const width = 30;
    const filled = Math.round(ratio * width);
    const rate = Math.round(
      records / Math.max((Date.now() - started) / 1000, 0.001),
    );
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${records.toLocaleString('en-US')} records  ${rate.toLocaleString('en-US')}/s`;
  }
}

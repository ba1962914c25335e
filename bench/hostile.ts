/**
 * `npm run bench -- hostile`: the service's memory under anonymous uploads.
 * It runs the built service (dist/src/main.js) as its own process on a
 * scratch PostgreSQL, sends HOSTILE_UPLOADS (default 10) concurrent
 * anonymous 200 MB NDJSON uploads to the ingest route and as many to
 * /health, and reports the service's peak RSS (the kernel's VmHWM) and that
 * every request was answered. Target: peak < 400 MB. Then it streams
 * HOSTILE_INGESTS (default 2) concurrent authenticated 200 MB NDJSON ingests
 * of valid profiles (records of ~2 KB) and reports the peak again, with
 * the records stored. Target: peak < 1 GB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { migrate } from '../src/data-source.js';
import { freePort, platformHeaders, startScratchDatabase } from './support.js';

const MB = 1024 * 1024;
const UPLOAD_BYTES = 200 * MB;
const UPLOADS = Number(process.env.HOSTILE_UPLOADS ?? 10);
const TARGET_PEAK_MB = 400;
const INGESTS = Number(process.env.HOSTILE_INGESTS ?? 2);
const TARGET_INGEST_PEAK_MB = 1024;
const ORG = 'HOSTILEBENCH@AdobeOrg';

/** VmRSS and VmHWM (peak) of a process, in MB. */
function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    rssMb: Math.round(kb('VmRSS') / 1024),
    peakMb: Math.round(kb('VmHWM') / 1024),
  };
}

async function startService(
  databaseUrl: string,
  port: number,
): Promise<ChildProcess> {
  const main = resolve(import.meta.dirname, '../src/main.js');
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      TOKEN_SIGNING_KEY: randomBytes(32).toString('base64url'),
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PORT: String(port),
      HOST: '127.0.0.1',
      RUNNER_ENABLED: 'false',
      EMULATOR_ENABLED: 'false',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('is listening')) res();
    });
    child.once('exit', (code) => rej(new Error(`service exited ${code}`)));
  });
  return child;
}

interface Outcome {
  path: string;
  status: number;
  ms: number;
  sentMb: number;
}

/** Streams `UPLOAD_BYTES` as fast as the service reads them; stops at the answer. */
function upload(port: number, method: string, path: string): Promise<Outcome> {
  const chunk = Buffer.alloc(MB, '{"identityMap":{}}\n');
  const started = performance.now();
  return new Promise((resolveOutcome) => {
    let sent = 0;
    let done = false;
    const finish = (status: number): void => {
      if (done) return;
      done = true;
      resolveOutcome({
        path,
        status,
        ms: Math.round(performance.now() - started),
        sentMb: Math.round(sent / MB),
      });
    };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          'content-type': 'application/x-ndjson',
          'content-length': String(UPLOAD_BYTES),
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => finish(res.statusCode ?? 0));
      },
    );
    // A reset after the answer is the service closing an unread body.
    req.on('error', () => finish(0));
    const pump = (): void => {
      while (!done && sent < UPLOAD_BYTES) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

/** Streams UPLOAD_BYTES of valid NDJSON profiles (~2 KB each) as fast as the service reads them. */
function ingest(
  port: number,
  headers: Record<string, string>,
  name: string,
): Promise<{ status: number; ms: number; accepted: number; rejected: number }> {
  const pad = 'x'.repeat(1900);
  let n = 0;
  const nextChunk = (): Buffer => {
    let text = '';
    while (text.length < MB) {
      text += `{"identityMap":{"email":[{"id":"${name}-${n++}@bench.example"}]},"note":"${pad}"}\n`;
    }
    return Buffer.from(text);
  };
  const started = performance.now();
  return new Promise((resolveOutcome, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/data/core/ups/ingest/profiles',
        headers: { ...headers, 'content-type': 'application/x-ndjson' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.once('end', () => {
          const parsed = JSON.parse(body) as {
            accepted?: number;
            rejected?: number;
          };
          resolveOutcome({
            status: res.statusCode ?? 0,
            ms: Math.round(performance.now() - started),
            accepted: parsed.accepted ?? 0,
            rejected: parsed.rejected ?? 0,
          });
        });
      },
    );
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < UPLOAD_BYTES) {
        const chunk = nextChunk();
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

export async function runHostileBench(): Promise<void> {
  const db = await startScratchDatabase();
  let service: ChildProcess | undefined;
  try {
    await migrate(db.url);
    const port = await freePort();
    service = await startService(db.url, port);
    const pid = service.pid ?? 0;
    const idle = memoryOf(pid);
    process.stdout.write(
      `service up (pid ${pid}, RSS ${idle.rssMb} MB); ${UPLOADS}+${UPLOADS} anonymous 200 MB uploads…\n`,
    );
    const started = performance.now();
    const outcomes = await Promise.all([
      ...Array.from({ length: UPLOADS }, () =>
        upload(port, 'POST', '/data/core/ups/ingest/profiles'),
      ),
      ...Array.from({ length: UPLOADS }, () => upload(port, 'GET', '/health')),
    ]);
    const wallMs = Math.round(performance.now() - started);
    const after = memoryOf(pid);
    const answered = outcomes.filter((o) => o.status > 0).length;
    const statuses = [...new Set(outcomes.map((o) => `${o.path} ${o.status}`))];
    const results = {
      uploads: outcomes.length,
      answered,
      statuses,
      wallMs,
      slowestMs: Math.max(...outcomes.map((o) => o.ms)),
      mbSentBeforeAnswer: outcomes.reduce((n, o) => n + o.sentMb, 0),
      idleRssMb: idle.rssMb,
      peakRssMb: after.peakMb,
      targetPeakRssMb: TARGET_PEAK_MB,
    };
    const rows: [string, string, string][] = [
      ['requests answered', `${answered}/${outcomes.length}`, 'all'],
      ['statuses', statuses.join(', '), ''],
      ['slowest answer', `${results.slowestMs} ms`, ''],
      [
        'MB the clients sent before their answers',
        String(results.mbSentBeforeAnswer),
        `of ${(outcomes.length * UPLOAD_BYTES) / MB}`,
      ],
      ['service RSS idle', `${idle.rssMb} MB`, ''],
      [
        'service peak RSS (VmHWM)',
        `${after.peakMb} MB`,
        `< ${TARGET_PEAK_MB} MB`,
      ],
    ];
    process.stdout.write(
      `${INGESTS} concurrent authenticated 200 MB NDJSON ingests (records of ~2 KB)…\n`,
    );
    const headers = await platformHeaders(db.url, port, ORG);
    const ingestStarted = performance.now();
    const ingests = await Promise.all(
      Array.from({ length: INGESTS }, (_, i) =>
        ingest(port, headers, `bench${i}`),
      ),
    );
    const ingestWallMs = Math.round(performance.now() - ingestStarted);
    const afterIngest = memoryOf(pid);
    const stored = ingests.reduce((sum, o) => sum + o.accepted, 0);
    Object.assign(results, {
      ingests: ingests.length,
      ingestStatuses: ingests.map((o) => o.status),
      ingestAccepted: stored,
      ingestRejected: ingests.reduce((sum, o) => sum + o.rejected, 0),
      ingestWallMs,
      ingestPeakRssMb: afterIngest.peakMb,
      targetIngestPeakRssMb: TARGET_INGEST_PEAK_MB,
    });
    rows.push(
      [
        'authenticated ingests answered',
        ingests.map((o) => o.status).join(', '),
        `of ${ingests.length}`,
      ],
      [
        'records stored',
        `${stored}`,
        `${Math.round(stored / (ingestWallMs / 1000))}/s over ${ingestWallMs} ms`,
      ],
      [
        'service peak RSS after the ingests',
        `${afterIngest.peakMb} MB`,
        `< ${TARGET_INGEST_PEAK_MB} MB`,
      ],
    );
    process.stdout.write(
      `\n${rows.map((r) => `${r[0].padEnd(44)} ${r[1].padStart(16)}  ${r[2]}`).join('\n')}\n`,
    );
    const out = resolve(import.meta.dirname, '../../bench/results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'hostile.json'),
      `${JSON.stringify(results, null, 2)}\n`,
    );
  } finally {
    service?.kill('SIGTERM');
    await db.remove();
  }
}

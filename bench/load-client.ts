/**
 * The API benchmark's load generator, run in its own process (bench/api.ts
 * forks it) so its CPU is not the service's: `concurrency` keep-alive
 * clients, each sending its next GET as soon as the previous one is
 * answered, for `warmupMs` (not recorded) and then `durationMs`.
 */
import { Agent, request } from 'node:http';

export interface LoadSpec {
  base: string;
  paths: string[];
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  /** Requests answered in the measured period. */
  requests: number;
  /** Requests answered in all, warm-up included (what the service's CPU time was spent on). */
  total: number;
  errors: number;
  /** Status codes other than 200, counted. */
  statuses: Record<string, number>;
  seconds: number;
  /** Latencies in ms, sorted. */
  p50: number;
  p99: number;
  max: number;
}

function get(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const urls = spec.paths.map((p) => new URL(p, spec.base));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let total = 0;
  let next = 0;
  const t0 = Date.now();
  const measureFrom = t0 + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  let measuredStart = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (Date.now() < end) {
        const url = urls[next++ % urls.length] as URL;
        const started = process.hrtime.bigint();
        const startedAt = Date.now();
        let status = 0;
        try {
          status = await get(agent, url, spec.headers);
        } catch {
          errors++;
        }
        total++;
        if (startedAt < measureFrom) continue;
        measuredStart ||= startedAt;
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (status !== 200)
          statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      }
    }),
  );
  const seconds = (Date.now() - (measuredStart || measureFrom)) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number): number =>
    Number(
      (
        latencies[
          Math.min(latencies.length - 1, Math.floor(p * latencies.length))
        ] ?? 0
      ).toFixed(1),
    );
  return {
    requests: latencies.length,
    total,
    errors,
    statuses,
    seconds,
    p50: q(0.5),
    p99: q(0.99),
    max: q(1),
  };
}

process.once('message', (spec: LoadSpec) => {
  void run(spec).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    },
  );
});

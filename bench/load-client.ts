/**
 * The API benchmark's load generator, run in its own process (bench/api.ts
 * forks it) so its CPU is not the service's: `concurrency` keep-alive
 * clients, each sending its next GET as soon as the previous one is
 * answered, for `warmupMs` (not recorded) and then `durationMs`.
 *
 * By default each client is a socket writing a prebuilt request and reading
 * just the status line and Content-Length (as wrk does): on a small box the
 * generator shares the cores with the service, and `node:http`'s client
 * costs several times more CPU per request than that
 * (`BENCH_API_CLIENT=http` uses it, to compare).
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { schedstat } from './pauses.js';

export interface LoadSpec {
  base: string;
  paths: string[];
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Requests slower than this (ms) are returned with their times, to match against the service's pauses. */
  slowMs?: number;
  /** `raw` (default): prebuilt requests on plain sockets; `http`: node:http's client. */
  client?: 'raw' | 'http';
}

/** A request's start and end, ms since the epoch (the clock both processes share). */
export interface Interval {
  start: number;
  end: number;
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
  /** This process's CPU per request answered (µs), and its share of one core: whether the generator itself saturates. */
  clientUs: number;
  clientCore: number;
  /** ms per second this process was ready to run but waited for a core. */
  clientRunQueueMsPerS: number;
  /** Measured requests slower than `slowMs`. */
  slow: Interval[];
}

type Get = (url: URL) => Promise<number>;

function httpClient(
  headers: Record<string, string>,
  concurrency: number,
): { get: Get; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  return {
    get: (url) => httpGet(agent, url, headers),
    close: () => agent.destroy(),
  };
}

function httpGet(
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

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/**
 * One keep-alive connection sending one request at a time. A response is
 * complete after its Content-Length, or at the last chunk of a chunked one;
 * a response saying `connection: close` makes the next request reconnect.
 */
class RawConnection {
  private socket?: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting?: {
    resolve(status: number): void;
    reject(err: Error): void;
  };

  constructor(
    private readonly port: number,
    private readonly host: string,
  ) {}

  get(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.buffered = Buffer.alloc(0);
      (this.socket ??= this.open()).write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): Socket {
    const socket = connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    const gone = (err?: Error): void => {
      if (this.socket === socket) this.socket = undefined;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err ?? new Error('connection closed'));
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
    return socket;
  }

  private read(chunk: Buffer): void {
    this.buffered =
      this.buffered.length === 0
        ? chunk
        : Buffer.concat([this.buffered, chunk]);
    const buf = this.buffered;
    const headEnd = buf.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = buf.toString('latin1', 0, headEnd).toLowerCase();
    const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
    const complete = length
      ? buf.length >= headEnd + 4 + Number(length[1])
      : buf.length >= headEnd + 4 + CHUNKED_END.length &&
        buf.subarray(buf.length - CHUNKED_END.length).equals(CHUNKED_END);
    if (!complete) return;
    const status = Number(head.slice(9, 12));
    if (/\r\nconnection:\s*close/.test(head)) {
      this.socket?.destroy();
      this.socket = undefined;
    }
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve(status);
  }
}

function rawClient(
  base: URL,
  headers: Record<string, string>,
): { connection(): Get; close(): void } {
  const lines = Object.entries({ host: base.host, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const requests = new Map<URL, Buffer>();
  const connections: RawConnection[] = [];
  return {
    connection: () => {
      const c = new RawConnection(Number(base.port), base.hostname);
      connections.push(c);
      return (url) => {
        let bytes = requests.get(url);
        if (!bytes) {
          bytes = Buffer.from(
            `GET ${url.pathname}${url.search} HTTP/1.1\r\n${lines}\r\n`,
            'latin1',
          );
          requests.set(url, bytes);
        }
        return c.get(bytes);
      };
    },
    close: () => connections.forEach((c) => c.close()),
  };
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const base = new URL(spec.base);
  const raw =
    spec.client === 'http' ? undefined : rawClient(base, spec.headers);
  const http = raw ? undefined : httpClient(spec.headers, spec.concurrency);
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
  const slow: Interval[] = [];
  const clock = (): number => performance.timeOrigin + performance.now();
  let cpu0: NodeJS.CpuUsage | undefined;
  let sched0 = schedstat();
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      const get = raw?.connection() ?? (http?.get as Get);
      while (Date.now() < end) {
        const url = urls[next++ % urls.length] as URL;
        const started = process.hrtime.bigint();
        const startedAt = Date.now();
        const at = clock();
        let status = 0;
        try {
          status = await get(url);
        } catch {
          errors++;
        }
        total++;
        if (startedAt < measureFrom) continue;
        measuredStart ||= startedAt;
        if (!cpu0) {
          cpu0 = process.cpuUsage();
          sched0 = schedstat();
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        latencies.push(ms);
        if (spec.slowMs !== undefined && ms > spec.slowMs)
          slow.push({ start: at, end: at + ms });
        if (status !== 200)
          statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      }
    }),
  );
  const seconds = (Date.now() - (measuredStart || measureFrom)) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  const waitNs = schedstat().waitNs - sched0.waitNs;
  raw?.close();
  http?.close();
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
    clientUs: Math.round(cpuUs / Math.max(1, latencies.length)),
    clientCore: Number((cpuUs / 1e6 / Math.max(seconds, 1e-3)).toFixed(2)),
    clientRunQueueMsPerS:
      Math.round(waitNs / 1e5 / Math.max(seconds, 1e-3)) / 10,
    slow,
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

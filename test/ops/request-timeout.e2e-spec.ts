import { Controller, Get } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import type { Request, Response } from 'express';
import {
  afterAll,
  afterEach,
  beforeAll,
  describe,
  expect,
  it,
  vi,
} from 'vitest';
import type { AppRequest } from '../../src/common/request-context.js';
import { requestTimeout } from '../../src/limits/request-timeout.js';
import { createTenant, createTestApp, type TestApp } from '../helpers/app.js';
import {
  createConnection,
  createDestination,
  expectError,
  flowBody,
  FS,
} from '../helpers/resources.js';
import { createLoggedApp, LogCapture, sample, scrape } from './helpers.js';

/** A response double: enough of express's Response for writeErrorResponse. */
function fakeResponse() {
  const res = Object.assign(new EventEmitter(), {
    headersSent: false,
    statusCode: 200,
    headers: {} as Record<string, string>,
    body: undefined as unknown,
    setHeader(k: string, v: string) {
      res.headers[k.toLowerCase()] = v;
    },
    status(code: number) {
      res.statusCode = code;
      return res;
    },
    json(body: unknown) {
      res.body = body;
      res.headersSent = true;
      return res;
    },
  });
  return res;
}

const fakeRequest = (headers: Record<string, string> = {}) =>
  ({ headers, requestId: 'req-1' }) as unknown as Request;

describe('requestTimeout middleware', () => {
  beforeAll(() => vi.useFakeTimers());
  afterAll(() => vi.useRealTimers());
  afterEach(() => vi.clearAllTimers());

  it('answers 503 in the contract shape when the handler does not answer in time', () => {
    const res = fakeResponse();
    const onTimeout = vi.fn();
    const next = vi.fn();
    requestTimeout(1000, { onTimeout })(
      fakeRequest(),
      res as unknown as Response,
      next,
    );
    expect(next).toHaveBeenCalledOnce();
    vi.advanceTimersByTime(999);
    expect(res.body).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatchObject({
      code: '1100-503',
      requestId: 'req-1',
      message: 'The request did not complete within 1000 ms.',
    });
    expect(onTimeout).toHaveBeenCalledOnce();
    res.emit('close');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears its timer when the response closes first, and never writes afterwards', () => {
    const res = fakeResponse();
    requestTimeout(1000)(fakeRequest(), res as unknown as Response, vi.fn());
    expect(vi.getTimerCount()).toBe(1);
    res.emit('close');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(res.body).toBeUndefined();
  });

  it('does not answer a write at the deadline: it expires its database work and lets the outcome answer', () => {
    const res = fakeResponse();
    const req = Object.assign(fakeRequest(), { method: 'POST' });
    requestTimeout(1000)(req, res as unknown as Response, vi.fn());
    const work = (req as AppRequest).work;
    expect(work?.expired).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(work?.expired).toBe(true);
    expect(res.body).toBeUndefined();
    expect(work?.active).toBe(true);
    res.emit('close');
    expect(work?.active).toBe(false);
  });

  it('leaves a response that has started alone, and skips NDJSON bulk loads and 0', () => {
    const started = fakeResponse();
    started.headersSent = true;
    requestTimeout(10)(fakeRequest(), started as unknown as Response, vi.fn());
    vi.advanceTimersByTime(20);
    expect(started.body).toBeUndefined();

    for (const [ms, req] of [
      [10, fakeRequest({ 'content-type': 'application/x-ndjson' })],
      [0, fakeRequest()],
    ] as const) {
      const res = fakeResponse();
      const next = vi.fn();
      requestTimeout(ms)(req, res as unknown as Response, next);
      expect(next).toHaveBeenCalledOnce();
      expect(vi.getTimerCount()).toBe(0);
    }
  });
});

@Controller('ops-slow')
class SlowController {
  static finished = 0;

  @Get()
  async slow(): Promise<{ ok: boolean }> {
    await new Promise((r) => setTimeout(r, 500));
    SlowController.finished++;
    return { ok: true };
  }
}

describe('REQUEST_TIMEOUT_MS in the app', () => {
  const capture = new LogCapture();
  let t: TestApp;
  beforeAll(async () => {
    t = await createLoggedApp({
      capture,
      env: { REQUEST_TIMEOUT_MS: '150' },
      controllers: [SlowController],
    });
  });
  afterAll(async () => t?.close());

  it('answers a slow request 503 instead of hanging; the late result is dropped quietly', async () => {
    const started = Date.now();
    const res = await t.http
      .get('/ops-slow')
      .set('x-request-id', 'ops-slow-1')
      .expect(503);
    expect(Date.now() - started).toBeLessThan(450);
    expect(res.body).toMatchObject({
      code: '1100-503',
      requestId: 'ops-slow-1',
    });
    await vi.waitFor(() => expect(SlowController.finished).toBe(1), {
      timeout: 2000,
    });
    await new Promise((r) => setTimeout(r, 50));
    const lines = capture.lines;
    expect(lines.filter((l) => l.level === 50)).toEqual([]);
    expect(
      lines.find(
        (l) => l.msg === 'request completed' && l.route === '/ops-slow',
      ),
    ).toMatchObject({ status: 503, requestId: 'ops-slow-1' });
    expect(sample(await scrape(t), 'fse_request_timeouts_total')).toBe(1);
  });
});

describe('a write that times out', () => {
  const TIMEOUT = 400;
  let t: TestApp;
  let ds: DataSource;
  beforeAll(async () => {
    t = await createTestApp({ env: { REQUEST_TIMEOUT_MS: String(TIMEOUT) } });
    ds = t.app.get(DataSource);
  });
  afterAll(async () => t?.close());

  const flowCount = async (orgId: string): Promise<number> =>
    (
      (await ds.query(
        `SELECT count(*)::int AS n FROM flows WHERE org_id = $1`,
        [orgId],
      )) as { n: number }[]
    )[0]?.n ?? 0;

  /** Holds INSERTs into flows until the returned function is called. */
  async function blockFlowInserts(): Promise<() => Promise<void>> {
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE flows IN EXCLUSIVE MODE');
    return async () => {
      await blocker.query('COMMIT');
      await blocker.end();
    };
  }

  it('answers 503 promptly with its transaction rolled back: nothing is created, then or later', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const release = await blockFlowInserts();
    const started = Date.now();
    let res;
    try {
      res = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(d.source.id, d.target.id));
    } finally {
      // The lock is held past the answer: work still running would now complete.
      await release();
    }
    expect(res.status).toBe(503);
    await new Promise((r) => setTimeout(r, 200));
    expect(await flowCount(tenant.orgId)).toBe(0);
    expectError(res.body, '1100-503', /nothing was changed/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT + 2000);
  });

  it('503 ⇒ nothing created, 201 ⇒ created, however close to the deadline the work ends', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const outcomes: number[] = [];
    for (const releaseAfter of [
      TIMEOUT - 60,
      TIMEOUT - 20,
      TIMEOUT - 5,
      TIMEOUT,
      TIMEOUT + 5,
      TIMEOUT + 40,
    ]) {
      const before = await flowCount(tenant.orgId);
      const release = await blockFlowInserts();
      const timer = setTimeout(() => void release(), releaseAfter);
      const res = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .send(flowBody(d.source.id, d.target.id));
      clearTimeout(timer);
      await release().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      const after = await flowCount(tenant.orgId);
      outcomes.push(res.status);
      if (res.status === 503)
        expect(after, 'a 503 created a flow').toBe(before);
      else {
        expect(res.status).toBe(201);
        expect(after).toBe(before + 1);
      }
    }
    expect(outcomes).toContain(503);
  });

  it('a retried POST with its Idempotency-Key creates exactly one flow after a timeout', async () => {
    const tenant = await createTenant(t);
    const d = await createDestination(t, tenant);
    const body = flowBody(d.source.id, d.target.id);
    const key = randomUUID();
    const release = await blockFlowInserts();
    let first;
    try {
      first = await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(body);
    } finally {
      await release();
    }
    expect(first.status).toBe(503);
    for (let i = 0; i < 2; i++)
      await t.http
        .post(`${FS}/flows`)
        .set(tenant.headers)
        .set('Idempotency-Key', key)
        .send(body)
        .expect(201);
    expect(await flowCount(tenant.orgId)).toBe(1);
  });
});

describe('a read that times out', () => {
  const TIMEOUT = 300;
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { REQUEST_TIMEOUT_MS: String(TIMEOUT) } });
  });
  afterAll(async () => t?.close());

  it('GET /connections/{id} behind a lock answers 503 at its deadline, and its statement (shared by a batch) is cancelled', async () => {
    const tenant = await createTenant(t);
    const c = await createConnection(t, tenant);
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    // Read outside the blocker's transaction, which would see one snapshot of pg_stat_activity.
    const observer = new pg.Client({ connectionString: t.databaseUrl });
    await observer.connect();
    const waiting = async (): Promise<number> =>
      (
        await observer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE state = 'active' AND query LIKE '%JOIN "connections" e ON%'
              AND pid <> pg_backend_pid()`,
        )
      ).rows[0]?.n ?? 0;
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE connections IN ACCESS EXCLUSIVE MODE');
    try {
      const started = Date.now();
      const res = await t.http
        .get(`${FS}/connections/${c.id}`)
        .set(tenant.headers);
      expect(res.status).toBe(503);
      expectError(res.body, '1100-503');
      expect(Date.now() - started).toBeLessThan(TIMEOUT + 1000);
      // The lock is still held: only a cancel ends the statement now.
      await vi.waitFor(async () => expect(await waiting()).toBe(0), {
        timeout: 3000,
      });
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
      await observer.end();
    }
    await t.http
      .get(`${FS}/connections/${c.id}`)
      .set(tenant.headers)
      .expect(200);
  });
});

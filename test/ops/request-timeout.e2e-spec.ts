import { Controller, Get } from '@nestjs/common';
import { EventEmitter } from 'node:events';
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
import { requestTimeout } from '../../src/limits/request-timeout.js';
import type { TestApp } from '../helpers/app.js';
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

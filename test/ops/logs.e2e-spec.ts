import { Controller, Get, Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrub } from '../../src/logging/logger.js';
import { createTenant, type TestApp } from '../helpers/app.js';
import { createLoggedApp, LogCapture } from './helpers.js';

/** Lets 'close' listeners (the access log) run after the client has its response. */
const settle = () => new Promise((r) => setTimeout(r, 20));

const SAS_KEY = 'c2VjcmV0LXNhcy1rZXktZm9yLWxvZy10ZXN0cw==';
const CONNECTION_STRING = `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${SAS_KEY};EntityPath=hub`;

/** A route that logs the way real code might, then fails with a secret in the error. */
@Controller('ops-log-probe')
class LogProbeController {
  private readonly logger = new Logger('LogProbe');

  @Get()
  async probe(): Promise<never> {
    await new Promise((r) => setTimeout(r, 5));
    this.logger.log(`connecting with ${CONNECTION_STRING}`);
    this.logger.warn({
      auth: { params: { namespace: 'ns', sasKey: SAS_KEY } },
      nested: { deeper: { connectionString: CONNECTION_STRING } },
      msg: 'probe details',
    });
    throw new Error(`publish failed for ${CONNECTION_STRING}`);
  }
}

describe('structured logs', () => {
  const capture = new LogCapture();
  let t: TestApp;

  beforeAll(async () => {
    t = await createLoggedApp({ capture, controllers: [LogProbeController] });
  });
  afterAll(async () => t?.close());

  it('writes one access line per request with request id, route template, status, duration and client id; secrets never appear', async () => {
    const tenant = await createTenant(t);
    capture.raw.length = 0;
    const res = await t.http
      .post('/data/foundation/flowservice/connections')
      .set(tenant.headers)
      .set('x-request-id', 'ops-log-test-1')
      .send({
        name: 'Event Hubs',
        auth: {
          specName: 'Azure EventHub authentication credentials',
          params: { sasKeyName: 'send', sasKey: SAS_KEY, namespace: 'ns' },
        },
        connectionSpec: {
          id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e',
          version: '1.0',
        },
      })
      .expect(201);
    expect(res.headers['x-request-id']).toBe('ops-log-test-1');
    const id = (res.body as { id: string }).id;
    const get = await t.http
      .get(`/data/foundation/flowservice/connections/${id}`)
      .set(tenant.headers)
      .expect(200);
    await settle();

    const access = capture.lines.filter((l) => l.msg === 'request completed');
    expect(access).toHaveLength(2);
    expect(access[0]).toMatchObject({
      level: 30,
      requestId: 'ops-log-test-1',
      clientId: tenant.clientId,
      method: 'POST',
      route: '/data/foundation/flowservice/connections',
      status: 201,
    });
    expect(access[0]?.durationMs).toEqual(expect.any(Number));
    expect(access[1]).toMatchObject({
      route: '/data/foundation/flowservice/connections/:id',
      status: 200,
      // Generated when the client sends none, and the same as the response header.
      requestId: get.headers['x-request-id'],
    });
    expect(access[1]?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const all = capture.raw.join('');
    expect(all).not.toContain(SAS_KEY);
    expect(all).not.toContain(tenant.token);
    expect(all).not.toContain(tenant.clientSecret);
  });

  it('puts the request id on every line logged while handling a request and scrubs messages, objects and errors', async () => {
    capture.raw.length = 0;
    const res = await t.http
      .get('/ops-log-probe')
      .set('authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.secret-token.sig')
      .set('x-request-id', 'ops-log-test-2')
      .expect(500);
    expect((res.body as { requestId: string }).requestId).toBe(
      'ops-log-test-2',
    );
    await settle();
    const lines = capture.lines;
    const byContext = (c: string) => lines.filter((l) => l.context === c);
    expect(byContext('LogProbe')).toHaveLength(2);
    expect(byContext('HttpExceptionFilter')).toHaveLength(1);
    for (const l of lines) expect(l.requestId).toBe('ops-log-test-2');
    const all = capture.raw.join('');
    expect(all).toContain('SharedAccessKey=[REDACTED]');
    expect(all).not.toContain(SAS_KEY);
    expect(all).not.toContain('secret-token');
  });

  it('writes no request context outside requests', () => {
    capture.raw.length = 0;
    new Logger('Background').log('tick');
    expect(capture.lines).toEqual([
      expect.not.objectContaining({ requestId: expect.anything() }),
    ]);
  });

  it('honours LOG_LEVEL (warn: no access lines for successful requests)', async () => {
    const quiet = new LogCapture();
    const app = await createLoggedApp({
      capture: quiet,
      env: { LOG_LEVEL: 'warn' },
    });
    try {
      await app.http.get('/health').expect(200);
      await app.http.get('/no/such/route').expect(404);
      await settle();
      expect(quiet.raw).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('scrub() removes SAS keys, signatures, bearer tokens and secrets in form or JSON text', () => {
    const text = scrub(
      `${CONNECTION_STRING} sig=abc%2Fdef&se=1 Authorization: Bearer abc.def-ghi client_secret=s3cr3t&x=1 {"sasKey":"k3y","password": "p4ss"}`,
    );
    for (const secret of [
      SAS_KEY,
      'abc%2Fdef',
      'abc.def-ghi',
      's3cr3t',
      'k3y',
      'p4ss',
    ])
      expect(text).not.toContain(secret);
    expect(text).toContain('EntityPath=hub');
    expect(text).toContain('&x=1');
  });
});

import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from '../helpers/app.js';
import { email, lookup } from '../helpers/profiles.js';
import { eventually } from '../helpers/wait.js';

const line = (i: number): string =>
  JSON.stringify({ identityMap: email(`s${i}@x.io`), i });

/** NDJSON ingestion streams: records are stored batch by batch as the body arrives. */
describe('NDJSON ingestion as a stream', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp();
    const server = t.app.getHttpServer() as import('node:http').Server;
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => t.close());

  /** A POST whose body the test writes piece by piece. */
  function openIngest(tenant: TestTenant) {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/data/core/ups/ingest/profiles',
      headers: { ...tenant.headers, 'content-type': 'application/x-ndjson' },
    });
    const response = new Promise<{ status: number; body: unknown }>(
      (resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }),
          );
        });
        req.on('error', reject);
      },
    );
    return { req, response };
  }

  it('stores the first batch while the rest of the body has not been sent', async () => {
    const tn = await createTenant(t);
    const { req, response } = openIngest(tn);
    req.write(
      Array.from({ length: 1000 }, (_, i) => line(i)).join('\n') + '\n',
    );
    // One full batch arrived: it is stored before the body ends.
    await eventually(async () => {
      const res = await t.http
        .get('/data/core/ups/access/entities')
        .query({
          'schema.name': '_xdm.context.profile',
          entityId: 's999@x.io',
          entityIdNS: 'email',
        })
        .set(tn.headers);
      return res.status === 200;
    }, 'the first batch to be stored while the body is still open');
    req.end(`${line(1000)}\n${line(1001)}`);
    const res = await response;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      accepted: 1002,
      rejected: 0,
      notStored: 0,
      summarized: false,
    });
    await lookup(t, tn, 's1001@x.io', 'email');
  });

  it('over 10,000 records the result lists only the rejected ones; the counts stay exact', async () => {
    const tn = await createTenant(t);
    const lines = Array.from({ length: 10_500 }, (_, i) => line(i));
    lines.splice(3, 0, '{"broken":');
    lines.splice(10_200, 0, JSON.stringify({ person: 'no identity' }));
    const { req, response } = openIngest(tn);
    req.end(lines.join('\n'));
    const res = await response;
    expect(res.status).toBe(207);
    const body = res.body as {
      accepted: number;
      rejected: number;
      summarized: boolean;
      results: { line: number; status: string }[];
    };
    expect(body).toMatchObject({
      accepted: 10_500,
      rejected: 2,
      summarized: true,
    });
    expect(body.results.map((r) => [r.line, r.status])).toEqual([
      [4, 'error'],
      [10_201, 'error'],
    ]);
  });
});

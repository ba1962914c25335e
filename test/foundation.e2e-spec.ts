import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createTestApp,
  type TestApp,
  type TestTenant,
} from './helpers/app.js';

describe('foundation smoke', () => {
  let t: TestApp;
  let tenant: TestTenant;
  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
  });
  afterAll(async () => t.close());

  it('serves health and the catalogue to an authorised client', async () => {
    const health = await t.http.get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      database: { ready: true },
    });
    const res = await t.http
      .get('/data/foundation/flowservice/connectionSpecs')
      .set(tenant.headers)
      .expect(200);
    expect(
      (res.body as { items: { id: string }[] }).items.map((i) => i.id),
    ).toContain('bf9f5905-92b7-48bf-bf20-455bc6b60a4e');
  });
});

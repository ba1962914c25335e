import { expect } from 'vitest';
import type { TestApp, TestTenant } from './app.js';

export interface SegmentBody {
  id: string;
  name: string;
  expression: { type: string; format: string; value: string };
  evaluationJob?: {
    id: string;
    status: string;
    processedProfiles: number;
    totalProfiles: number;
  };
  [key: string]: unknown;
}

export async function createSegment(
  t: TestApp,
  tenant: TestTenant,
  name: string,
  pql: string,
): Promise<SegmentBody> {
  const res = await t.http
    .post('/data/core/ups/segment/definitions')
    .set(tenant.headers)
    .send({
      name,
      schema: { name: '_xdm.context.profile' },
      expression: { type: 'PQL', format: 'pql/text', value: pql },
    });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as SegmentBody;
}

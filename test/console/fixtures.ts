import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../../src/emulator/defaults.js';
import { createTenant, type TestTenant } from '../helpers/app.js';
import { createEventHubsFlow, type CreatedFlow } from '../helpers/flows.js';
import type { HubCollector } from '../helpers/hub.js';
import type { RunnerHarness } from '../helpers/runner.js';
import { createSegment } from '../helpers/segments.js';

export const FS = '/data/foundation/flowservice';

/** A gold-tier profile with an email identity (what the flows below export). */
export function goldProfile(
  email: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    identityMap: { email: [{ id: email }] },
    person: { name: { firstName: email.split('@')[0] } },
    personalEmail: { address: email },
    loyalty: { tier: 'gold' },
    ...extra,
  };
}

export interface ConsoleFixture {
  tenant: TestTenant;
  segmentId: string;
  flow: CreatedFlow;
  hubName: string;
  collector: HubCollector;
}

/** A fresh tenant with a gold segment and a flow of it to a new emulator hub. */
export async function flowFixture(
  h: RunnerHarness,
  opts: { attributes?: string[] } = {},
): Promise<ConsoleFixture> {
  const tenant = await createTenant(h.t);
  const segment = await createSegment(
    h.t,
    tenant,
    'Gold members',
    'loyalty.tier = "gold"',
  );
  const { name: hubName, collector } = h.hub('console');
  const flow = await createEventHubsFlow(h.t, tenant, {
    namespace: `127.0.0.1:${h.emulator.port}`,
    sasKeyName: DEFAULT_KEY_NAME,
    sasKey: DEFAULT_EMULATOR_KEY,
    eventHubName: hubName,
    segmentIds: [segment.id],
    attributes: opts.attributes ?? [
      'personalEmail.address',
      'person.name.firstName',
    ],
  });
  return { tenant, segmentId: segment.id, flow, hubName, collector };
}

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../helpers/app.js';
import { createEventHubsFlow } from '../helpers/flows.js';
import { ingest } from '../helpers/profiles.js';
import { startRunnerHarness, type RunnerHarness } from '../helpers/runner.js';
import { eventually } from '../helpers/wait.js';
import {
  launchBrowser,
  newPage,
  numberIn,
  screenshot,
  serve,
  signIn,
} from './browser.js';
import { flowFixture, goldProfile } from './fixtures.js';

/** Pages refresh every 5 s and counts are written every 2 s: allow a few rounds. */
const LIVE = { timeoutMs: 30_000, intervalMs: 250 };

describe('the web console in Chromium', () => {
  let h: RunnerHarness;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    h = await startRunnerHarness();
    base = await serve(h.t);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it("signs in with the keyboard, refuses a wrong secret, and shows a running flow's lag and exports move", async () => {
    const f = await flowFixture(h);
    await ingest(h.t, f.tenant, [goldProfile('first@x.com')]);
    await f.collector.waitFor((ev) => ev.length >= 1);

    const { page, errors } = await newPage(browser);
    await signIn(page, base, f.tenant, 'not-the-secret');
    await page
      .getByRole('alert')
      .filter({ hasText: 'was not accepted' })
      .waitFor();
    await signIn(page, base, f.tenant);
    await page.getByRole('heading', { name: 'Flows' }).waitFor();

    const row = `tr[data-flow-id="${f.flow.flowId}"]`;
    await page.locator(row).waitFor();
    await expect(page.locator(row).textContent()).resolves.toContain(f.hubName);
    await expect(page.locator(row).textContent()).resolves.toContain(
      'Gold members',
    );
    await eventually(
      async () => (await numberIn(page, `${row} [data-metric=exports]`)) >= 1,
      'the flows page counting the first export',
      LIVE,
    );
    await expect(
      page.locator(`${row} [data-metric=lag]`).textContent(),
    ).resolves.toBe('caught up');
    await screenshot(page, 'flows-1280');

    // The flow page: disable it with its button, and watch the lag grow.
    await page.locator(`${row} a`).click();
    await page.getByRole('button', { name: 'Disable flow' }).click();
    await page.getByRole('button', { name: 'Enable flow' }).waitFor();
    await ingest(h.t, f.tenant, [goldProfile('second@x.com')]);
    const lagTile = '.tile [data-metric=lag]';
    const firstLag = await eventually(
      async () => {
        const text = (await page.locator(lagTile).textContent()) ?? '';
        return /^\d+ s$/.test(text) ? Number.parseInt(text, 10) : undefined;
      },
      'a lag in seconds on the flow page',
      LIVE,
    );
    await eventually(
      async () => {
        const text = (await page.locator(lagTile).textContent()) ?? '';
        return /^\d+ s$/.test(text) && Number.parseInt(text, 10) > firstLag;
      },
      'the lag growing without a reload',
      LIVE,
    );
    await screenshot(page, 'flow-disabled-1280');

    await page.getByRole('button', { name: 'Enable flow' }).click();
    await f.collector.waitFor((ev) =>
      ev.some(
        (e) =>
          (e.body.personalEmail as { address?: string }).address ===
          'second@x.com',
      ),
    );
    await eventually(
      async () =>
        (await numberIn(page, '.tile [data-metric=exports]')) >= 2 &&
        (await page.locator(lagTile).textContent()) === 'caught up',
      'the exports tile at 2 and the lag back to caught up',
      LIVE,
    );
    const runRow = page.locator('tr[data-run-id]').first();
    await eventually(
      async () => ((await runRow.textContent()) ?? '').includes('processing'),
      'the run of this hour in the runs table',
      LIVE,
    );
    await screenshot(page, 'flow-1280');
    expect(errors).toEqual([]);
  });

  it('shows segments with their members and evaluation job, and tests connections with their result', async () => {
    const f = await flowFixture(h);
    const broken = await createEventHubsFlow(h.t, f.tenant, {
      namespace: `127.0.0.1:${h.emulator.port}`,
      sasKeyName: 'RootManageSharedAccessKey',
      sasKey: Buffer.from('a wrong key').toString('base64'),
      eventHubName: f.hubName,
      segmentIds: [f.segmentId],
      attributes: ['personalEmail.address'],
    });
    const { page, errors } = await newPage(browser);
    await signIn(page, base, f.tenant);
    await page.getByRole('link', { name: 'Segments' }).click();
    const segment = page.locator(`tr[data-segment-id="${f.segmentId}"]`);
    await eventually(
      async () => ((await segment.textContent()) ?? '').includes('succeeded'),
      'the segment evaluation job shown as succeeded',
      LIVE,
    );
    await expect(segment.textContent()).resolves.toContain(
      'loyalty.tier = "gold"',
    );
    // Members: none yet, then the qualifying profile ingested now, without
    // a reload (counts are reused for SEGMENT_COUNT_CACHE_MS, 10 s).
    const members = `tr[data-segment-id="${f.segmentId}"] [data-metric=members]`;
    await page.locator(members).waitFor();
    expect(await numberIn(page, members)).toBe(0);
    await ingest(h.t, f.tenant, [goldProfile('member@x.com')]);
    await eventually(
      async () => (await numberIn(page, members)) === 1,
      'the new member counted on the segments page',
      LIVE,
    );
    await expect(
      segment.locator('[data-metric=members-by-status]').textContent(),
    ).resolves.toBe('1 realized · 0 existing · 0 exited');
    await expect(
      page.locator('[data-metric=counted-at]').textContent(),
    ).resolves.toMatch(/^Members counted .+ over 1 profile\.$/);
    await screenshot(page, 'segments-1280');

    await page.getByRole('link', { name: 'Connections' }).click();
    const good = page.locator(
      `tr[data-connection-id="${f.flow.baseConnectionId}"]`,
    );
    const bad = page.locator(
      `tr[data-connection-id="${broken.baseConnectionId}"]`,
    );
    await good.getByRole('button', { name: /Test connection/ }).click();
    await good.getByText(/^Passed/).waitFor();
    await bad.getByRole('button', { name: /Test connection/ }).click();
    await bad.getByText(/^Failed:/).waitFor();
    await screenshot(page, 'connections-1280');
    expect(errors).toEqual([]);
  });

  it('at 390 px the flows page shows lag and exports without sideways scrolling', async () => {
    const f = await flowFixture(h);
    await ingest(h.t, f.tenant, [goldProfile('narrow@x.com')]);
    const { page, errors } = await newPage(browser, 390);
    await signIn(page, base, f.tenant);
    const row = page.locator(`tr[data-flow-id="${f.flow.flowId}"]`);
    await row.waitFor();
    await eventually(
      async () => (await numberIn(page, '[data-metric=exports]')) >= 1,
      'the export counted on the narrow page',
      LIVE,
    );
    for (const metric of ['lag', 'exports']) {
      const box = await row.locator(`[data-metric=${metric}]`).boundingBox();
      expect(box, metric).not.toBeNull();
      expect(box!.x + box!.width, metric).toBeLessThanOrEqual(390);
    }
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth,
    );
    expect(overflow).toBeLessThanOrEqual(390);
    await screenshot(page, 'flows-390');
    expect(errors).toEqual([]);
  });

  it('says what to do when there is nothing yet, and when the session ended', async () => {
    const tenant = await createTenant(h.t);
    const { page, errors } = await newPage(browser);
    await signIn(page, base, tenant);
    await page.getByText('No flows in this sandbox yet').waitFor();
    await page.getByRole('link', { name: 'Segments' }).click();
    await page.getByText('No segments yet').waitFor();
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByText('No Event Hubs connections yet').waitFor();

    // A token the API no longer accepts: back to the sign-in form, saying why.
    await page.evaluate(() => {
      const key = 'fse-console-session';
      const s = JSON.parse(sessionStorage.getItem(key) ?? '{}') as {
        token: string;
      };
      sessionStorage.setItem(key, JSON.stringify({ ...s, token: 'x.y.z' }));
    });
    await page.reload();
    await page.getByText('Your session ended. Sign in again.').waitFor();
    await page.getByLabel('Client secret').waitFor();
    expect(errors).toEqual([]);
  });
});

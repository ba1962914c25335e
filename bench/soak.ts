/**
 * `npm run bench -- soak`: SOAK_SECONDS (default 300) of mixed load on two
 * replicas of the built service (dist/src/main.js, child processes) sharing
 * one embedded PostgreSQL, with the local emulator as the hub and an SDK
 * consumer per flow. Load: ingestion (four writers, each owning a slice of
 * SOAK_PROFILES profiles, every write a new `loyalty.points`, every third
 * batch a write of an attribute no flow maps), segment edits, flow edits,
 * flow disable/enable. Faults, one after another: the
 * hub busy, the hub down, the database restarted, a replica SIGKILLed and
 * restarted, a replica SIGTERMed (graceful) and restarted. Then the faults
 * stop, writes whose outcome was not definite are repeated until stored,
 * and the consumers wait for the last state.
 *
 * Checked per flow and profile: the last message shows the profile's final
 * state (a member with its last `loyalty.points`, or `exited` if it left
 * after an export) — else it counts as lost; messages (one per messageId)
 * arrive in write order; duplicates are counted as the same messageId again
 * (identical or not) and as the same content under another messageId, and
 * each is attributed to the `trigger` properties of the two messages and
 * the edits and faults between them. Intermediate states may be coalesced:
 * the contract exports the state a profile has when the runner reads it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  EventHubConsumerClient,
  earliestEventPosition,
  type Subscription,
} from '@azure/event-hubs';
import { migrate } from '../src/data-source.js';
import { EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import {
  DEFAULT_EMULATOR_KEY,
  DEFAULT_KEY_NAME,
} from '../src/emulator/defaults.js';
import { EventHubsEmulator } from '../src/emulator/index.js';
import { freePort, platformHeaders } from './support.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const PROFILES = Number(process.env.SOAK_PROFILES ?? 2000);
const WRITERS = 4;
const BATCH = 50;
/** How long the consumers may take to see every last state after the load. */
const DRAIN_MS = 180_000;
const ORG = 'SOAKBENCH@AdobeOrg';
const FS = '/data/foundation/flowservice';
const EH_SPEC = { id: 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e', version: '1.0' };
const PROFILE_SPEC = {
  id: '8a9c3494-9708-43d7-ae3f-cda01e5030e1',
  version: '1.0',
};
const FLOW_SPEC = {
  id: '71471eba-b620-49e4-90fd-23f1fa0174d8',
  version: '1.0',
};
const TIERS = ['gold', 'silver', 'platinum', 'bronze'];
const GOLD = 'loyalty.tier = "gold"';
const GOLD_OR_PLATINUM = 'loyalty.tier = "gold" or loyalty.tier = "platinum"';
const SILVER = 'loyalty.tier = "silver"';

const sleep = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));
const log = (line: string): void =>
  void process.stdout.write(
    `[${new Date().toISOString().slice(11, 19)}] ${line}\n`,
  );

interface Replica {
  name: string;
  port: number;
  child?: ChildProcess;
}

/** Replica logs (warnings and errors, JSON lines) go here; the path is printed at the end. */
const LOG_DIR = mkdtempSync(join(tmpdir(), 'fse-soak-logs-'));

function startReplica(r: Replica, databaseUrl: string, secrets: Secrets): void {
  const main = resolve(import.meta.dirname, '../src/main.js');
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      TOKEN_SIGNING_KEY: secrets.signing,
      ENCRYPTION_KEY: secrets.encryption,
      PORT: String(r.port),
      HOST: '127.0.0.1',
      EMULATOR_ENABLED: 'false',
      EVENTHUBS_ALLOWED_ENDPOINTS: '127.0.0.1',
      RUNNER_ENABLED: 'true',
      RUNNER_INTERVAL_MS: '200',
      RUNNER_LEASE_MS: '3000',
      RUNNER_MAX_BACKOFF_MS: '1000',
      SEGMENT_SWEEP_INTERVAL_MS: '3600000',
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(join(LOG_DIR, `replica-${r.name}.log`), {
    flags: 'a',
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  r.child = child;
}

async function stopReplica(
  r: Replica,
  signal: NodeJS.Signals,
): Promise<number> {
  const child = r.child;
  r.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return 0;
  const started = Date.now();
  await new Promise<void>((res) => {
    child.once('exit', () => res());
    child.kill(signal);
  });
  return Date.now() - started;
}

interface Secrets {
  signing: string;
  encryption: string;
}

/** Nothing was sent: the replica is down or not listening yet. */
const REFUSED = { status: -1, body: null };

/**
 * A replica's answer; REFUSED when the connection was refused (nothing
 * sent); `null` when the request went out and no answer came back (the
 * replica died under it): its outcome is unknown.
 */
async function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: unknown } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return code === 'ECONNREFUSED' ? REFUSED : null;
  }
}

/** Retries on either replica until the answer is one of `ok` (setup and edits must land). */
async function must(
  replicas: Replica[],
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  ok = [200, 201],
): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const r = replicas[attempt % replicas.length] as Replica;
    const res = await call(r.port, method, path, headers, body);
    if (res && ok.includes(res.status))
      return (res.body ?? {}) as Record<string, unknown>;
    if (
      res &&
      res.status > 0 &&
      res.status < 500 &&
      res.status !== 429 &&
      res.status !== 412
    )
      throw new Error(
        `${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`,
      );
    if (attempt > 600) throw new Error(`${method} ${path}: no answer`);
    await sleep(250);
  }
}

interface Received {
  partitionId: string;
  sequenceNumber: number;
  messageId: string;
  profileId: string;
  /** The message's `trigger` application property: the path that sent it. */
  trigger: string;
  /** When the hub took it (epoch ms). */
  enqueuedMs: number;
  body: Record<string, unknown>;
  text: string;
}

/** Something the soak did that may explain a duplicate sent after it. */
interface SoakEvent {
  atMs: number;
  /** Until when it lasted (a fault's injection; an edit is an instant). */
  untilMs: number;
  kind: string;
  /** A fault (else an edit of a segment or flow, or a disable/enable). */
  fault: boolean;
}

/** An SDK consumer on one hub; redeliveries of one event (same sequence number) are dropped here. */
class Consumer {
  readonly events: Received[] = [];
  private readonly seen = new Set<string>();
  private readonly client: EventHubConsumerClient;
  private subscription?: Subscription;

  constructor(connectionString: string, hub: string) {
    this.client = new EventHubConsumerClient(
      '$default',
      connectionString,
      hub,
      {
        retryOptions: {
          maxRetries: 10,
          retryDelayInMs: 200,
          timeoutInMs: 5000,
        },
      },
    );
  }

  start(): void {
    this.subscription = this.client.subscribe(
      {
        processEvents: async (events, context) => {
          for (const e of events) {
            const key = `${context.partitionId}/${e.sequenceNumber}`;
            if (this.seen.has(key)) continue;
            this.seen.add(key);
            const body = e.body as Record<string, unknown>;
            this.events.push({
              partitionId: context.partitionId,
              sequenceNumber: e.sequenceNumber,
              messageId: String(e.messageId),
              profileId: String(e.properties?.profileId),
              trigger: String(e.properties?.trigger ?? ''),
              enqueuedMs: e.enqueuedTimeUtc.getTime(),
              body,
              text: JSON.stringify(body),
            });
          }
          return Promise.resolve();
        },
        processError: async () => Promise.resolve(),
      },
      {
        startPosition: earliestEventPosition,
        maxWaitTimeInSeconds: 0.2,
        maxBatchSize: 500,
      },
    );
  }

  async close(): Promise<void> {
    await this.subscription?.close();
    await this.client.close();
  }
}

interface SoakFlow {
  name: string;
  hub: string;
  flowId: string;
  segmentIds: string[];
  consumer: Consumer;
}

/** What the soak knows of each profile: its last stored write, and whether a later one is in doubt. */
interface ProfileTruth {
  email: string;
  profileId?: string;
  seq: number;
  tier: string;
  /** A write whose outcome was not definite (no answer, or not stored). */
  doubtful: boolean;
}

type DuplicateKind =
  'same id, same body' | 'same id, other body' | 'same body, other id';

/** Duplicates of one kind, on one flow, sent by the same paths with the same events between. */
interface DuplicateRow {
  kind: DuplicateKind;
  flow: string;
  /** The `trigger` properties of the first message and of the repeat. */
  triggers: string;
  /** What the soak did between them (see eventsBetween). */
  between: string;
  count: number;
  /** The longest time between the first message and its repeat. */
  maxGapMs: number;
}

/**
 * How long after an event ends it may still cause a repeat: a killed
 * replica's lanes are taken over once their lease (RUNNER_LEASE_MS, 3 s)
 * lapses, and a failed step retries after its backoff (at most 1 s).
 */
const AFTERMATH_MS = 5000;

/**
 * What the soak did between a message and its repeat (counting what ended
 * at most AFTERMATH_MS before the first): the faults if any did — a repeat
 * is a step retried after one — else the edits, else "nothing" (the repeat
 * came from the export paths alone).
 */
function eventsBetween(
  timeline: SoakEvent[],
  first: Received,
  again: Received,
): string {
  const faults = new Set<string>();
  const edits = new Set<string>();
  for (const e of timeline)
    if (
      e.atMs <= again.enqueuedMs &&
      e.untilMs + AFTERMATH_MS >= first.enqueuedMs
    )
      (e.fault ? faults : edits).add(e.kind);
  if (faults.size) return [...faults].sort().join(' + ');
  return edits.size ? `no fault; ${[...edits].sort().join(' + ')}` : 'nothing';
}

export async function runSoakBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fse-soak-'));
  chmodSync(dir, 0o755);
  const db = new EmbeddedDatabase({
    dataDir: join(dir, 'pg'),
    port: await freePort(),
    persistent: true,
  });
  const emulator = new EventHubsEmulator({
    autoCreateHubs: true,
    keys: { [DEFAULT_KEY_NAME]: DEFAULT_EMULATOR_KEY },
  });
  const secrets: Secrets = {
    signing: randomBytes(32).toString('base64url'),
    encryption: randomBytes(32).toString('hex'),
  };
  const replicas: Replica[] = [
    { name: 'A', port: await freePort() },
    { name: 'B', port: await freePort() },
  ];
  const flows: SoakFlow[] = [];
  try {
    const url = await db.start();
    await migrate(url);
    await emulator.start();
    for (const r of replicas) startReplica(r, url, secrets);
    for (const r of replicas)
      await must([r], 'GET', '/health', {}, undefined, [200]);
    const headers = await platformHeaders(
      url,
      (replicas[0] as Replica).port,
      ORG,
    );

    // Segments and flows: F1 on gold (its expression is edited), F2 on
    // silver, F3 on both (disabled and enabled again).
    const segment = async (name: string, pql: string): Promise<string> =>
      String(
        (
          await must(
            replicas,
            'POST',
            '/data/core/ups/segment/definitions',
            headers,
            {
              name,
              schema: { name: '_xdm.context.profile' },
              expression: { type: 'PQL', format: 'pql/text', value: pql },
            },
          )
        ).id,
      );
    const goldId = await segment('Gold', GOLD);
    const silverId = await segment('Silver', SILVER);
    const base = await must(replicas, 'POST', `${FS}/connections`, headers, {
      name: 'Event Hubs',
      auth: {
        specName: 'Azure EventHub authentication credentials',
        params: {
          sasKeyName: DEFAULT_KEY_NAME,
          sasKey: DEFAULT_EMULATOR_KEY,
          namespace: `127.0.0.1:${emulator.port}`,
        },
      },
      connectionSpec: EH_SPEC,
    });
    const sourceBase = await must(
      replicas,
      'POST',
      `${FS}/connections`,
      headers,
      { name: 'Profile store', connectionSpec: PROFILE_SPEC },
    );
    const source = await must(
      replicas,
      'POST',
      `${FS}/sourceConnections`,
      headers,
      {
        name: 'profiles',
        baseConnectionId: sourceBase.id,
        connectionSpec: PROFILE_SPEC,
        data: { format: 'json' },
        params: {},
      },
    );
    for (const [name, segmentIds] of [
      ['F1', [goldId]],
      ['F2', [silverId]],
      ['F3', [goldId, silverId]],
    ] as const) {
      const hub = `soak-${name.toLowerCase()}`;
      emulator.addHub({ name: hub, partitionCount: 4 });
      const target = await must(
        replicas,
        'POST',
        `${FS}/targetConnections`,
        headers,
        {
          name: hub,
          baseConnectionId: base.id,
          connectionSpec: EH_SPEC,
          data: { format: 'json' },
          params: { eventHubName: hub },
        },
      );
      const flow = await must(replicas, 'POST', `${FS}/flows`, headers, {
        name,
        flowSpec: FLOW_SPEC,
        sourceConnectionIds: [source.id],
        targetConnectionIds: [target.id],
        transformations: [
          {
            name: 'GeneralTransform',
            params: {
              profileSelectors: {
                selectors: [
                  'personalEmail.address',
                  'loyalty.points',
                  'loyalty.tier',
                ].map((path) => ({
                  type: 'JSON_PATH',
                  value: { path, operator: 'EXISTS' },
                })),
              },
              segmentSelectors: {
                selectors: segmentIds.map((id) => ({
                  type: 'PLATFORM_SEGMENT',
                  value: { id },
                })),
              },
            },
          },
        ],
      });
      const consumer = new Consumer(emulator.connectionString(hub), hub);
      consumer.start();
      flows.push({
        name,
        hub,
        flowId: String(flow.id),
        segmentIds: [...segmentIds],
        consumer,
      });
    }
    log(
      `set up: 2 replicas, 3 flows, ${PROFILES} profiles; load for ${SECONDS} s`,
    );

    // ---------------------------------------------------------------- load
    const truth: ProfileTruth[] = Array.from({ length: PROFILES }, (_, i) => ({
      email: `p${i}@soak.test`,
      seq: 0,
      tier: '',
      doubtful: false,
    }));
    const stats = {
      requests: 0,
      unanswered: 0,
      refused: 0,
      statuses: new Map<string, number>(),
      slowestMs: 0,
      recordsStored: 0,
      recordsInDoubt: 0,
      unmappedWrites: 0,
      segmentEdits: 0,
      flowEdits: 0,
      disables: 0,
      faults: new Map<string, number>(),
      shutdownMs: [] as number[],
    };
    /** What the soak did and when: the duplicates are attributed to it. */
    const timeline: SoakEvent[] = [];
    const during = async (
      kind: string,
      fault: boolean,
      act: () => Promise<void>,
    ) => {
      const atMs = Date.now();
      await act();
      timeline.push({ atMs, untilMs: Date.now(), kind, fault });
    };
    let goldExpression = GOLD;
    let nextSeq = 1;
    let running = true;
    const write = async (
      owned: ProfileTruth[],
      replica: Replica,
    ): Promise<boolean> => {
      const sent = owned.map((p) => ({
        p,
        seq: nextSeq++,
        tier: TIERS[Math.floor(Math.random() * TIERS.length)] as string,
      }));
      stats.requests++;
      const sentAt = Date.now();
      const res = await call(
        replica.port,
        'POST',
        '/data/core/ups/ingest/profiles',
        headers,
        {
          profiles: sent.map(({ p, seq, tier }) => ({
            identityMap: { email: [{ id: p.email }] },
            personalEmail: { address: p.email },
            loyalty: { tier, points: seq },
          })),
        },
      );
      if (res === REFUSED) {
        stats.refused++;
        return false;
      }
      if (!res) {
        stats.unanswered++;
        for (const s of sent) s.p.doubtful = true;
        stats.recordsInDoubt += sent.length;
        return true;
      }
      stats.slowestMs = Math.max(stats.slowestMs, Date.now() - sentAt);
      const code = (res.body as { code?: string } | null)?.code;
      const key = code ? `${res.status} ${code}` : String(res.status);
      stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);
      const results = (
        res.body as {
          results?: { index: number; status: string; profileId?: string }[];
        }
      ).results;
      const byIndex = new Map((results ?? []).map((r) => [r.index, r]));
      sent.forEach((s, i) => {
        const r = byIndex.get(i);
        if (r?.status === 'ok') {
          s.p.seq = s.seq;
          s.p.tier = s.tier;
          s.p.profileId = r.profileId ?? s.p.profileId;
          s.p.doubtful = false;
          stats.recordsStored++;
        } else {
          // Not stored (a 503 lists it so), or no per-record answer at all
          // (the error filter's 503): either way, written again later.
          s.p.doubtful = true;
          stats.recordsInDoubt++;
        }
      });
      return true;
    };
    /** False when the replica refused the connection (nothing was sent). */
    const touch = async (
      owned: ProfileTruth[],
      replica: Replica,
    ): Promise<boolean> => {
      stats.requests++;
      const res = await call(
        replica.port,
        'POST',
        '/data/core/ups/ingest/profiles',
        headers,
        {
          profiles: owned.map((p) => ({
            identityMap: { email: [{ id: p.email }] },
            preferences: { color: `c${nextSeq++}` },
          })),
        },
      );
      if (res === REFUSED) {
        stats.refused++;
        return false;
      }
      if (res?.status === 200) stats.unmappedWrites += owned.length;
      return true;
    };
    const writer = async (w: number): Promise<void> => {
      const mine = truth.filter((_, i) => i % WRITERS === w);
      let turn = 0;
      while (running) {
        const start = Math.floor(
          Math.random() * Math.max(1, mine.length - BATCH),
        );
        const batch = mine.slice(start, start + BATCH);
        const first = replicas[turn++ % replicas.length] as Replica;
        const other = replicas[turn % replicas.length] as Replica;
        if (turn % 3 === 0) {
          // Every third batch writes only an attribute no flow maps, to
          // profiles already stored: a row write that changes nothing any
          // flow sends (its outcome changes no profile's expected state).
          const stored = batch.filter((p) => p.profileId !== undefined);
          if (stored.length && !(await touch(stored, first)))
            await touch(stored, other);
          await sleep(20);
          continue;
        }
        // Refused by one replica (down, starting): the other one takes it.
        if (!(await write(batch, first)) && !(await write(batch, other)))
          await sleep(500);
        await sleep(20);
      }
    };

    const flowPatch = async (flow: SoakFlow, ops: object[]): Promise<void> => {
      const got = await must(
        replicas,
        'GET',
        `${FS}/flows/${flow.flowId}`,
        headers,
      );
      const etag = String(
        (got.items as { etag: string }[] | undefined)?.[0]?.etag ?? '',
      );
      await must(
        replicas,
        'PATCH',
        `${FS}/flows/${flow.flowId}`,
        { ...headers, 'if-match': etag },
        ops,
      );
    };
    /** A retry after an answer that got lost finds the flow in that state already (a 400): done too. */
    const flowAction = async (
      flow: SoakFlow,
      op: 'enable' | 'disable',
    ): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const r = replicas[attempt % replicas.length] as Replica;
        const res = await call(
          r.port,
          'POST',
          `${FS}/flows/${flow.flowId}/action?op=${op}`,
          headers,
        );
        if (res && res.status > 0 && res.status < 500) return;
        await sleep(250);
      }
    };
    const PROFILE_PATH = '/transformations/0/params/profileSelectors/selectors';
    let firstNameMapped = false;
    const edits = async (): Promise<void> => {
      let i = 0;
      while (running) {
        await sleep(4000);
        if (!running) break;
        switch (i++ % 3) {
          case 0: {
            goldExpression = goldExpression === GOLD ? GOLD_OR_PLATINUM : GOLD;
            const at = Date.now();
            await must(
              replicas,
              'PATCH',
              `/data/core/ups/segment/definitions/${goldId}`,
              headers,
              {
                name: 'Gold',
                expression: {
                  type: 'PQL',
                  format: 'pql/text',
                  value: goldExpression,
                },
              },
            );
            timeline.push({
              atMs: at,
              untilMs: Date.now(),
              kind: 'segment edit',
              fault: false,
            });
            stats.segmentEdits++;
            break;
          }
          case 1: {
            const f2 = flows[1] as SoakFlow;
            const at = Date.now();
            await flowPatch(
              f2,
              firstNameMapped
                ? [{ op: 'remove', path: `${PROFILE_PATH}/3` }]
                : [
                    {
                      op: 'add',
                      path: `${PROFILE_PATH}/-`,
                      value: {
                        type: 'JSON_PATH',
                        value: {
                          path: 'person.name.firstName',
                          operator: 'EXISTS',
                        },
                      },
                    },
                  ],
            );
            firstNameMapped = !firstNameMapped;
            timeline.push({
              atMs: at,
              untilMs: Date.now(),
              kind: 'mapping edit',
              fault: false,
            });
            stats.flowEdits++;
            break;
          }
          default: {
            const f3 = flows[2] as SoakFlow;
            await during('disable/enable', false, async () => {
              await flowAction(f3, 'disable');
              await sleep(2000);
              await flowAction(f3, 'enable');
            });
            stats.disables++;
          }
        }
      }
    };

    const fault = (name: string): void =>
      void stats.faults.set(name, (stats.faults.get(name) ?? 0) + 1);
    /** Each fault: what the log says, what the duplicates' causes call it, how to inject it. */
    const FAULTS: [string, string, () => Promise<void>][] = [
      [
        'hub busy (server-busy on 30 sends)',
        'hub busy',
        async () => {
          emulator.faults.add({
            kind: 'publish',
            effect: 'server-busy',
            count: 30,
          });
          await sleep(3000);
        },
      ],
      [
        'replica B SIGKILLed, restarted after 2 s',
        'B SIGKILLed',
        async () => {
          await stopReplica(replicas[1] as Replica, 'SIGKILL');
          await sleep(2000);
          startReplica(replicas[1] as Replica, url, secrets);
          await must(
            [replicas[1] as Replica],
            'GET',
            '/health',
            {},
            undefined,
            [200],
          );
        },
      ],
      [
        'database restart (fast shutdown, down 3 s)',
        'database restart',
        async () => {
          await db.stop();
          await sleep(3000);
          await db.start();
        },
      ],
      [
        'replica A SIGTERMed (graceful), restarted',
        'A SIGTERMed',
        async () => {
          stats.shutdownMs.push(
            await stopReplica(replicas[0] as Replica, 'SIGTERM'),
          );
          startReplica(replicas[0] as Replica, url, secrets);
          await must(
            [replicas[0] as Replica],
            'GET',
            '/health',
            {},
            undefined,
            [200],
          );
        },
      ],

      [
        'hub down 5 s (connections cut, new ones refused)',
        'hub down',
        async () => {
          emulator.faults.add({ kind: 'stop-accepting', durationMs: 5000 });
          emulator.faults.add({ kind: 'connection', effect: 'drop' });
          await sleep(5000);
        },
      ],
    ];
    const faults = async (): Promise<void> => {
      let i = 0;
      await sleep(3000);
      while (running) {
        const [name, kind, inject] = FAULTS[i++ % FAULTS.length] as [
          string,
          string,
          () => Promise<void>,
        ];
        log(`fault: ${name}`);
        await during(kind, true, inject);
        fault(name);
        await sleep(Math.max(2000, (SECONDS * 1000) / 20));
      }
    };

    const loadStarted = Date.now();
    const work = Promise.all([
      ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
      edits(),
      faults(),
    ]);
    const progress = setInterval(
      () =>
        log(
          `${stats.recordsStored} records stored, ${flows.map((f) => `${f.name} ${f.consumer.events.length}`).join(', ')} received`,
        ),
      10_000,
    );
    await sleep(SECONDS * 1000);
    running = false;
    await work;
    clearInterval(progress);
    const loadMs = Date.now() - loadStarted;
    // Both replicas up (a fault may have ended with one restarting), the gold
    // segment back to its first expression, the flow enabled.
    for (const r of replicas) {
      if (!r.child) startReplica(r, url, secrets);
      await must([r], 'GET', '/health', {}, undefined, [200]);
    }

    // Writes in doubt are repeated until stored: then the last state of
    // every profile is known.
    const doubtful = truth.filter((p) => p.doubtful);
    log(`load over; writing ${doubtful.length} profiles in doubt again`);
    for (let i = 0; i < doubtful.length; i += BATCH) {
      const slice = doubtful.slice(i, i + BATCH);
      for (let attempt = 0; slice.some((p) => p.doubtful); attempt++) {
        await write(
          slice.filter((p) => p.doubtful),
          replicas[attempt % 2] as Replica,
        );
        await sleep(100);
        if (attempt > 50) throw new Error('writes in doubt did not land');
      }
    }

    // ------------------------------------------------------------- verdict
    const member = (flow: SoakFlow, tier: string): boolean =>
      flow.segmentIds.some((id) =>
        id === goldId
          ? tier === 'gold' || (goldExpression !== GOLD && tier === 'platinum')
          : tier === 'silver',
      );
    const statusOf = (flow: SoakFlow, m: Received): string[] =>
      flow.segmentIds.map(
        (id) =>
          (
            (m.body.segmentMembership as Record<string, unknown> | undefined)
              ?.ups as Record<string, { status?: string }> | undefined
          )?.[id]?.status ?? 'none',
      );
    const pointsOf = (m: Received): number =>
      Number((m.body.loyalty as { points?: number } | undefined)?.points ?? -1);
    const verdict = (): {
      lost: number;
      outOfOrder: number;
      sameIdAgain: number;
      sameIdOtherContent: number;
      sameContentOtherId: number;
      messages: number;
      unique: number;
      lostExamples: string[];
      perFlow: Record<string, string>;
      duplicates: DuplicateRow[];
    } => {
      const attributed = new Map<string, DuplicateRow>();
      const attribute = (
        kind: DuplicateKind,
        flow: SoakFlow,
        first: Received,
        again: Received,
      ): void => {
        const row: DuplicateRow = {
          kind,
          flow: flow.name,
          triggers: `${first.trigger} → ${again.trigger}`,
          between: eventsBetween(timeline, first, again),
          count: 0,
          maxGapMs: 0,
        };
        const key = `${row.kind}|${row.flow}|${row.triggers}|${row.between}`;
        const r = attributed.get(key) ?? row;
        r.count++;
        r.maxGapMs = Math.max(r.maxGapMs, again.enqueuedMs - first.enqueuedMs);
        attributed.set(key, r);
      };
      let lost = 0;
      let outOfOrder = 0;
      let sameIdAgain = 0;
      let sameIdOtherContent = 0;
      let sameContentOtherId = 0;
      let messages = 0;
      let unique = 0;
      const lostExamples: string[] = [];
      const perFlow: Record<string, string> = {};
      for (const flow of flows) {
        const before = [sameIdAgain, sameIdOtherContent, sameContentOtherId];
        const byProfile = new Map<string, Received[]>();
        for (const e of flow.consumer.events) {
          const list = byProfile.get(e.profileId) ?? [];
          list.push(e);
          byProfile.set(e.profileId, list);
        }
        messages += flow.consumer.events.length;
        for (const p of truth) {
          if (!p.profileId) continue;
          const all = byProfile.get(p.profileId) ?? [];
          const firstById = new Map<string, Received>();
          const contents = new Map<string, Received>();
          const kept: Received[] = [];
          for (const m of all) {
            const earlier = firstById.get(m.messageId);
            if (earlier) {
              sameIdAgain++;
              const same = earlier.text === m.text;
              if (!same) sameIdOtherContent++;
              attribute(
                same ? 'same id, same body' : 'same id, other body',
                flow,
                earlier,
                m,
              );
              continue;
            }
            firstById.set(m.messageId, m);
            const other = contents.get(m.text);
            if (other !== undefined) {
              sameContentOtherId++;
              attribute('same body, other id', flow, other, m);
            }
            contents.set(m.text, m);
            kept.push(m);
          }
          unique += kept.length;
          for (let i = 1; i < kept.length; i++)
            if (
              pointsOf(kept[i] as Received) < pointsOf(kept[i - 1] as Received)
            )
              outOfOrder++;
          const last = kept[kept.length - 1];
          const isMember = member(flow, p.tier);
          const ok = isMember
            ? last !== undefined &&
              pointsOf(last) === p.seq &&
              statusOf(flow, last).some(
                (s) => s === 'realized' || s === 'existing',
              )
            : last === undefined ||
              statusOf(flow, last).every((s) => s === 'exited' || s === 'none');
          if (!ok) {
            lost++;
            if (lostExamples.length < 5)
              lostExamples.push(
                `${flow.name} ${p.email} tier ${p.tier} points ${p.seq}: last ${last ? `${pointsOf(last)} ${statusOf(flow, last).join('/')}` : 'none'}`,
              );
          }
        }
        perFlow[flow.name] =
          `${flow.consumer.events.length} messages; same messageId again ${sameIdAgain - (before[0] ?? 0)} (other content ${sameIdOtherContent - (before[1] ?? 0)}); same content, other messageId ${sameContentOtherId - (before[2] ?? 0)}`;
      }
      return {
        lost,
        outOfOrder,
        sameIdAgain,
        sameIdOtherContent,
        sameContentOtherId,
        messages,
        unique,
        lostExamples,
        perFlow,
        duplicates: [...attributed.values()].sort(
          (a, b) =>
            a.kind.localeCompare(b.kind) ||
            b.count - a.count ||
            a.flow.localeCompare(b.flow),
        ),
      };
    };
    const drainStarted = Date.now();
    let v = verdict();
    while (v.lost > 0 && Date.now() - drainStarted < DRAIN_MS) {
      await sleep(2000);
      v = verdict();
    }
    // Late duplicates (a step retried after its send landed) show up here too.
    await sleep(3000);
    v = verdict();
    const drainMs = Date.now() - drainStarted;

    const statuses = [...stats.statuses]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    const results = {
      seconds: SECONDS,
      profiles: PROFILES,
      loadMs,
      requests: stats.requests,
      requestsPerSecond: Math.round(stats.requests / (loadMs / 1000)),
      recordsStored: stats.recordsStored,
      recordsPerSecond: Math.round(stats.recordsStored / (loadMs / 1000)),
      unanswered: stats.unanswered,
      refused: stats.refused,
      slowestMs: stats.slowestMs,
      recordsInDoubt: stats.recordsInDoubt,
      unmappedWrites: stats.unmappedWrites,
      statuses,
      segmentEdits: stats.segmentEdits,
      flowEdits: stats.flowEdits,
      disableEnable: stats.disables,
      faults: Object.fromEntries(stats.faults),
      gracefulShutdownMs: stats.shutdownMs,
      drainMs,
      ...v,
    };
    const rows: [string, string][] = [
      ['load', `${SECONDS} s, ${PROFILES} profiles, 2 replicas, 3 flows`],
      [
        'ingest requests',
        `${stats.requests} (${results.requestsPerSecond}/s), statuses ${statuses}; slowest ${stats.slowestMs} ms; ${stats.unanswered} unanswered (replica died under them), ${stats.refused} refused (replica down)`,
      ],
      [
        'records stored',
        `${stats.recordsStored} (${results.recordsPerSecond}/s); ${stats.recordsInDoubt} in doubt, written again; ${stats.unmappedWrites} writes of an unmapped attribute only`,
      ],
      [
        'edits',
        `${stats.segmentEdits} segment, ${stats.flowEdits} flow mapping, ${stats.disables} disable/enable`,
      ],
      [
        'faults injected',
        [...stats.faults].map(([k, n]) => `${n}× ${k}`).join('; '),
      ],
      ['graceful shutdowns (ms)', stats.shutdownMs.join(', ') || '—'],
      ['messages received', `${v.messages} (${v.unique} distinct per profile)`],
      ['lost (last state missing)', `${v.lost}  (must be 0)`],
      ['out of per-profile order', String(v.outOfOrder)],
      [
        'duplicates: same messageId',
        `${v.sameIdAgain} (${v.sameIdOtherContent} with other content)`,
      ],
      [
        'duplicates: same content, other messageId',
        String(v.sameContentOtherId),
      ],
      ['drain after the load', `${drainMs} ms`],
      ...Object.entries(v.perFlow).map(([name, text]): [string, string] => [
        `  ${name}`,
        text,
      ]),
    ];
    process.stdout.write(
      `\n${rows.map((r) => `${r[0].padEnd(44)} ${r[1]}`).join('\n')}\n`,
    );
    process.stdout.write(
      `\nduplicates by cause (first message's trigger → the repeat's; what happened between them):\n${duplicateTable(v.duplicates)}\n`,
    );
    process.stdout.write(`replica logs: ${LOG_DIR}\n`);
    if (v.lostExamples.length)
      process.stdout.write(`lost, e.g.:\n  ${v.lostExamples.join('\n  ')}\n`);
    const out = resolve(import.meta.dirname, '../../bench/results');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'soak.json'),
      `${JSON.stringify(results, null, 2)}\n`,
    );
    if (v.lost > 0) process.exitCode = 1;
  } finally {
    for (const f of flows) await f.consumer.close().catch(() => undefined);
    for (const r of replicas) await stopReplica(r, 'SIGKILL');
    await emulator.stop();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The duplicates' breakdown as a plain-text table, largest first within each kind. */
function duplicateTable(rows: DuplicateRow[]): string {
  if (rows.length === 0) return '  none';
  const head = ['kind', 'flow', 'triggers', 'between', 'count', 'max gap'];
  const cells = rows.map((r) => [
    r.kind,
    r.flow,
    r.triggers,
    r.between,
    String(r.count),
    `${(r.maxGapMs / 1000).toFixed(1)} s`,
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => (c[i] as string).length)),
  );
  return [head, ...cells]
    .map(
      (c) => `  ${c.map((x, i) => x.padEnd(widths[i] as number)).join('  ')}`,
    )
    .join('\n');
}

import { useState } from 'preact/hooks';
import {
  ApiError,
  call,
  FS,
  type ActionResult,
  type DeliveryRecord,
  type Flow,
  type FlowMetrics,
  type ListPage,
  type Run,
  type Session,
} from '../api';
import { HourChart, Sparkline } from '../charts';
import {
  attributesOf,
  flowPath,
  segmentIdsOf,
  segmentNames,
  targetsOf,
} from '../flow-parts';
import { formatCount, formatLag, formatTime } from '../format';
import { usePoll } from '../hooks';
import { LoadState, StateBadge, TableBox } from '../ui';
import { PreviewForm } from './preview';

const REFRESH_MS = 5_000;

export function FlowPage({
  session,
  flowId,
}: {
  session: Session;
  flowId: string;
}) {
  const flow = usePoll(
    async () => {
      const [page, names] = await Promise.all([
        call<ListPage<Flow>>(session, flowPath(flowId)),
        segmentNames(session).catch(() => new Map<string, string>()),
      ]);
      const f = page.items[0];
      if (!f) throw new ApiError(404, 'This flow does not exist (any more).');
      return { flow: f, names };
    },
    [session.token, flowId],
    REFRESH_MS,
  );
  const metrics = usePoll(
    () => call<FlowMetrics>(session, `${flowPath(flowId)}/metrics?minutes=60`),
    [session.token, flowId],
    REFRESH_MS,
  );

  return (
    <section>
      <p class="crumbs">
        <a href="#/flows">Flows</a> ›
      </p>
      <LoadState state={flow} what="the flow">
        {({ flow: f, names }) => (
          <>
            <h1 tabIndex={-1}>
              {f.name} <StateBadge state={f.state} />
            </h1>
            <dl class="facts">
              <dt>Targets</dt>
              <dd>{targetsOf(f).join(', ') || '—'}</dd>
              <dt>Segments</dt>
              <dd>
                {segmentIdsOf(f)
                  .map((id) => names.get(id) ?? id)
                  .join(', ') || '—'}
              </dd>
              <dt>Attributes</dt>
              <dd>{attributesOf(f).join(', ') || '—'}</dd>
              <dt>Flow id</dt>
              <dd>
                <code>{f.id}</code>
              </dd>
            </dl>
            <FlowActions session={session} flow={f} onDone={flow.reload} />
          </>
        )}
      </LoadState>
      <h2>Now</h2>
      <LoadState state={metrics} what="the flow's metrics">
        {(m) => (
          <div class="tiles">
            <div class="tile">
              <span class="tile-label">Lag</span>
              <span class="tile-value" data-metric="lag">
                {formatLag(m.lagSeconds)}
              </span>
            </div>
            <div class="tile">
              <span class="tile-label">Exports, last hour</span>
              <span class="tile-value" data-metric="exports">
                {formatCount(m.exports)}
              </span>
              <Sparkline
                points={m.points}
                label={`Exports per minute over the last hour: ${m.exports} in total`}
              />
            </div>
            <div class="tile">
              <span class="tile-label">Failed records, last hour</span>
              <span class="tile-value" data-metric="failures">
                {formatCount(m.failures)}
              </span>
            </div>
            <div class="tile">
              <span class="tile-label">Last successful step</span>
              <span class="tile-value small">
                {formatTime(m.lastSuccessAt)}
              </span>
            </div>
          </div>
        )}
      </LoadState>
      <Runs session={session} flowId={flowId} />
      <PreviewForm session={session} flowId={flowId} />
    </section>
  );
}

function FlowActions({
  session,
  flow,
  onDone,
}: {
  session: Session;
  flow: Flow;
  onDone: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const act = async (op: string, confirmText?: string): Promise<void> => {
    if (confirmText && !window.confirm(confirmText)) return;
    setBusy(true);
    setResult(undefined);
    try {
      const r = await call<ActionResult>(
        session,
        `${flowPath(flow.id)}/action?op=${op}`,
        {
          method: 'POST',
        },
      );
      setResult({
        ok: true,
        text:
          op === 'resync'
            ? `Resync started: run ${r.runId}. Its progress shows in the runs below.`
            : `Flow ${op}d.`,
      });
      onDone();
    } catch (e) {
      setResult({
        ok: false,
        text: e instanceof Error ? e.message : String(e),
      });
    } finally {
      setBusy(false);
    }
  };
  const enabled = flow.state === 'enabled';
  return (
    <div class="actions">
      <button
        type="button"
        disabled={busy}
        onClick={() => void act(enabled ? 'disable' : 'enable')}
      >
        {enabled ? 'Disable flow' : 'Enable flow'}
      </button>
      <button
        type="button"
        disabled={busy}
        onClick={() =>
          void act(
            'resync',
            'Resync sends every current member of the mapped segments again. Continue?',
          )
        }
      >
        Resync all members
      </button>
      {result && (
        <p
          class={`notice ${result.ok ? 'ok' : 'error'}`}
          role={result.ok ? 'status' : 'alert'}
        >
          {result.text}
        </p>
      )}
    </div>
  );
}

const HOUR_MS = 3_600_000;

/**
 * Exports and failures of the last 24 UTC hours (zero where no run), from
 * the runs: replay and resync runs add to their hour.
 */
function perHour(
  runs: Run[],
  now = Date.now(),
): { at: number; exports: number; failures: number }[] {
  const last = Math.floor(now / HOUR_MS) * HOUR_MS;
  const hours = new Map<
    number,
    { at: number; exports: number; failures: number }
  >();
  for (let at = last - 23 * HOUR_MS; at <= last; at += HOUR_MS)
    hours.set(at, { at, exports: 0, failures: 0 });
  for (const r of runs) {
    const start = r.metrics.durationSummary?.startedAtUTC ?? r.createdAt;
    const h = hours.get(Math.floor(start / HOUR_MS) * HOUR_MS);
    if (!h) continue;
    h.exports += r.metrics.recordSummary?.outputRecordCount ?? 0;
    h.failures += r.metrics.recordSummary?.failedRecordCount ?? 0;
  }
  return [...hours.values()];
}

function Runs({ session, flowId }: { session: Session; flowId: string }) {
  const runs = usePoll(
    () =>
      call<ListPage<Run>>(
        session,
        `${FS}/runs?property=${encodeURIComponent(`flowId==${flowId}`)}&orderby=-createdAt&limit=48`,
      ),
    [session.token, flowId],
    REFRESH_MS,
  );
  const [selected, setSelected] = useState<string>();
  return (
    <>
      <h2>Runs</h2>
      <LoadState
        state={runs}
        what="runs"
        empty={(p) =>
          p.items.length === 0 ? (
            <p>
              No runs yet: a run appears once the flow exports (enable it, and
              ingest a profile that belongs to a mapped segment).
            </p>
          ) : undefined
        }
      >
        {(page) => (
          <>
            <h3>Exports and failures per hour, last 24 hours</h3>
            <HourChart
              hours={perHour(page.items)}
              label={`Exports and failures per hour over the last 24 hours`}
            />
            <TableBox label="Runs">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Started</th>
                    <th scope="col">State</th>
                    <th scope="col">Input</th>
                    <th scope="col">Exported</th>
                    <th scope="col">Skipped</th>
                    <th scope="col">Failed</th>
                    <th scope="col">Records</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((r) => {
                    const s = r.metrics.recordSummary ?? {};
                    return (
                      <tr
                        key={r.id}
                        data-run-id={r.id}
                        class={selected === r.id ? 'selected' : ''}
                      >
                        <td>
                          {formatTime(
                            r.metrics.durationSummary?.startedAtUTC ??
                              r.createdAt,
                          )}
                        </td>
                        <td>
                          <StateBadge state={r.state} />
                        </td>
                        <td class="num">{formatCount(s.inputRecordCount)}</td>
                        <td class="num">{formatCount(s.outputRecordCount)}</td>
                        <td class="num">{formatCount(s.skippedRecordCount)}</td>
                        <td class="num">{formatCount(s.failedRecordCount)}</td>
                        <td>
                          <button
                            type="button"
                            class="small"
                            aria-pressed={selected === r.id}
                            onClick={() => setSelected(r.id)}
                          >
                            Failed & excluded
                          </button>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableBox>
          </>
        )}
      </LoadState>
      {selected && (
        <Records session={session} flowId={flowId} runId={selected} />
      )}
    </>
  );
}

function identityOf(r: DeliveryRecord): string {
  const [ns, ids] = Object.entries(r.identityMap ?? {})[0] ?? [];
  return ns && ids?.[0] ? `${ns}: ${ids[0].id}` : r.profileId;
}

function Records({
  session,
  flowId,
  runId,
}: {
  session: Session;
  flowId: string;
  runId: string;
}) {
  const [status, setStatus] = useState<'failed' | 'excluded'>('failed');
  const [open, setOpen] = useState<string>();
  const [replay, setReplay] = useState<{ ok: boolean; text: string }>();
  const [busy, setBusy] = useState(false);
  const records = usePoll(
    () =>
      call<ListPage<DeliveryRecord>>(
        session,
        `${FS}/runs/${encodeURIComponent(runId)}/records?status=${status}&limit=50`,
      ),
    [session.token, runId, status],
    REFRESH_MS,
  );
  const doReplay = async (): Promise<void> => {
    setBusy(true);
    setReplay(undefined);
    try {
      const r = await call<ActionResult>(
        session,
        `${flowPath(flowId)}/action?op=replay&runId=${encodeURIComponent(runId)}`,
        { method: 'POST' },
      );
      setReplay({
        ok: true,
        text: `Replay started: run ${r.runId}. It shows in the runs above.`,
      });
    } catch (e) {
      setReplay({
        ok: false,
        text: e instanceof Error ? e.message : String(e),
      });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="records" aria-labelledby="records-heading">
      <h3 id="records-heading">Records of run {runId.slice(0, 8)}…</h3>
      <div class="row">
        <label>
          Show
          <select
            value={status}
            onChange={(e) =>
              setStatus(
                (e.currentTarget as HTMLSelectElement).value as
                  'failed' | 'excluded',
              )
            }
          >
            <option value="failed">failed records</option>
            <option value="excluded">excluded records</option>
          </select>
        </label>
        <button type="button" disabled={busy} onClick={() => void doReplay()}>
          Replay this run's failed records
        </button>
      </div>
      {replay && (
        <p
          class={`notice ${replay.ok ? 'ok' : 'error'}`}
          role={replay.ok ? 'status' : 'alert'}
        >
          {replay.text}
        </p>
      )}
      <LoadState
        state={records}
        what={`${status} records`}
        empty={(p) =>
          p.items.length === 0 ? (
            <p>
              No {status} records in this run: every selected profile was
              delivered.
            </p>
          ) : undefined
        }
      >
        {(page) => (
          <TableBox label={`${status} records`}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Profile</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">When</th>
                  <th scope="col">Replayed</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((r) => (
                  <>
                    <tr key={r.id} data-record-id={r.id}>
                      <th scope="row">
                        <button
                          type="button"
                          class="link"
                          aria-expanded={open === r.id}
                          onClick={() =>
                            setOpen(open === r.id ? undefined : r.id)
                          }
                        >
                          {identityOf(r)}
                        </button>
                      </th>
                      <td>
                        <code>{r.reasonCode}</code>
                      </td>
                      <td>{r.trigger}</td>
                      <td>{formatTime(r.createdAt)}</td>
                      <td>{r.replayedAt ? formatTime(r.replayedAt) : 'no'}</td>
                    </tr>
                    {open === r.id && (
                      <tr class="detail">
                        <td colSpan={5}>
                          <p class="reason">{r.message}</p>
                          <pre>{JSON.stringify(r, null, 2)}</pre>
                        </td>
                      </tr>
                    )}
                  </>
                ))}
              </tbody>
            </table>
          </TableBox>
        )}
      </LoadState>
    </section>
  );
}

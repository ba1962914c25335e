import { useState } from 'preact/hooks';
import {
  call,
  FS,
  type Flow,
  type FlowMetrics,
  type ListPage,
  type Session,
} from '../api';
import { Sparkline } from '../charts';
import { flowPath, segmentIdsOf, segmentNames, targetsOf } from '../flow-parts';
import { formatCount, formatLag } from '../format';
import { usePoll } from '../hooks';
import { LoadState, StateBadge, TableBox } from '../ui';

const REFRESH_MS = 5_000;

interface FlowRow {
  flow: Flow;
  metrics?: FlowMetrics;
  metricsError?: string;
}

async function loadFlows(
  session: Session,
  pages: number,
): Promise<{ rows: FlowRow[]; more: boolean; names: Map<string, string> }> {
  let href: string | undefined = `${FS}/flows?limit=50&orderby=name`;
  const flows: Flow[] = [];
  let more = false;
  for (let i = 0; i < pages && href; i++) {
    const page: ListPage<Flow> = await call<ListPage<Flow>>(session, href);
    flows.push(...page.items);
    href = page._links?.next?.href;
    more = href !== undefined;
  }
  const [names, metrics] = await Promise.all([
    segmentNames(session).catch(() => new Map<string, string>()),
    Promise.all(
      flows.map((f) =>
        call<FlowMetrics>(session, `${flowPath(f.id)}/metrics?minutes=60`).then(
          (m) => ({ flow: f, metrics: m }),
          (e: unknown) => ({
            flow: f,
            metricsError: e instanceof Error ? e.message : String(e),
          }),
        ),
      ),
    ),
  ]);
  return { rows: metrics, more, names };
}

export function FlowsPage({ session }: { session: Session }) {
  const [pages, setPages] = useState(1);
  const state = usePoll(
    () => loadFlows(session, pages),
    [session.token, pages],
    REFRESH_MS,
  );
  return (
    <section>
      <h1 tabIndex={-1}>Flows</h1>
      <p class="lead">
        Every flow of this sandbox, refreshed every {REFRESH_MS / 1000} s. Lag
        is the age of the oldest profile change a flow has not exported yet.
      </p>
      <LoadState
        state={state}
        what="flows"
        empty={(d) =>
          d.rows.length === 0 ? (
            <p>
              No flows in this sandbox yet. Create one with the API (the
              README's walkthrough, or{' '}
              <code>npm run cli -- apply examples/provision.json</code>), then
              come back.
            </p>
          ) : undefined
        }
      >
        {({ rows, more, names }) => (
          <>
            <TableBox label="Flows">
              <table class="flows">
                <thead>
                  <tr>
                    <th scope="col">Flow</th>
                    <th scope="col">State</th>
                    <th scope="col">Targets</th>
                    <th scope="col">Segments</th>
                    <th scope="col">Lag</th>
                    <th scope="col">Exports, last hour</th>
                    <th scope="col">Last run</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map(({ flow, metrics, metricsError }) => (
                    <tr key={flow.id} data-flow-id={flow.id}>
                      <th scope="row">
                        <a href={`#/flows/${flow.id}`}>{flow.name}</a>
                      </th>
                      <td>
                        <StateBadge state={flow.state} />
                      </td>
                      <td>{targetsOf(flow).join(', ') || '—'}</td>
                      <td>
                        {segmentIdsOf(flow)
                          .map((id) => names.get(id) ?? id)
                          .join(', ') || '—'}
                      </td>
                      <td class="num" data-metric="lag">
                        {metrics
                          ? formatLag(metrics.lagSeconds)
                          : metricsError
                            ? 'unavailable'
                            : '…'}
                      </td>
                      <td class="spark-cell">
                        {metrics ? (
                          <div class="spark">
                            <span class="num" data-metric="exports">
                              {formatCount(metrics.exports)}
                            </span>
                            <Sparkline
                              points={metrics.points}
                              label={`Exports per minute over the last hour: ${metrics.exports} in total, ${metrics.points.at(-1)?.exports ?? 0} this minute`}
                            />
                          </div>
                        ) : (
                          (metricsError ?? '…')
                        )}
                      </td>
                      <td>
                        {flow.lastRunDetails ? (
                          <StateBadge state={flow.lastRunDetails.state} />
                        ) : (
                          'no run yet'
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
            {more && (
              <button type="button" onClick={() => setPages((p) => p + 1)}>
                Show more flows
              </button>
            )}
          </>
        )}
      </LoadState>
    </section>
  );
}

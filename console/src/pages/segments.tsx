import {
  call,
  type SegmentJob,
  type SegmentMetrics,
  type SegmentPage,
  type Session,
} from '../api';
import { formatCount, formatTime } from '../format';
import { type Loaded, usePoll } from '../hooks';
import { LoadState, StateBadge, TableBox } from '../ui';

const REFRESH_MS = 5_000;

function JobProgress({ job }: { job: SegmentJob | undefined }) {
  if (!job) return <>—</>;
  const total = Math.max(job.totalProfiles, job.processedProfiles);
  const done = job.status === 'succeeded';
  return (
    <div class="job">
      <StateBadge state={job.status} />
      <progress
        max={total || 1}
        value={done ? total || 1 : job.processedProfiles}
        aria-label={`Evaluation: ${job.processedProfiles} of ${total} profiles`}
      />
      <span class="hint">
        {formatCount(job.processedProfiles)} / {formatCount(total)} profiles
      </span>
      {job.error && <span class="error-text">{job.error}</span>}
    </div>
  );
}

/** One definition's members: the total, then by status (from the page's one metrics call). */
function Members({
  id,
  metrics,
}: {
  id: string;
  metrics: Loaded<SegmentMetrics | undefined>;
}) {
  const { data, error } = metrics;
  if (!data) {
    if (error)
      return <span class="error-text">Could not count: {error.message}</span>;
    return <span class="hint">Counting…</span>;
  }
  const by = data.segmentedProfileByStatusCounter[id];
  const total = data.segmentedProfileCounter[id];
  if (data.status === 'unavailable' || !by || total === undefined)
    return (
      <span class="hint">
        Not counted: the sandbox is too large to count in time. Try again later.
      </span>
    );
  return (
    <div class="members">
      <span class="num" data-metric="members">
        {formatCount(total)}
      </span>
      <span class="hint" data-metric="members-by-status">
        {formatCount(by.realized)} realized · {formatCount(by.existing)}{' '}
        existing · {formatCount(by.exited)} exited
      </span>
    </div>
  );
}

/** When the counts were taken, and whether the latest count ran out of time. */
function CountedAt({ metrics }: { metrics: SegmentMetrics | undefined }) {
  if (!metrics || metrics.status === 'unavailable') return null;
  return (
    <p class="hint" data-metric="counted-at">
      Members counted {formatTime(metrics.countedAt)} over{' '}
      {formatCount(metrics.totalProfiles ?? 0)}{' '}
      {metrics.totalProfiles === 1 ? 'profile' : 'profiles'}
      {metrics.status === 'stale'
        ? ' (the latest count took too long; these are the previous counts)'
        : ''}
      .
    </p>
  );
}

export function SegmentsPage({ session }: { session: Session }) {
  const state = usePoll(
    () =>
      call<SegmentPage>(
        session,
        '/data/core/ups/segment/definitions?limit=100&sort=name:asc',
      ),
    [session.token],
    REFRESH_MS,
  );
  // One call counts the whole page; the server shares and reuses counts.
  const ids = (state.data?.segments ?? []).map((s) => s.id).join(',');
  const metrics = usePoll<SegmentMetrics | undefined>(
    () =>
      ids
        ? call<SegmentMetrics>(
            session,
            `/data/core/ups/segment/metrics?ids=${ids}`,
          )
        : Promise.resolve(undefined),
    [session.token, ids],
    REFRESH_MS,
  );
  return (
    <section>
      <h1 tabIndex={-1}>Segments</h1>
      <p class="lead">
        Segment definitions of this sandbox with their members and latest
        evaluation job. A new or edited definition is evaluated over every
        profile in the background; ingestion keeps memberships current.
      </p>
      <LoadState
        state={state}
        what="segments"
        empty={(p) =>
          p.segments.length === 0 ? (
            <p>
              No segments yet. Create one with{' '}
              <code>POST /data/core/ups/segment/definitions</code> (a PQL
              expression such as <code>loyalty.tier = "gold"</code>), then map
              it in a flow.
            </p>
          ) : undefined
        }
      >
        {(page) => (
          <>
            <CountedAt metrics={metrics.data} />
            <TableBox label="Segments">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Segment</th>
                    <th scope="col">Expression</th>
                    <th scope="col">Members</th>
                    <th scope="col">Evaluation</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {page.segments.map((s) => (
                    <tr key={s.id} data-segment-id={s.id}>
                      <th scope="row">{s.name}</th>
                      <td>
                        <code>{s.expression.value}</code>
                      </td>
                      <td>
                        <Members id={s.id} metrics={metrics} />
                      </td>
                      <td>
                        <JobProgress job={s.evaluationJob} />
                        {s.evaluationJob && (
                          <span class="hint">
                            Last job:{' '}
                            {formatCount(s.evaluationJob.enteredProfiles)}{' '}
                            entered,{' '}
                            {formatCount(s.evaluationJob.exitedProfiles)} exited
                          </span>
                        )}
                      </td>
                      <td>{formatTime(s.updateTime)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          </>
        )}
      </LoadState>
    </section>
  );
}

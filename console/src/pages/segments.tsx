import { call, type SegmentJob, type SegmentPage, type Session } from '../api';
import { formatCount, formatTime } from '../format';
import { usePoll } from '../hooks';
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
  return (
    <section>
      <h1 tabIndex={-1}>Segments</h1>
      <p class="lead">
        Segment definitions of this sandbox with their latest evaluation job. A
        new or edited definition is evaluated over every profile in the
        background.
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
          <TableBox label="Segments">
            <table>
              <thead>
                <tr>
                  <th scope="col">Segment</th>
                  <th scope="col">Expression</th>
                  <th scope="col">Members entered / exited (last job)</th>
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
                    <td class="num">
                      {s.evaluationJob
                        ? `${formatCount(s.evaluationJob.enteredProfiles)} / ${formatCount(s.evaluationJob.exitedProfiles)}`
                        : '—'}
                    </td>
                    <td>
                      <JobProgress job={s.evaluationJob} />
                    </td>
                    <td>{formatTime(s.updateTime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
        )}
      </LoadState>
    </section>
  );
}

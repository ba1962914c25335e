import { useState } from 'preact/hooks';
import {
  call,
  FS,
  type Connection,
  type ListPage,
  type Session,
  type TestResult,
} from '../api';
import { usePoll } from '../hooks';
import { LoadState, StateBadge, TableBox } from '../ui';

/** Azure Event Hubs' connection spec (the profile store's base connection has nothing to test). */
const EVENT_HUBS_SPEC = 'bf9f5905-92b7-48bf-bf20-455bc6b60a4e';

function TestButton({
  session,
  connection,
}: {
  session: Session;
  connection: Connection;
}) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const test = async (): Promise<void> => {
    setBusy(true);
    setResult(undefined);
    try {
      const r = await call<TestResult>(
        session,
        `${FS}/connections/${encodeURIComponent(connection.id)}/test`,
      );
      setResult(
        r.result
          ? {
              ok: true,
              text: 'Passed: every event hub of its target connections accepted the key.',
            }
          : {
              ok: false,
              text: `Failed: ${typeof r.reason === 'string' ? r.reason : JSON.stringify(r.reason)}`,
            },
      );
    } catch (e) {
      setResult({
        ok: false,
        text: e instanceof Error ? e.message : String(e),
      });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="test">
      <button
        type="button"
        disabled={busy}
        onClick={() => void test()}
        aria-label={`Test connection ${connection.name}`}
      >
        {busy ? 'Testing…' : 'Test'}
      </button>
      {result && (
        <span
          class={`test-result ${result.ok ? 'ok-text' : 'error-text'}`}
          role="status"
        >
          {result.text}
        </span>
      )}
    </div>
  );
}

export function ConnectionsPage({ session }: { session: Session }) {
  const state = usePoll(
    () =>
      call<ListPage<Connection>>(
        session,
        `${FS}/connections?limit=100&orderby=name`,
      ),
    [session.token],
  );
  return (
    <section>
      <h1 tabIndex={-1}>Connections</h1>
      <p class="lead">
        Event Hubs namespaces (base connections). Test makes a real
        SAS-authenticated call to each event hub of the connection's target
        connections.
      </p>
      <LoadState
        state={state}
        what="connections"
        empty={(p) =>
          p.items.filter((c) => c.connectionSpec.id === EVENT_HUBS_SPEC)
            .length === 0 ? (
            <p>
              No Event Hubs connections yet. Create one with{' '}
              <code>POST {FS}/connections</code> (namespace, SAS key name and
              key), or with <code>npm run cli -- apply</code>.
            </p>
          ) : undefined
        }
      >
        {(page) => (
          <TableBox label="Connections">
            <table>
              <thead>
                <tr>
                  <th scope="col">Connection</th>
                  <th scope="col">Namespace</th>
                  <th scope="col">State</th>
                  <th scope="col">Test</th>
                </tr>
              </thead>
              <tbody>
                {page.items
                  .filter((c) => c.connectionSpec.id === EVENT_HUBS_SPEC)
                  .map((c) => (
                    <tr key={c.id} data-connection-id={c.id}>
                      <th scope="row">{c.name}</th>
                      <td>
                        <code>
                          {typeof c.auth?.params?.namespace === 'string'
                            ? c.auth.params.namespace
                            : '—'}
                        </code>
                      </td>
                      <td>
                        <StateBadge state={c.state} />
                      </td>
                      <td>
                        <TestButton session={session} connection={c} />
                      </td>
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

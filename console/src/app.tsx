import { useEffect, useState } from 'preact/hooks';
import { loadSession, onUnauthorized, saveSession, type Session } from './api';
import { ConnectionsPage } from './pages/connections';
import { FlowPage } from './pages/flow';
import { FlowsPage } from './pages/flows';
import { SegmentsPage } from './pages/segments';
import { SignIn } from './pages/sign-in';

/** Pages are addressed by the URL fragment (#/flows/<id>), so the server serves one file. */
function useRoute(): string[] {
  const read = (): string[] =>
    window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = (): void => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV = [
  ['flows', 'Flows'],
  ['segments', 'Segments'],
  ['connections', 'Connections'],
] as const;

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [expired, setExpired] = useState(false);
  const route = useRoute();

  useEffect(
    () =>
      onUnauthorized(() => {
        saveSession(null);
        setSession(null);
        setExpired(true);
      }),
    [],
  );

  // Focus the page heading on navigation, so keyboard and screen reader users land on the new page.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route.join('/')]);

  if (!session)
    return (
      <SignIn
        notice={expired ? 'Your session ended. Sign in again.' : undefined}
        onSignedIn={(s) => {
          saveSession(s);
          setExpired(false);
          setSession(s);
        }}
      />
    );

  const [page = 'flows', id] = route;
  let content;
  if (page === 'flows' && id)
    content = <FlowPage session={session} flowId={id} />;
  else if (page === 'segments') content = <SegmentsPage session={session} />;
  else if (page === 'connections')
    content = <ConnectionsPage session={session} />;
  else content = <FlowsPage session={session} />;

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">flowservice-eventhubs</span>
        <nav aria-label="Pages">
          {NAV.map(([path, label]) => (
            <a
              key={path}
              href={`#/${path}`}
              aria-current={page === path ? 'page' : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        <span class="who" title={session.clientId}>
          {session.orgId} · {session.sandbox}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            saveSession(null);
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">{content}</main>
    </>
  );
}

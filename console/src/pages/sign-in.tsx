import { useState } from 'preact/hooks';
import { signIn, type Session } from '../api';
import { fieldText } from '../format';

export function SignIn({
  notice,
  onSignedIn,
}: {
  notice?: string;
  onSignedIn: (s: Session) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const value = (name: string): string => fieldText(form, name);
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(
        await signIn(
          value('clientId'),
          value('clientSecret'),
          value('orgId'),
          value('sandbox'),
        ),
      );
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1 tabIndex={-1}>Sign in</h1>
      <p>
        Use an API client's id and secret (
        <code>npm run cli -- clients create</code>, or the development client
        printed when the service starts). The token is kept in this tab only.
      </p>
      {notice && <p class="notice">{notice}</p>}
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Client id
          <input name="clientId" required autoComplete="username" />
        </label>
        <label>
          Client secret
          <input
            name="clientSecret"
            type="password"
            required
            autoComplete="current-password"
          />
        </label>
        <label>
          Org id <span class="hint">(empty: the client's own org)</span>
          <input name="orgId" placeholder="…@AdobeOrg" />
        </label>
        <label>
          Sandbox
          <input name="sandbox" defaultValue="prod" required />
        </label>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

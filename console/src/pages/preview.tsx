import { useState } from 'preact/hooks';
import { call, type Preview, type Session } from '../api';
import { flowPath } from '../flow-parts';
import { fieldText, prettyJson } from '../format';

/** Identity → what the flow would send for that profile now, per target (nothing is sent). */
export function PreviewForm({
  session,
  flowId,
}: {
  session: Session;
  flowId: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [preview, setPreview] = useState<Preview>();

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams({
      entityId: fieldText(form, 'entityId'),
      entityIdNS: fieldText(form, 'entityIdNS'),
    });
    setBusy(true);
    setError(undefined);
    try {
      setPreview(
        await call<Preview>(session, `${flowPath(flowId)}/preview?${q}`),
      );
    } catch (err) {
      setPreview(undefined);
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="preview" aria-labelledby="preview-heading">
      <h2 id="preview-heading">Preview a profile's message</h2>
      <p class="lead">
        Shows what this flow would send for one profile now. Nothing is sent or
        changed.
      </p>
      <form class="row" onSubmit={(e) => void submit(e)}>
        <label>
          Identity namespace
          <input name="entityIdNS" required placeholder="email" />
        </label>
        <label>
          Identity
          <input name="entityId" required placeholder="john@example.com" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Loading…' : 'Preview'}
        </button>
      </form>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {preview && (
        <div aria-live="polite">
          <p>
            Profile <code>{preview.profileId}</code>
          </p>
          {preview.targets.map((t) => (
            <article
              class="target"
              key={t.targetConnectionId}
              data-target-id={t.targetConnectionId}
            >
              <h3>
                {t.eventHubName}:{' '}
                <span class={`badge badge-${t.outcome}`}>{t.outcome}</span>
                {t.trigger && <span class="hint"> trigger {t.trigger}</span>}
              </h3>
              {t.reason && (
                <p>
                  <code>{t.reason.code}</code> {t.reason.message}
                </p>
              )}
              {t.message && (
                <>
                  <dl class="facts">
                    <dt>messageId</dt>
                    <dd>
                      <code>{t.message.messageId}</code> (
                      {t.message.messageIdScheme})
                    </dd>
                    <dt>Partition</dt>
                    <dd>
                      {t.message.partitionId} (key{' '}
                      <code>{t.message.partitionKey}</code>)
                    </dd>
                    <dt>Properties</dt>
                    <dd>
                      <code>
                        {JSON.stringify(t.message.applicationProperties)}
                      </code>
                    </dd>
                  </dl>
                  <pre
                    class="message-body"
                    tabIndex={0}
                    aria-label="Message body"
                  >
                    {prettyJson(t.message.body)}
                  </pre>
                </>
              )}
            </article>
          ))}
        </div>
      )}
    </section>
  );
}

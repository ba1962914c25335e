import type { ComponentChildren } from 'preact';
import type { Loaded } from './hooks';

/**
 * Loading, error and empty states of a loaded section, each saying what to
 * do next; the content only once there is data. Errors after a first load
 * keep the data on screen with the error above it.
 */
export function LoadState<T>({
  state,
  what,
  empty,
  children,
}: {
  state: Loaded<T>;
  what: string;
  /** Shown when the data is there but has nothing to show. */
  empty?: (data: T) => ComponentChildren | undefined;
  children: (data: T) => ComponentChildren;
}) {
  const { data, error, loading, reload } = state;
  const errorBox = error ? (
    <div class="notice error" role="alert">
      <p>
        Could not load {what}: {error.message}
      </p>
      <button type="button" onClick={reload}>
        Try again
      </button>
    </div>
  ) : null;
  if (data === undefined) {
    if (errorBox) return errorBox;
    if (loading)
      return (
        <p class="notice" role="status" aria-live="polite">
          Loading {what}…
        </p>
      );
    return null;
  }
  const none = empty?.(data);
  return (
    <>
      {errorBox}
      {none ? <div class="notice empty">{none}</div> : children(data)}
    </>
  );
}

export function StateBadge({ state }: { state: string | undefined }) {
  const s = state ?? 'unknown';
  return <span class={`badge badge-${s.toLowerCase()}`}>{s}</span>;
}

/** Tables scroll sideways inside this box on narrow screens instead of squeezing. */
export function TableBox({
  children,
  label,
}: {
  children: ComponentChildren;
  label: string;
}) {
  return (
    <div class="table-box" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

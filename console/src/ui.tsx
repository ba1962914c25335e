import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
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

/**
 * A table that scrolls sideways when it must, and on narrow screens (CSS,
 * max-width 600px) shows each row as a card: every cell gets its column's
 * heading as `data-label`, which the card layout prints before the value.
 */
export function TableBox({
  children,
  label,
}: {
  children: ComponentChildren;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const table = box.current?.querySelector('table');
    if (!table) return;
    const headings = [...table.querySelectorAll('thead th')].map(
      (th) => th.textContent ?? '',
    );
    for (const row of table.querySelectorAll('tbody tr')) {
      [...row.children].forEach((cell, i) => {
        if ((cell as HTMLTableCellElement).colSpan === 1 && headings[i])
          cell.setAttribute('data-label', headings[i]);
      });
    }
  });
  return (
    <div
      class="table-box"
      role="region"
      aria-label={label}
      tabIndex={0}
      ref={box}
    >
      {children}
    </div>
  );
}

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now and again every `everyMs` (0: once) while the page is
 * shown, keeping the last good data on screen while a refresh runs, so live
 * numbers move without a reload and without flicker.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  deps: unknown[],
  everyMs = 0,
): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setData(undefined);
    setError(undefined);
    setLoading(true);
  }, deps);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (): void => {
      loadRef
        .current()
        .then((d) => {
          if (!alive) return;
          setData(d);
          setError(undefined);
        })
        .catch((e: unknown) => {
          if (alive) setError(e instanceof Error ? e : new Error(String(e)));
        })
        .finally(() => {
          if (!alive) return;
          setLoading(false);
          if (everyMs > 0) timer = setTimeout(run, everyMs);
        });
    };
    run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);

  return { data, error, loading, reload };
}

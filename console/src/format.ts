export function formatLag(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'not started';
  if (seconds < 1) return 'caught up';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: 'short',
    timeStyle: 'medium',
  });
}

export function formatCount(n: number | undefined): string {
  return (n ?? 0).toLocaleString();
}

/** The body the runner publishes, indented for reading (as sent when it is not JSON). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A text field of a submitted form, trimmed ('' when absent). */
export function fieldText(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v.trim() : '';
}

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface ChartProps {
  /** x values in epoch seconds, then one array per series. */
  data: uPlot.AlignedData;
  options: Omit<uPlot.Options, 'width' | 'height'>;
  height: number;
  /** What the chart shows, for screen readers (the canvas itself says nothing). */
  label: string;
}

/** A uPlot chart that follows its container's width and takes new data without being rebuilt. */
function Chart({ data, options, height, label }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(80, el.clientWidth);
    plot.current = new uPlot({ ...options, width, height }, data, el);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(80, el.clientWidth), height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div class="chart" ref={box} role="img" aria-label={label} />;
}

const SPARK_OPTIONS: Omit<uPlot.Options, 'width' | 'height'> = {
  legend: { show: false },
  cursor: { show: false },
  select: { show: false, left: 0, top: 0, width: 0, height: 0 },
  axes: [{ show: false }, { show: false }],
  scales: {
    x: { time: true },
    y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
  },
  series: [
    {},
    {
      stroke: '#2563eb',
      fill: 'rgba(37,99,235,0.15)',
      width: 1.5,
      points: { show: false },
    },
  ],
};

/** Exports per minute as a small line; `label` states the numbers in words. */
export function Sparkline({
  points,
  label,
}: {
  points: { at: number; exports: number }[];
  label: string;
}) {
  const data: uPlot.AlignedData = [
    points.map((p) => p.at / 1000),
    points.map((p) => p.exports),
  ];
  return (
    <Chart data={data} options={SPARK_OPTIONS} height={36} label={label} />
  );
}

const bars = uPlot.paths.bars?.({ size: [0.6, 40] });

const HOUR_OPTIONS: Omit<uPlot.Options, 'width' | 'height'> = {
  scales: {
    x: { time: true },
    y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
  },
  axes: [{}, { size: 60 }],
  series: [
    {},
    {
      label: 'Exports',
      stroke: '#2563eb',
      fill: 'rgba(37,99,235,0.35)',
      paths: bars,
      points: { show: false },
    },
    {
      label: 'Failures',
      stroke: '#dc2626',
      fill: 'rgba(220,38,38,0.5)',
      paths: bars,
      points: { show: false },
    },
  ],
};

/** Exports and failures per hour (one bar pair per run hour). */
export function HourChart({
  hours,
  label,
}: {
  hours: { at: number; exports: number; failures: number }[];
  label: string;
}) {
  const data: uPlot.AlignedData = [
    hours.map((h) => h.at / 1000),
    hours.map((h) => h.exports),
    hours.map((h) => h.failures),
  ];
  return (
    <Chart data={data} options={HOUR_OPTIONS} height={200} label={label} />
  );
}
